"""Durable batches (`client.batch()`), end to end against the emulator (idempotency off, as the
documented service): every request exactly once, across kills, with one result line each."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skytells import AsyncSkytellsClient, SkytellsClient, SkytellsError
from skytells._clients.batch import BatchProgress
from skytells._clients.batch_engine import _file_binding
from skytells._core.batchfile import fingerprint
from skytells._io.journal import Journal, journal_path
from tests.batch_files import MODEL, assert_exactly_once, result_lines, write_requests


@pytest.fixture
def requests_file(tmp_path: Path) -> Path:
    return write_requests(tmp_path / "requests.jsonl", 12)


def test_a_batch_runs_every_request_once_and_saves_outputs(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "out" / "results.jsonl"
    seen = list(client.batch(requests_file, results, outputs_dir=tmp_path / "files"))
    assert sorted(r.custom_id for r in seen) == sorted(f"req-{i}" for i in range(12))
    lines = assert_exactly_once(emu, results, 12)
    for line in lines:
        assert line["status"] == "succeeded" and line["error"] is None
        assert line["credits_used"] == pytest.approx(0.003)
        assert len(line["files"]) == 1 and Path(line["files"][0]).stat().st_size > 0
        assert line["output"] and line["id"]
    status = client.batch(requests_file, results).status()
    assert (status.total, status.done, status.succeeded, status.complete) == (12, 12, 12, True)
    assert status.credits == pytest.approx(0.036)
    # Run again: nothing redone, nothing yielded, nothing created.
    assert list(client.batch(requests_file, results)) == []
    assert_exactly_once(emu, results, 12)


@pytest.mark.anyio
@pytest.mark.both_clients
async def test_the_async_batch_is_the_same(
    aclient: AsyncSkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "results.jsonl"
    seen = [result async for result in aclient.batch(requests_file, results, concurrency=4)]
    assert len(seen) == 12 and all(result.ok for result in seen)
    assert_exactly_once(emu, results, 12)
    status = await aclient.batch(requests_file, results).run()
    assert status.complete and status.done == 12
    assert_exactly_once(emu, results, 12)


@pytest.mark.both_clients
def test_the_sync_batch_over_either_transport(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    status = client.batch(requests_file, tmp_path / "results.jsonl", concurrency=3).run()
    assert status.complete and status.succeeded == 12
    assert_exactly_once(emu, tmp_path / "results.jsonl", 12)


def test_identical_requests_make_as_many_predictions(
    client: SkytellsClient, emu: Any, tmp_path: Path
) -> None:
    requests = write_requests(tmp_path / "same.jsonl", 10, same_input=True)
    client.batch(requests, tmp_path / "results.jsonl").run()
    assert_exactly_once(emu, tmp_path / "results.jsonl", 10)


def test_every_bad_line_is_reported_at_once_and_nothing_is_sent(
    client: SkytellsClient, emu: Any, tmp_path: Path
) -> None:
    good = {"custom_id": "a", "model": MODEL, "input": {"prompt": "fine"}}
    lines = [
        json.dumps(good),  # 1
        "{not json",  # 2
        json.dumps({"custom_id": "b", "model": MODEL}),  # 3: no input
        "",  # 4: blank lines are allowed
        json.dumps({**good, "input": {"prompt": "again"}}),  # 5: custom_id "a" again
        json.dumps({"custom_id": "c", "model": "no-such-model", "input": {"prompt": "x"}}),  # 6
        json.dumps({"custom_id": "d", "model": MODEL, "input": {"prompt": "x", "num_outputs": 9}}),
        json.dumps({"custom_id": "e", "model": MODEL, "input": {"prompt": "x", "colour": "red"}}),
        json.dumps({"custom_id": "f", "model": MODEL, "input": {"num_outputs": "two"}}),  # 9
        json.dumps(["a", "list"]),  # 10
        json.dumps({"custom_id": "g", "model": MODEL, "input": {"prompt": "ok"}}),  # 11: fine
    ]
    requests = tmp_path / "bad.jsonl"
    requests.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = tmp_path / "results.jsonl"
    with pytest.raises(SkytellsError) as caught:
        client.batch(requests, results).run()
    error = caught.value
    assert error.error_id == "INVALID_BATCH"
    problems = {item["line"]: item["problem"] for item in error.details}
    assert sorted(problems) == [2, 3, 5, 6, 7, 8, 9, 10]
    assert "JSON" in problems[2] and "input" in problems[3]
    assert "repeats line 1" in problems[5] and "no-such-model" in problems[6]
    assert "maximum" in problems[7] and "colour" in problems[8]
    assert "prompt" in problems[9] and "num_outputs" in problems[9]
    assert "line 2" in str(error)
    assert emu.predictions() == []
    assert not results.exists() and not journal_path(results).exists()
    # The dry run reports the same problems.
    with pytest.raises(SkytellsError, match="8 bad line"):
        client.batch(requests, results).estimate()


def test_a_missing_requests_file_is_a_clear_error(client: SkytellsClient, tmp_path: Path) -> None:
    with pytest.raises(SkytellsError) as caught:
        client.batch(tmp_path / "nope.jsonl", tmp_path / "r.jsonl").run()
    assert caught.value.error_id == "BATCH_FILE_UNREADABLE"


def test_dry_run_estimates_and_max_cost_refuses_before_spending(
    client: SkytellsClient, emu: Any, tmp_path: Path
) -> None:
    requests = tmp_path / "mixed.jsonl"
    rows = [
        {"custom_id": "i1", "model": "truefusion", "input": {"prompt": "a", "num_outputs": 3}},
        {"custom_id": "i2", "model": "truefusion", "input": {"prompt": "b"}},
        {"custom_id": "m1", "model": "beatfusion-2.0", "input": {"prompt": "c", "duration": 30}},
        {"custom_id": "v1", "model": "mera", "input": {"prompt": "d"}},
    ]
    requests.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    estimate = client.batch(requests, tmp_path / "r.jsonl").estimate()
    # 0.03 per image x (3 + 1), 0.02 per second x 30, 3.42 per prediction.
    assert estimate.by_model["truefusion"]["cost"] == pytest.approx(0.12)
    assert estimate.by_model["beatfusion-2.0"]["cost"] == pytest.approx(0.6)
    assert estimate.by_model["mera"]["cost"] == pytest.approx(3.42)
    assert estimate.total == pytest.approx(4.14) and estimate.currency == "USD"
    assert not journal_path(tmp_path / "r.jsonl").exists()
    with pytest.raises(SkytellsError) as caught:
        client.batch(requests, tmp_path / "r.jsonl", max_cost=4.0).run()
    assert caught.value.error_id == "MAX_COST_EXCEEDED"
    assert caught.value.details["total"] == pytest.approx(4.14)
    assert emu.predictions() == [] and not journal_path(tmp_path / "r.jsonl").exists()


def test_another_requests_file_for_the_same_results_is_refused(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "results.jsonl"
    client.batch(requests_file, results).run()
    write_requests(requests_file, 13)  # changed: one line more
    with pytest.raises(SkytellsError) as caught:
        client.batch(requests_file, results).run()
    assert caught.value.error_id == "BATCH_FILE_CHANGED"
    assert len(emu.predictions()) == 12


def test_a_torn_last_line_and_uncommitted_lines_are_repaired(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "results.jsonl"
    client.batch(requests_file, results).run()
    with results.open("ab") as file:
        file.write(b'{"custom_id":"req-3","line":4,"id":"torn')  # a kill mid-write
    assert list(client.batch(requests_file, results)) == []
    assert_exactly_once(emu, results, 12)


def test_rows_caught_mid_create_are_looked_for_before_creating_again(
    client: SkytellsClient, emu: Any, tmp_path: Path, http: Any
) -> None:
    """A run killed after marking two creates: the server made one of them (its answer was
    lost), not the other. The next run adopts the one and creates the other."""
    requests = write_requests(tmp_path / "requests.jsonl", 4)
    results = tmp_path / "results.jsonl"
    journal = Journal(journal_path(results))
    journal.begin_fill()
    for line, text in enumerate(requests.read_text().splitlines(), start=1):
        data = json.loads(text)
        journal.add(line, data["custom_id"], json.dumps(data))
    journal.finish_fill(_file_binding(requests))
    began = time.time() - 1
    journal.mark_creating(1, began, fingerprint(MODEL, {"prompt": "fox 0"}))
    journal.mark_creating(2, began, fingerprint(MODEL, {"prompt": "fox 1"}))
    journal.commit()
    journal.close()
    # What the killed run's create made (another process: not claimed by this client).
    made = http.post("/predict", json={"model": MODEL, "input": {"prompt": "fox 0"}}).json()
    client.batch(requests, results).run()
    lines = assert_exactly_once(emu, results, 4)
    assert {line["custom_id"]: line["id"] for line in lines}["req-0"] == made["id"]


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "post_commit"},
        {"kind": "truncate", "fraction": 0.5},
        {"kind": "reset"},
        {"kind": "drop"},
        {"kind": "status", "status": 502, "error_id": "BAD_GATEWAY"},
    ],
    ids=lambda fault: fault["kind"] + str(fault.get("status", "")),
)
def test_a_create_whose_answer_is_lost_is_adopted_not_sent_again(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path, fault: dict[str, Any]
) -> None:
    emu.add_fault(method="POST", path="/v1/predict", probability=0.5, seed=7, **fault)
    client.batch(requests_file, tmp_path / "results.jsonl", concurrency=4).run()
    assert sum(rule["fired"] for rule in emu.faults()) > 0
    assert_exactly_once(emu, tmp_path / "results.jsonl", 12)


def test_refused_requests_get_a_line_with_their_error(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    emu.add_fault(
        "status", method="POST", path="/v1/predict", status=422, error_id="INVALID_INPUT", count=2
    )
    client.batch(requests_file, tmp_path / "results.jsonl").run()
    lines = result_lines(tmp_path / "results.jsonl")
    refused = [line for line in lines if line["status"] == "not_created"]
    assert len(lines) == 12 and len(refused) == 2
    assert all(line["error"]["error_id"] == "INVALID_INPUT" for line in refused)
    assert len(emu.predictions()) == 10


def test_pacing_under_the_rate_limit_backs_off_and_finishes(
    client: SkytellsClient, emu: Any, tmp_path: Path
) -> None:
    """30 requests a 2-second window, 40 requests at 16 in flight: the batch gets 429s, halves
    its concurrency, waits as told, and ends with every request done exactly once."""
    emu.configure(rate_limit=30, rate_limit_window=2.0)
    requests = write_requests(tmp_path / "requests.jsonl", 40)
    progress: list[BatchProgress] = []
    status = client.batch(
        requests, tmp_path / "results.jsonl", concurrency=16, on_progress=progress.append
    ).run()
    assert status.complete and status.succeeded == 40
    assert_exactly_once(emu, tmp_path / "results.jsonl", 40)
    assert max(p.throttled for p in progress) > 0
    assert min(p.concurrency for p in progress) < 16
    # Not hammering: each 429 made the whole batch wait, so few were refused.
    assert 0 < emu.state()["rate_limited"] < 40, emu.state()["rate_limited"]


def test_cancel_stops_every_running_prediction(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path, poll: Any
) -> None:
    emu.configure(time_scale=1000.0)  # predictions stay running
    results = tmp_path / "results.jsonl"
    batch = client.batch(requests_file, results)
    runner = threading.Thread(target=batch.run)
    runner.start()
    try:

        def created() -> int:
            try:
                return batch.status().states["created"]
            except SkytellsError:  # the journal is not there yet
                return 0

        poll(created, lambda count: count == 12, timeout=30)
        cancelled = client.batch(requests_file, results).cancel()
        assert len(cancelled) == 12
    finally:
        runner.join(60)
    lines = assert_exactly_once(emu, results, 12)
    assert {line["status"] for line in lines} == {"cancelled"}


def test_memory_stays_flat_in_the_size_of_the_file(client: SkytellsClient, tmp_path: Path) -> None:
    """Checking 40,000 lines holds no more memory than checking 4,000 (the lines go to the
    journal, not to a list)."""

    def peak(count: int) -> int:
        requests = write_requests(tmp_path / f"r{count}.jsonl", count)
        tracemalloc.start()
        try:
            client.batch(requests, tmp_path / f"out{count}.jsonl").estimate()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(4_000), peak(40_000)
    assert (tmp_path / "r40000.jsonl").stat().st_size > 1_500_000
    assert large < small * 2 + 500_000, (small, large)


@pytest.fixture
def no_leftover_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        extra = [t for t in set(threading.enumerate()) - before if t.name == "skytells-batch"]
        if not extra:
            return
        time.sleep(0.05)
    raise AssertionError(f"threads left: {extra}")


def test_stopping_the_iteration_early_keeps_everything_resumable(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path, no_leftover_threads: None
) -> None:
    results = tmp_path / "results.jsonl"
    iterator = iter(client.batch(requests_file, results, concurrency=2))
    next(iterator)
    iterator.close()  # type: ignore[attr-defined]
    assert 1 <= len(result_lines(results)) <= 12
    client.batch(requests_file, results).run()
    assert_exactly_once(emu, results, 12)


SCRIPT = """
import sys
from skytells import SkytellsClient

with SkytellsClient(sys.argv[1], base_url=sys.argv[2]) as client:
    client.batch(sys.argv[3], sys.argv[4], concurrency=4).run()
"""


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_program_killed_mid_batch_resumes_exactly_once(
    emu: Any, client: SkytellsClient, tmp_path: Path, poll: Any, how: signal.Signals
) -> None:
    """The Python API in a program of its own (SIGTERM's default action ends it at once, like
    a kill), killed twice mid-run, then run to the end: exactly N predictions and lines."""
    emu.add_fault("latency", method="POST", path="/v1/predict", latency_ms=30)
    requests = write_requests(tmp_path / "requests.jsonl", 40)
    results = tmp_path / "results.jsonl"
    argv = [sys.executable, "-c", SCRIPT, emu.api_key, emu.base_url, str(requests), str(results)]
    for target in (8, 22):
        process = subprocess.Popen(argv, stderr=subprocess.PIPE)
        try:
            poll(lambda t=target: len(emu.predictions()), lambda n, t=target: n >= t, timeout=60)
            process.send_signal(how)
            assert process.wait(60) == -how
        finally:
            process.kill()
            process.communicate()
        assert len(emu.predictions()) < 40
    client.batch(requests, results).run()
    assert_exactly_once(emu, results, 40)


def test_a_lost_answer_in_a_resumed_run_never_takes_an_earlier_runs_prediction(
    client: SkytellsClient, emu: Any, tmp_path: Path, http: Any
) -> None:
    """Two identical requests. The killed run left the first mid-create (its prediction exists);
    the resumed run adopts it, then the second's create loses its answer: the look-up finds both
    predictions and must take the second's own, not the one the journal gave the first."""
    requests = write_requests(tmp_path / "requests.jsonl", 2, same_input=True)
    results = tmp_path / "results.jsonl"
    journal = Journal(journal_path(results))
    journal.begin_fill()
    for line, text in enumerate(requests.read_text().splitlines(), start=1):
        data = json.loads(text)
        journal.add(line, data["custom_id"], json.dumps(data))
    journal.finish_fill(_file_binding(requests))
    journal.mark_creating(1, time.time() - 1, fingerprint(MODEL, {"prompt": "the same fox"}))
    journal.commit()
    journal.close()
    made = http.post("/predict", json={"model": MODEL, "input": {"prompt": "the same fox"}}).json()
    emu.add_fault("post_commit", method="POST", path="/v1/predict", count=1)
    client.batch(requests, results).run()
    assert sum(rule["fired"] for rule in emu.faults()) == 1
    lines = assert_exactly_once(emu, results, 2)
    assert {line["custom_id"]: line["id"] for line in lines}["req-0"] == made["id"]


def test_a_resumed_batch_never_adopts_a_prediction_made_before_its_first_attempt(
    emu: Any, tmp_path: Path, http: Any
) -> None:
    """Another process made the same request 20 s before this batch's first attempt (the
    journal says when it began; the kill left it mid-create, nothing made). The resumed run
    reads the window on the server's clock (the answers' ``Date``) and creates its own: the
    assumed 60 s clock-skew allowance adopted the other's (one prediction, two owners)."""
    requests = write_requests(tmp_path / "requests.jsonl", 1)
    results = tmp_path / "results.jsonl"
    journal = Journal(journal_path(results))
    journal.begin_fill()
    data = json.loads(requests.read_text())
    journal.add(1, data["custom_id"], json.dumps(data))
    journal.finish_fill(_file_binding(requests))
    other = http.post("/predict", json={"model": MODEL, "input": {"prompt": "fox 0"}}).json()
    journal.mark_creating(1, time.time() + 20, fingerprint(MODEL, {"prompt": "fox 0"}))
    journal.commit()
    journal.close()
    with SkytellsClient(emu.api_key, base_url=emu.base_url, timeout=1000) as client:
        client.batch(requests, results).run()
    (line,) = [json.loads(text) for text in results.read_text().splitlines()]
    assert line["id"] != other["id"]
    assert sorted(p["id"] for p in emu.predictions()) == sorted([line["id"], other["id"]])
