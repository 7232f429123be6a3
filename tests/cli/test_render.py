"""Hints fit their error and their command: an unknown prediction id points at
``predictions list``, a base URL without /v1 at the base URL, a date or page refused by the
server at the option that sent it (the installed command against the emulator, pipe and pty;
a scripted server for answers the emulator does not give to these commands)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.cli.conftest import Runner, base_env, run_in_pipe, run_in_terminal
from tests.scripted_server import Reply, ScriptedServer


def _hint(text: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith("error: ")]
    return line.rsplit(" -- ", 1)[1]


@pytest.mark.parametrize("action", ["get", "wait", "cancel", "delete"])
@pytest.mark.parametrize("terminal", [False, True])
def test_an_unknown_prediction_id_points_at_predictions_list(
    skytells: Runner, action: str, terminal: bool
) -> None:
    done = skytells("predictions", action, "no-such-id", terminal=terminal)
    assert done.code == 1, done.text
    hint = _hint(done.text)
    assert "skytells predictions list" in hint and "models" not in hint


def test_a_base_url_without_v1_points_at_the_base_url(skytells: Runner, emu: Any) -> None:
    root = emu.base_url.removesuffix("/v1")
    for argv in (
        ["models", "list"],
        ["predictions", "get", "x"],
        ["run", "flux-edge", "-i", "p=x"],
    ):
        done = skytells(*argv, SKYTELLS_BASE_URL=root)
        assert done.code == 1 and "ENDPOINT_NOT_FOUND" in done.err, done.err
        assert "should end in /v1" in _hint(done.err)


def test_run_hints_name_the_model(skytells: Runner) -> None:
    unknown = skytells("run", "no-such-model", "-i", "prompt=x")
    assert "'skytells models list'" in _hint(unknown.err)
    invalid = skytells("run", "truefusion", "-i", "num_outputs=9")
    assert "'skytells models get truefusion --schema'" in _hint(invalid.err)
    missing = skytells("models", "get", "no-such-model")
    assert "'skytells models list'" in _hint(missing.err)


def test_a_date_range_refused_by_the_service_names_the_options(skytells: Runner) -> None:
    done = skytells("predictions", "list", "--since", "2026-02-01", "--until", "2026-01-01")
    assert done.code == 1 and "INVALID_DATE_RANGE" in done.err
    assert _hint(done.err).startswith("--since must be on or before --until")


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer().running() as server:
        yield server


@pytest.mark.parametrize(
    ("parameter", "error_id", "expected"),
    [
        ("from", "INVALID_DATE_FORMAT", "--since and --until take a date as YYYY-MM-DD"),
        ("to", "INVALID_PARAMETER", "--since and --until take a date as YYYY-MM-DD"),
        ("page", "INVALID_PARAMETER", "--page takes a page number from 1"),
        ("status", "INVALID_PARAMETER", "check the options ('skytells predictions list --help')"),
    ],
)
def test_a_list_parameter_refused_by_a_server_is_named_as_its_option(
    scripted: ScriptedServer, parameter: str, error_id: str, expected: str
) -> None:
    body: dict[str, Any] = {
        "error": {
            "message": f"{parameter} is wrong",
            "error_id": error_id,
            "details": {"parameter": parameter},
        }
    }
    scripted.script(Reply(400, body))
    env = base_env(SKYTELLS_API_KEY="sk-test", SKYTELLS_BASE_URL=scripted.base_url)
    for run in (run_in_pipe, run_in_terminal):
        done = run(["predictions", "list", "--page", "3", "--since", "2026-01-01"], env)
        assert done.code == 1, done.text
        assert _hint(done.text).startswith(expected), done.text


def test_errors_while_using_the_emulator_do_not_suggest_it() -> None:
    from skytells._exceptions import APIConnectionError, AuthenticationError
    from skytells.cli._render import hint

    for error in (
        APIConnectionError("Connection refused", "NETWORK_ERROR"),
        AuthenticationError("Invalid API key", "UNAUTHORIZED"),
    ):
        assert "try --emulator" in hint(error)
        with_emulator = hint(error, emulator=True)
        assert "--emulator" not in with_emulator.replace("--emulator then", "")
        assert "'skytells emulator'" in with_emulator
