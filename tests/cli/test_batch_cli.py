"""``skytells batch``: run, status, cancel, dry run; killed (SIGKILL, SIGTERM) in a real
subprocess and resumed, against the emulator in this process with idempotency off (the
documented service's behaviour): exactly N predictions and N result lines."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from skytells.cli import main
from tests.batch_files import (
    assert_exactly_once,
    journal_with_creating_rows,
    result_lines,
    write_requests,
)

SKYTELLS = str(Path(sys.executable).parent / "skytells")


@pytest.fixture
def cli(emu: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("SKYTELLS_API_KEY", emu.api_key)
    monkeypatch.setenv("SKYTELLS_BASE_URL", emu.base_url)

    def invoke(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


def start(emu: Any, requests: Path, results: Path, *extra: str) -> subprocess.Popen[str]:
    """``skytells batch run`` in a process of its own."""
    env = {**os.environ, "SKYTELLS_API_KEY": emu.api_key, "SKYTELLS_BASE_URL": emu.base_url}
    return subprocess.Popen(
        [SKYTELLS, "batch", "run", str(requests), "--out", str(results), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def progressed(results: Path, emu: Any, created: int) -> bool:
    """Whether the run has created at least ``created`` predictions."""
    return len(emu.predictions()) >= created or (
        results.exists() and results.read_bytes().count(b"\n") >= created
    )


def test_dry_run_and_max_cost(cli: Any, emu: Any, tmp_path: Path) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", 5, num_outputs=2)
    code, out, _ = cli(
        "batch", "run", str(requests), "--out", str(tmp_path / "r.jsonl"), "--dry-run"
    )
    assert code == 0 and "flux-edge" in out and "estimated total: 0.03 USD" in out
    code, out, _ = cli(
        "batch", "run", str(requests), "--out", str(tmp_path / "r.jsonl"), "--dry-run", "--json"
    )
    assert code == 0 and json.loads(out)["total"] == pytest.approx(0.03)
    code, _, err = cli(
        "batch", "run", str(requests), "--out", str(tmp_path / "r.jsonl"), "--max-cost", "0.02"
    )
    assert code == 1 and "MAX_COST_EXCEEDED" in err
    assert emu.predictions() == [] and not (tmp_path / "r.jsonl").exists()


def test_bad_lines_are_listed_with_their_numbers(cli: Any, emu: Any, tmp_path: Path) -> None:
    requests = tmp_path / "bad.jsonl"
    requests.write_text('{"custom_id": "a"}\nnope\n', encoding="utf-8")
    code, _, err = cli("batch", "run", str(requests), "--out", str(tmp_path / "r.jsonl"))
    assert code == 1 and "INVALID_BATCH" in err and "line 1" in err and "line 2" in err
    assert emu.predictions() == []


def test_run_then_status(cli: Any, emu: Any, tmp_path: Path) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", 6)
    results = tmp_path / "results.jsonl"
    code, out, err = cli("batch", "run", str(requests), "--out", str(results), "--json")
    assert code == 0 and json.loads(out)["complete"] is True
    assert "batch: 6/6 done" in err  # plain progress lines on stderr when not a terminal
    code, out, _ = cli("batch", "status", "--out", str(results), "--json")
    status = json.loads(out)
    assert code == 0 and (status["done"], status["succeeded"]) == (6, 6)
    assert status["credits"] == pytest.approx(0.018)
    code, out, _ = cli("batch", "status", "--out", str(results))
    assert "6/6 done (6 succeeded, 0 failed)" in out
    assert_exactly_once(emu, results, 6)
    code, _, err = cli("batch", "status", "--out", str(tmp_path / "none.jsonl"))
    assert code == 1 and "BATCH_NOT_FOUND" in err


def test_cancel_from_the_command_line(cli: Any, emu: Any, tmp_path: Path, poll: Any) -> None:
    emu.configure(time_scale=1000.0)  # predictions stay running
    requests = write_requests(tmp_path / "requests.jsonl", 4)
    results = tmp_path / "results.jsonl"
    process = start(emu, requests, results)
    try:
        poll(lambda: len(emu.predictions()), lambda n: n == 4, timeout=30)
        poll(lambda: _created_rows(results), lambda n: n == 4, timeout=30)
        code, out, _ = cli("batch", "cancel", "--out", str(results), "--json")
        assert code == 0 and len(json.loads(out)["cancelled"]) == 4
        assert process.wait(60) == 0
    finally:
        process.kill()
        process.communicate()
    assert {line["status"] for line in assert_exactly_once(emu, results, 4)} == {"cancelled"}


def _created_rows(results: Path) -> int:
    from skytells._io.journal import Journal, JournalError, journal_path

    try:
        journal = Journal(journal_path(results), readonly=True)
    except JournalError:
        return 0
    try:
        return journal.counts()["created"]
    except Exception:  # the journal is being made
        return 0
    finally:
        journal.close()


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_and_resumed_creates_each_prediction_exactly_once(
    emu: Any, tmp_path: Path, poll: Any, how: signal.Signals
) -> None:
    """60 requests, creates slowed to 40 ms so kills land mid-create; killed three times at
    growing progress, then resumed to the end."""
    emu.add_fault("latency", method="POST", path="/v1/predict", latency_ms=40)
    count = 60
    requests = write_requests(tmp_path / "requests.jsonl", count)
    results = tmp_path / "results.jsonl"
    rng = random.Random(16)
    for target in (8, 25, 42):
        process = start(emu, requests, results, "--concurrency", "6")
        try:
            poll(lambda t=target: progressed(results, emu, t), bool, timeout=60)
            time.sleep(rng.uniform(0, 0.05))
            process.send_signal(how)
            code = process.wait(60)
        finally:
            process.kill()
            _, err = process.communicate()
        if how == signal.SIGTERM:
            assert code == 143 and "run the same command again to resume" in err, err
        else:
            assert code == -signal.SIGKILL
        assert len(emu.predictions()) < count
    process = start(emu, requests, results, "--concurrency", "6")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    lines = assert_exactly_once(emu, results, count)
    assert {line["status"] for line in lines} == {"succeeded"}
    assert sorted(line["line"] for line in lines) == list(range(1, count + 1))
    assert result_lines(results) == lines


def test_global_options_after_the_action(emu: Any, tmp_path: Path) -> None:
    """``batch`` is a command group of the real parser: global options come after its action."""
    requests = write_requests(tmp_path / "requests.jsonl", 2)
    out = tmp_path / "r.jsonl"
    argv = ["batch", "run", str(requests), "--out", str(out)]
    code = main([*argv, "--api-key", emu.api_key, "--base-url", emu.base_url])
    assert code == 0
    assert_exactly_once(emu, out, 2)


def test_a_pause_for_a_retry_after_is_shown_on_stderr(cli: Any, emu: Any, tmp_path: Path) -> None:
    emu.add_fault("status", method="POST", path="/v1/predict", status=429, retry_after=2, count=1)
    requests = write_requests(tmp_path / "requests.jsonl", 3)
    code, _, err = cli("batch", "run", str(requests), "--out", str(tmp_path / "r.jsonl"))
    assert code == 0, err
    assert "rate limited: waiting 2s (Retry-After)" in err
    assert_exactly_once(emu, tmp_path / "r.jsonl", 3)


@pytest.mark.parametrize("bad", ["nan", "inf", "-1", "cheap"])
def test_a_max_cost_that_is_not_a_finite_number_is_a_usage_error(
    cli: Any, emu: Any, tmp_path: Path, bad: str
) -> None:
    requests = write_requests(tmp_path / "requests.jsonl", 2)
    code, _, err = cli(
        "batch", "run", str(requests), "--out", str(tmp_path / "r.jsonl"), "--max-cost", bad
    )
    assert code == 2 and "--max-cost" in err, err
    assert emu.predictions() == [] and not (tmp_path / "r.jsonl").exists()


def test_create_outcome_unknown_names_the_flag_that_finishes_the_batch(
    cli: Any, emu: Any, tmp_path: Path, http: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import skytells._clients.batch_engine as engine

    monkeypatch.setattr(engine, "MAX_RECONCILE_PAGES", 1)
    requests = write_requests(tmp_path / "requests.jsonl", 2)
    results = tmp_path / "results.jsonl"
    journal_with_creating_rows(requests, results, [2])
    for i in range(engine.PAGE + 1):
        http.post("/predict", json={"model": "flux-edge", "input": {"prompt": f"other {i}"}})
    code, _, err = cli("batch", "run", str(requests), "--out", str(results))
    assert code == 1 and "CREATE_OUTCOME_UNKNOWN" in err and "--resend-unknown" in err
    code, _, err = cli("batch", "run", str(requests), "--out", str(results), "--resend-unknown")
    assert code == 0, err
    assert len(result_lines(results)) == 2
