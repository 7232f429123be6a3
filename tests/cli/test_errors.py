"""Exit codes: 0 success, 1 error, 2 usage, 3 the prediction failed or was cancelled, 130
interrupted; the same for ``run`` and ``predictions wait`` (the installed command, pipe and pty)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import Runner


@pytest.mark.parametrize("terminal", [False, True])
def test_a_failed_prediction_exits_3_from_run_and_wait_and_0_from_get(
    skytells: Runner, emu: Any, terminal: bool
) -> None:
    emu.fail_next(count=1, message="NSFW content detected.")
    run = skytells("run", "flux-edge", "-i", "prompt=x", terminal=terminal)
    assert run.code == 3, run.text
    (failed,) = emu.predictions()
    assert f"id: {failed['id']}" in run.out and "status: failed" in run.out
    assert "NSFW content detected." in run.text and f"[prediction {failed['id']}]" in run.text
    assert "Traceback" not in run.text
    wait = skytells("predictions", "wait", failed["id"], terminal=terminal)
    assert wait.code == 3 and "NSFW content detected." in wait.text
    get = skytells("predictions", "get", failed["id"], terminal=terminal)
    assert get.code == 0 and "status: failed" in get.out


def test_a_cancelled_prediction_exits_3_from_wait_also_with_json(
    skytells: Runner, emu: Any
) -> None:
    emu.configure(time_scale=1.0)  # mera runs for about a minute
    created = skytells("run", "mera", "-i", "prompt=x", "--no-wait", "--json")
    prediction_id = json.loads(created.out)["id"]
    assert skytells("predictions", "cancel", prediction_id).code == 0
    wait = skytells("predictions", "wait", prediction_id, "--json")
    assert wait.code == 3 and json.loads(wait.out)["status"] == "cancelled"
    assert "PREDICTION_CANCELLED" in wait.err


def test_success_error_and_usage_codes(skytells: Runner) -> None:
    assert skytells("run", "flux-edge", "-i", "prompt=x", "--json").code == 0
    error = skytells("models", "get", "no-such-model")
    assert error.code == 1 and error.err.startswith("error: MODEL_NOT_FOUND")
    usage = skytells("run", "flux-edge", "--no-such-option")
    assert usage.code == 2 and len(usage.err.strip().splitlines()) == 1
    assert usage.err.startswith("skytells: error: unrecognized arguments: --no-such-option")


def test_the_help_documents_the_exit_codes(skytells: Runner) -> None:
    done = skytells("--help")
    assert done.code == 0
    for line in ("0    success", "1    error", "2    usage", "3    the prediction failed", "130"):
        assert line in done.out
