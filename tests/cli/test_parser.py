"""Arguments: global options after the command, one-line usage errors with exit code 2 (dates,
pages, ports, model types), the emulator's own usage line, prices in plain decimals."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.cli.conftest import Runner, base_env, run_in_pipe


def _one_usage_line(done: Any, prog: str) -> str:
    assert done.code == 2, done.text
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error: "), done.err
    assert "Traceback" not in done.text
    return str(lines[0])


def test_global_options_after_the_command(skytells: Runner, emu: Any) -> None:
    wrong = skytells("models", "list", "--api-key", "sk-wrong")
    assert wrong.code == 1 and wrong.err.startswith("error: UNAUTHORIZED")
    right = skytells("models", "list", "--api-key", emu.api_key, SKYTELLS_API_KEY="sk-wrong")
    assert right.code == 0 and "truefusion" in right.out
    elsewhere = skytells(
        "models", "list", "--base-url", emu.base_url, SKYTELLS_BASE_URL="http://127.0.0.1:9/v1"
    )
    assert elsewhere.code == 0
    debug = skytells("models", "get", "nope", "--debug")
    assert debug.code == 1 and "Traceback (most recent call last)" in debug.err
    listed = skytells("predictions", "list", "--json", "--api-key", emu.api_key)
    assert listed.code == 0 and json.loads(listed.out)["data"] == []


def test_emulator_option_after_the_command_without_any_key() -> None:
    done = run_in_pipe(["run", "flux-edge", "-i", "prompt=x", "--json", "--emulator"], base_env())
    assert done.code == 0, done.err
    assert json.loads(done.out)["status"] == "succeeded"


@pytest.mark.parametrize(
    ("argv", "prog", "says"),
    [
        (["predictions", "list", "--since", "yesterday"], "skytells predictions list", "--since"),
        (["predictions", "list", "--until", "2026-13-01"], "skytells predictions list", "--until"),
        (["predictions", "list", "--page", "0"], "skytells predictions list", "--page"),
        (["models", "list", "--type", "bogus"], "skytells models list", "--type"),
        (["emulator", "--port", "70000"], "skytells emulator", "--port"),
        (["completion", "tcsh"], "skytells completion", "shell"),
    ],
)
def test_bad_arguments_are_one_line_usage_errors(
    skytells: Runner, argv: list[str], prog: str, says: str
) -> None:
    line = _one_usage_line(skytells(*argv), prog)
    assert says in line
    if "--since" in argv or "--until" in argv:
        assert "YYYY-MM-DD" in line and "from" not in line
    if "--page" in argv:
        assert "page numbers start at 1" in line
    if "--type" in argv:
        assert all(kind in line for kind in ("image", "video", "audio", "music", "text"))
    if "--port" in argv:
        assert "0-65535" in line


def test_emulator_help_names_skytells_emulator(skytells: Runner) -> None:
    for argv in (["emulator", "--help"], ["--debug", "emulator", "--help"]):
        done = skytells(*argv)
        assert done.code == 0 and done.out.startswith("usage: skytells emulator "), done.out


def test_prices_are_plain_decimals(skytells: Runner) -> None:
    done = skytells("models", "list")
    prices = {row.split("\t")[0]: row.split("\t")[3] for row in done.out.splitlines()}
    assert prices["skytells-chat"] == "0.000002 USD/token"
    assert prices["skytells-tts"] == "0.000015 USD/character"
    assert not re.search(r"\de-\d", done.out)
    one = skytells("models", "get", "skytells-chat")
    assert "price: 0.000002 USD/token" in one.out


DEAD = "http://127.0.0.1:9/v1"  # nothing listens: a request would be an error (1), not usage


@pytest.mark.parametrize(
    ("argv", "prog", "says"),
    [
        (["run", "truefusion", "-i", "prompt"], "skytells run", "is not key=value"),
        (["run", "truefusion", "-i", "=x"], "skytells run", "is not key=value"),
        (["run", "truefusion", "-i", "a=1", "-i", "a=2"], "skytells run", "given twice"),
        (["--base-url", "not a url", "models", "list"], "skytells", "--base-url: Invalid base"),
        (["--emulator", "--api-key", "sk-x", "models", "list"], "skytells", "drop --api-key"),
        (["--emulator", "models", "list", "--base-url", DEAD], "skytells", "drop --base-url"),
    ],
)
def test_usage_errors_are_said_before_any_request(
    argv: list[str], prog: str, says: str, private_state: Any
) -> None:
    done = run_in_pipe(
        argv, base_env(SKYTELLS_API_KEY="sk-test-0000000000", SKYTELLS_BASE_URL=DEAD)
    )
    line = _one_usage_line(done, prog)
    assert says in line and "--debug" not in line
    assert "note:" not in done.err  # no emulator was started either


def test_global_options_between_a_command_and_its_action(emu: Any) -> None:
    env = base_env(SKYTELLS_BASE_URL=DEAD, SKYTELLS_API_KEY="sk-wrong-000000")
    done = run_in_pipe(
        ["models", "--base-url", emu.base_url, "--api-key", emu.api_key, "list"], env
    )
    assert done.code == 0 and "truefusion" in done.out, done.err
    listed = run_in_pipe(["predictions", "--emulator", "list", "--json"], base_env())
    assert listed.code == 0 and json.loads(listed.out)["data"] == [], listed.err
