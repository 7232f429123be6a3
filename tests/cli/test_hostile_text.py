"""Server text never reaches the terminal raw: the CLI against a hostile server, pipe and pty.

A scripted server answers with ids, statuses, messages, error ids, outputs, model names and
schemas full of terminal escape sequences (OSC title change, screen clear, 256-colour SGR, a C1
CSI, a carriage return, a right-to-left override) and rich-markup-like text (``[/x]``,
``[bold]``, ``:smile:``). The real ``skytells`` process prints to a pipe and to a
pseudo-terminal: none of those sequences reaches the output, the text is shown with the control
characters made visible (``\\x1b``), and markup-like text is printed as is, without a crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.pty_session import run_in_pty
from tests.scripted_server import Reply, ScriptedServer

EVIL = (
    "ok\x1b]0;PWNED\x07\x1b[2J\x1b[38;5;201mFAKE\x1b[0m\r\x9b1m"
    "[/x][bold]B[/bold]:smile:\u202eRLO\u200b."
)
SHOWN = [
    "ok\\x1b]0;PWNED\\x07\\x1b[2J\\x1b[38;5;201mFAKE\\x1b[0m\\r\\x9b1m",
    "[/x][bold]B[/bold]:smile:\\u202eRLO\\u200b.",
]
"""How `EVIL` must appear: every control character visible, the markup-like text as is."""
RAW = ["\x1b]", "\x07", "\x1b[2J", "\x1b[38;5;201m", "\x9b", "\u202e", "\u200b", "\U0001f604"]
"""What must never reach the output: an OSC, a bell, a clear, the fake colour, a C1 CSI, the
override, a zero-width space, and the emoji that ``:smile:`` would become."""

PREDICTION: dict[str, Any] = {
    "id": EVIL,
    "status": "failed",
    "error": EVIL,
    "model": {"name": EVIL, "type": "image"},
    "created_at": EVIL,
    "output": [EVIL, f"https://files.example/{EVIL}.png"],
    "metrics": {"predict_time": EVIL, "progress": 50},
    "metadata": {"billing": {"credits_used": EVIL}},
}
MODEL: dict[str, Any] = {
    "name": EVIL,
    "namespace": EVIL,
    "type": EVIL,
    "status": EVIL,
    "description": EVIL,
    "capabilities": [EVIL],
    "pricing": {"amount": EVIL, "currency": "USD", "unit": "image"},
    "input_schema": {
        "type": "object",
        "properties": {
            EVIL: {"type": "string", "enum": [EVIL], "default": EVIL, "description": EVIL},
            "prompt": {"type": "string"},
        },
        "required": [EVIL],
    },
}

SCENARIOS: dict[str, tuple[list[str], list[Reply], int]] = {
    "predictions get": (["predictions", "get", "p1"], [Reply(200, PREDICTION)], 0),
    "predictions list": (
        ["predictions", "list"],
        [Reply(200, {"data": [PREDICTION], "pagination": {"current_page": 1, "total": 1}})],
        0,
    ),
    "models list": (["models", "list"], [Reply(200, [MODEL])], 0),
    "models get --schema": (["models", "get", "m", "--schema"], [Reply(200, MODEL)], 0),
    "run (progress bar, failed)": (
        ["run", "m", "-i", "prompt=x"],
        [
            Reply(200, MODEL),
            Reply(200, {**PREDICTION, "status": EVIL}),  # created: an unknown status
            Reply(200, PREDICTION),  # then failed, with the hostile error
        ],
        3,
    ),
    "API error": (
        ["predictions", "get", "p1"],
        [Reply(400, {"error": {"message": EVIL, "error_id": EVIL, "details": {EVIL: EVIL}}})],
        1,
    ),
    "validation error": (
        ["predictions", "get", "p1"],
        [Reply(422, {"error": {"message": EVIL, "details": {"fields": {EVIL: EVIL}}}})],
        1,
    ),
}


@pytest.fixture(scope="module")
def hostile() -> Iterator[ScriptedServer]:
    with ScriptedServer().running() as server:
        yield server


def _env(server: ScriptedServer) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NO_COLOR", "FORCE_COLOR", "SKYTELLS_LOG", "TERM", "COLUMNS")
    }
    env.update(
        SKYTELLS_API_KEY="sk-test-key",
        SKYTELLS_BASE_URL=server.base_url,
        COLUMNS="1000",  # no wrapping: the checks look for whole strings
        TERM="xterm-256color",
        PYTHONUTF8="1",
    )
    return env


COMMAND = [sys.executable, "-c", "from skytells.cli import main; raise SystemExit(main())"]


def _run_in_pipe(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run([*COMMAND, *argv], env=env, capture_output=True, timeout=60, check=False)
    return done.returncode, (done.stdout + done.stderr).decode("utf-8", "replace")


def _run_in_pty(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    code, output = run_in_pty([*COMMAND, *argv], env, timeout=60)
    return code, output.decode("utf-8", "replace")


@pytest.mark.parametrize("terminal", ["pipe", "pty"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_server_text_is_printed_plain_and_visible(
    hostile: ScriptedServer, scenario: str, terminal: str
) -> None:
    argv, replies, expected_code = SCENARIOS[scenario]
    hostile.script(*replies)
    run = _run_in_pipe if terminal == "pipe" else _run_in_pty
    code, output = run(argv, _env(hostile))
    assert "Traceback" not in output and "MarkupError" not in output, output
    assert code == expected_code, output
    for raw in RAW:
        assert raw not in output, (raw, output)
    for shown in SHOWN:
        assert shown in output, (shown, output)
    if terminal == "pipe":
        assert "\x1b" not in output and "\r" not in output  # not even rich's own styles


@pytest.mark.parametrize("terminal", ["pipe", "pty"])
def test_json_output_escapes_control_characters(hostile: ScriptedServer, terminal: str) -> None:
    hostile.script(Reply(200, PREDICTION))
    run = _run_in_pipe if terminal == "pipe" else _run_in_pty
    code, output = run(["predictions", "get", "p1", "--json"], _env(hostile))
    assert code == 0, output
    for raw in RAW:
        assert raw not in output, (raw, output)
    if terminal == "pipe":
        assert json.loads(output)["error"] == EVIL  # still exactly the server's data


@pytest.mark.parametrize("terminal", ["pipe", "pty"])
def test_debug_tracebacks_and_logs_show_server_text_visible_too(
    hostile: ScriptedServer, terminal: str
) -> None:
    hostile.script(Reply(401, {"error": {"message": EVIL, "error_id": "UNAUTHORIZED"}}))
    run = _run_in_pipe if terminal == "pipe" else _run_in_pty
    code, output = run(["--debug", "predictions", "get", "p1"], _env(hostile))
    assert code == 1, output
    assert "Traceback" in output and "AuthenticationError" in output  # --debug still shows it
    for raw in RAW:
        assert raw not in output, (raw, output)
    for shown in SHOWN:
        assert shown in output, (shown, output)


SPLITTING = {
    "id": "p1",
    "status": "succeeded",
    "error": "one\nerror: forged\ttab",
    "output": ["https://files.example/x\r\n\tstatus: forged.png", "literal \\x1b and \\u202e"],
}


def test_plain_output_keeps_one_field_a_line(hostile: ScriptedServer) -> None:
    hostile.script(Reply(200, SPLITTING))
    code, output = _run_in_pipe(["predictions", "get", "p1"], _env(hostile))
    assert code == 0, output
    lines = output.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == [
        "id",
        "status",
        "error",
        "output",
        "output",
    ]
    assert "error: one\\nerror: forged\\ttab" in lines
    assert "output: https://files.example/x\\r\\n\\tstatus: forged.png" in lines
    # a server's backslash is escaped too: its text cannot pass for an escaped character
    assert "output: literal \\\\x1b and \\\\u202e" in lines


def test_debug_logs_of_any_library_hide_url_queries_and_keys(
    hostile: ScriptedServer, tmp_path: Any
) -> None:
    signed = f"{hostile.base_url.removesuffix('/v1')}/files/a.png?X-Amz-Signature=SECRETSIG&token=sk-abcdefghijkl"
    done = {"id": "p1", "status": "succeeded", "output": [signed]}
    hostile.script(
        Reply(200, {"namespace": "m", "input_schema": {"type": "object", "properties": {}}}),
        Reply(200, done),
        Reply(200, done),
        Reply(200, b"\x89PNG\r\n\x1a\n" + b"0" * 100, content_type="image/png"),
    )
    argv = ["--debug", "run", "m", "-i", "prompt=x", "--output-dir", str(tmp_path)]
    code, output = _run_in_pipe(argv, _env(hostile))
    assert code == 0, output
    logged = [line for line in output.splitlines() if line.startswith("DEBUG:urllib3")]
    assert any("/files/a.png?..." in line for line in logged), output  # urllib3's own line
    assert "SECRETSIG" not in "\n".join(logged) and "sk-abcdefghijkl" not in output.replace(
        f"output: {signed}", ""
    )
