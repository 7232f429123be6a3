"""What the command prints: whole ids and slugs in a narrow terminal, plain lines in a pipe,
progress on stderr, and no ANSI code at all under ``NO_COLOR`` (the installed command, run in
a pipe and in a pseudo-terminal against the emulator)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from typing import Any

import pytest

from tests.cli.conftest import SKYTELLS, Runner, base_env, run_in_terminal

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SLUGS = ["truefusion-ultra", "truefusion-pro", "beatfusion-2.0", "skytells-chat", "FLUX.2-pro"]


def _create(skytells: Runner, model: str = "truefusion-ultra") -> str:
    done = skytells("run", model, "-i", "prompt=a fox", "--json")
    assert done.code == 0, done.err
    prediction_id: str = json.loads(done.out)["id"]
    return prediction_id


def test_lists_in_a_pipe_are_one_record_a_line_tab_separated(skytells: Runner) -> None:
    ids = {_create(skytells), _create(skytells, "beatfusion-2.0")}
    done = skytells("predictions", "list")
    assert done.code == 0, done.err
    rows = [line.split("\t") for line in done.out.splitlines()]
    assert {row[0] for row in rows} == ids and all(UUID.match(row[0]) for row in rows)
    assert {row[1] for row in rows} == {"truefusion-ultra", "beatfusion-2.0"}
    assert all(len(row) == 4 and row[2] == "succeeded" for row in rows)
    assert "page 1 of 1" in done.err and "page" not in done.out  # the footer is not a record
    models = skytells("models", "list")
    slugs = [line.split("\t")[0] for line in models.out.splitlines()]
    assert set(SLUGS) <= set(slugs) and "\x1b" not in models.out + done.out


@pytest.mark.parametrize("columns", [80, 40])
def test_a_narrow_terminal_never_cuts_an_id_or_a_slug(skytells: Runner, columns: int) -> None:
    ids = [_create(skytells), _create(skytells, "beatfusion-2.0")]
    listing = skytells("predictions", "list", terminal=True, columns=columns)
    assert listing.code == 0, listing.out
    for prediction_id in ids:
        assert prediction_id in listing.out
    assert "…" not in listing.out and "..." not in listing.out
    models = skytells("models", "list", terminal=True, columns=columns)
    assert models.code == 0, models.out
    for slug in SLUGS:
        assert re.search(rf"(^|\s){re.escape(slug)}(\s|$)", models.out, re.M), (slug, models.out)
    assert "…" not in models.out
    if columns == 80:  # a table, with its header, fits
        assert re.search(r"^\s*id\s+model\s+status", listing.out, re.M), listing.out


def test_a_terminal_gets_a_table_with_a_header_and_the_pipe_none(skytells: Runner) -> None:
    terminal = skytells("models", "list", terminal=True, columns=120)
    assert re.search(r"^\s*model\s+name\s+type\s+price", terminal.out, re.M), terminal.out
    piped = skytells("models", "list")
    assert not piped.out.startswith("model")


def test_no_color_means_no_ansi_code_at_all_in_a_terminal(skytells: Runner, emu: Any) -> None:
    emu.configure(time_scale=0.05)
    coloured = skytells("run", "flux-edge", "-i", "prompt=x", terminal=True, columns=100)
    assert coloured.code == 0, coloured.out
    assert "\x1b[" in coloured.raw  # without NO_COLOR: the live bar and styles
    plain = skytells("run", "flux-edge", "-i", "prompt=x", terminal=True, columns=100, NO_COLOR="1")
    assert plain.code == 0, plain.out
    assert "\x1b" not in plain.raw and "\r" not in plain.raw.replace("\r\n", "\n")
    assert "succeeded" in plain.out and "saved: " in plain.out
    listing = skytells("predictions", "list", terminal=True, NO_COLOR="1")
    assert "\x1b" not in listing.raw and "succeeded" in listing.out


def test_in_a_pipe_progress_goes_to_stderr_and_results_to_stdout(
    skytells: Runner, emu: Any, tmp_path: Any
) -> None:
    emu.configure(time_scale=0.05)
    done = skytells("run", "flux-edge", "-i", "prompt=x", "--output-dir", str(tmp_path))
    assert done.code == 0, done.err
    fields = dict(line.split(": ", 1) for line in done.out.splitlines())
    assert UUID.match(fields["id"]) and fields["status"] == "succeeded"
    assert fields["output"].startswith("http://127.0.0.1:")
    assert (tmp_path / fields["saved"].rsplit("/", 1)[-1]).is_file()
    assert f"flux-edge {fields['id']}: processing" in done.err  # the status lines
    assert "\x1b" not in done.out + done.err


def test_json_stays_for_scripts(skytells: Runner) -> None:
    prediction_id = _create(skytells)
    done = skytells("predictions", "get", prediction_id, "--json")
    assert done.code == 0 and json.loads(done.out)["id"] == prediction_id
    listing = skytells("predictions", "list", "--json")
    assert json.loads(listing.out)["data"][0]["id"] == prediction_id


def _closed_pipe(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``skytells ARGV`` whose stdout is a pipe whose reader has already gone (``| head``
    after its line, deterministically: the first write fails)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [SKYTELLS, *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


OUTPUTS = [
    ["predictions", "list"],
    ["predictions", "list", "--json"],
    ["models", "list"],
    ["completion", "bash"],
    ["run", "skytells-chat", "-i", "prompt=hi", "--stream"],
]


@pytest.mark.parametrize("argv", OUTPUTS)
def test_a_closed_pipe_ends_the_command_quietly(
    skytells: Runner, emu: Any, argv: list[str]
) -> None:
    _create(skytells)
    env = base_env(SKYTELLS_API_KEY=emu.api_key, SKYTELLS_BASE_URL=emu.base_url)
    done = _closed_pipe(argv, env)
    assert done.returncode == 141, done.stderr  # as a command killed by SIGPIPE
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert "error" not in done.stderr.lower()


@pytest.mark.parametrize("argv", OUTPUTS)
def test_a_full_disk_or_a_closed_stdout_is_one_line(
    skytells: Runner, emu: Any, argv: list[str]
) -> None:
    _create(skytells)
    env = base_env(SKYTELLS_API_KEY=emu.api_key, SKYTELLS_BASE_URL=emu.base_url)
    command = " ".join(shlex.quote(word) for word in [SKYTELLS, *argv])
    for redirect, says in (
        ("> /dev/full", "cannot write to standard output: No space left on device"),
        (">&-", "standard output is closed"),
    ):
        done = subprocess.run(
            ["sh", "-c", f"{command} {redirect}"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        errors = [line for line in done.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and errors[0].startswith(f"skytells: error: {says}"), done.stderr
        assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_wide_characters_are_measured_in_cells() -> None:
    from rich.cells import cell_len

    from tests.scripted_server import Reply, ScriptedServer

    model = {
        "namespace": "画" * 30,  # 30 characters, 60 cells
        "name": "n",
        "type": "image",
        "status": "operational",
        "pricing": {"amount": 1, "currency": "USD", "unit": "image"},
        "capabilities": ["text-to-image"],
    }
    with ScriptedServer().running() as server:
        server.script(Reply(200, [model]))
        env = base_env(SKYTELLS_API_KEY="sk-test-0000000000", SKYTELLS_BASE_URL=server.base_url)
        narrow = run_in_terminal(["models", "list"], env, columns=90)
        server.script(Reply(200, [model]))
        wide = run_in_terminal(["models", "list"], env, columns=140)
    # 90 cells hold the table's characters (76 with the other columns at their narrowest) but
    # not its cells (106): one block of lines per record, never columns squeezed unreadable
    assert narrow.code == 0, narrow.out
    assert f"model: {'画' * 30}" in narrow.out.splitlines()
    assert all(cell_len(line) <= 90 for line in narrow.out.splitlines()), narrow.out
    assert wide.code == 0 and "model: " not in wide.out, wide.out  # room for the table
    (row,) = [line for line in wide.out.splitlines() if "画" * 30 in line]
    assert "text-to-image" in row and cell_len(row) <= 140


def test_the_bar_never_cuts_the_id(skytells: Runner, emu: Any, tmp_path: Any) -> None:
    done = skytells(
        "run",
        "flux-edge",
        "-i",
        "prompt=x",
        "--output-dir",
        str(tmp_path),
        terminal=True,
        columns=40,
    )
    assert done.code == 0, done.out
    (prediction,) = emu.predictions()
    assert f"flux-edge {prediction['id']}" in done.out.splitlines()  # in full, above the bar
    assert "…" not in done.out
