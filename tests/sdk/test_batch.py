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
from tests.batch_files import (
    MODEL,
    assert_exactly_once,
    journal_with_creating_rows,
    result_lines,
    write_requests,
)


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


def test_a_storm_of_retry_after_0_backs_off_and_stops_at_the_retry_bound(
    emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    """Every create answered 429 with ``Retry-After: 0``: the pauses have the retry backoff as
    their floor and each request is sent at most 1 + MIN_THROTTLED_TRIES times (max_retries is
    lower); then the batch stops with RATE_LIMIT_EXCEEDED, resumable."""
    from skytells._clients.batch_engine import MIN_THROTTLED_TRIES

    emu.add_fault("status", method="POST", path="/v1/predict", status=429, retry_after=0)
    results = tmp_path / "results.jsonl"
    retry = {"retries": 2, "retry_delay": 20, "max_delay": 80}  # short pauses: a fast test
    with SkytellsClient(emu.api_key, base_url=emu.base_url, retry=retry) as client:
        with pytest.raises(SkytellsError) as caught:
            client.batch(requests_file, results, concurrency=4).run()
    error = caught.value
    assert error.error_id == "RATE_LIMIT_EXCEEDED" and error.http_status == 429
    assert "run it again" in str(error) and "max_retries" in str(error)
    fired = sum(rule["fired"] for rule in emu.faults())
    assert 0 < fired <= 12 * (MIN_THROTTLED_TRIES + 1), fired  # not thousands a second
    emu.clear_faults()
    with SkytellsClient(emu.api_key, base_url=emu.base_url) as client:
        status = client.batch(requests_file, results).status()
        assert status.states["pending"] == 12
        client.batch(requests_file, results).run()
    assert_exactly_once(emu, results, 12)


def test_a_retry_after_above_max_retry_after_stops_the_batch_at_once(
    emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    """One 429 asking for 100,000 s: nothing waits 28 hours; the batch stops (polling too)
    with an error that says why, and the next run resumes it."""
    emu.add_fault(
        "status", method="POST", path="/v1/predict", status=429, retry_after=100_000, count=1
    )
    results = tmp_path / "results.jsonl"
    with SkytellsClient(emu.api_key, base_url=emu.base_url) as client:
        with pytest.raises(SkytellsError) as caught:  # at once: never the 100,000 s asked
            client.batch(requests_file, results, concurrency=2).run()
        assert caught.value.error_id == "RATE_LIMIT_EXCEEDED"
        assert "max_retry_after" in str(caught.value) and caught.value.details["retry_after"]
        client.batch(requests_file, results).run()
    assert_exactly_once(emu, results, 12)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, "5", True])
def test_a_max_cost_that_is_not_a_finite_number_is_refused(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path, bad: Any
) -> None:
    with pytest.raises(SkytellsError) as caught:
        client.batch(requests_file, tmp_path / "r.jsonl", max_cost=bad).run()
    assert caught.value.error_id == "INVALID_PARAMETER" and "max_cost" in str(caught.value)
    assert emu.predictions() == []


def test_create_outcome_unknown_names_resend_unknown_which_finishes_the_batch(
    client: SkytellsClient, emu: Any, tmp_path: Path, http: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More predictions of the model since the interrupted create than the walk's bound (scaled
    down to one page): the batch cannot tell, says so and names the way out; with
    ``resend_unknown=True`` the request is created again and the batch completes."""
    import skytells._clients.batch_engine as engine

    monkeypatch.setattr(engine, "MAX_RECONCILE_PAGES", 1)
    requests = write_requests(tmp_path / "requests.jsonl", 3)
    results = tmp_path / "results.jsonl"
    journal_with_creating_rows(requests, results, [1])
    for i in range(engine.PAGE + 5):  # other programs' predictions of the same model
        http.post("/predict", json={"model": MODEL, "input": {"prompt": f"other {i}"}})
    for _ in range(2):  # running it again later does not help
        with pytest.raises(SkytellsError) as caught:
            client.batch(requests, results).run()
        assert caught.value.error_id == "CREATE_OUTCOME_UNKNOWN"
        assert "resend_unknown=True" in str(caught.value) and "--resend-unknown" in str(
            caught.value
        )
    status = client.batch(requests, results, resend_unknown=True).run()
    assert status.complete and status.succeeded == 3
    lines = result_lines(results)
    assert sorted(line["custom_id"] for line in lines) == ["req-0", "req-1", "req-2"]
    assert len({line["id"] for line in lines}) == 3
    assert len(emu.predictions()) == engine.PAGE + 5 + 3


def test_cancel_also_stops_the_requests_not_yet_created(
    client: SkytellsClient, emu: Any, tmp_path: Path, poll: Any
) -> None:
    """`batch cancel` from elsewhere while the batch runs with most requests still pending: the
    running batch creates none of them after the cancel, each gets a ``cancelled`` line, and
    a later run creates nothing either."""
    emu.configure(time_scale=1000.0)  # predictions stay running
    emu.add_fault("latency", method="POST", path="/v1/predict", latency_ms=150)
    requests = write_requests(tmp_path / "requests.jsonl", 30)
    results = tmp_path / "results.jsonl"
    batch = client.batch(requests, results, concurrency=2)
    runner = threading.Thread(target=batch.run)
    runner.start()
    try:
        poll(lambda: len(emu.predictions()), lambda count: count >= 3, timeout=30)
        cancelled = client.batch(requests, results).cancel()
        made = len(emu.predictions())
        assert len(cancelled) == made < 30
    finally:
        runner.join(60)
    assert not runner.is_alive()
    lines = result_lines(results)
    assert len(lines) == 30 and len(emu.predictions()) == made  # nothing created after
    assert {line["status"] for line in lines} == {"cancelled"}
    never = [line for line in lines if line["id"] is None]
    assert len(never) == 30 - made
    assert all(line["error"]["error_id"] == "BATCH_CANCELLED" for line in never)
    assert list(client.batch(requests, results)) == []
    assert len(emu.predictions()) == made and len(result_lines(results)) == 30


def _rows_in_file_alone(journal: Path, into: Path) -> dict[str, int]:
    """The journal's rows by state as its file alone holds them (copied without ``-wal``)."""
    import shutil
    import sqlite3

    try:
        shutil.copyfile(journal, into)
        db = sqlite3.connect(into)
        try:
            return dict(db.execute("SELECT state, COUNT(*) FROM rows GROUP BY state").fetchall())
        finally:
            db.close()
    except (sqlite3.Error, OSError):
        return {}


def test_the_journal_file_alone_catches_up_while_the_batch_runs(
    emu: Any, client: SkytellsClient, tmp_path: Path, poll: Any
) -> None:
    """A batch in a program of its own, its predictions running: the journal file (without its
    ``-wal``) holds every create within a few seconds (a checkpoint), so a copy of it made then,
    after a SIGKILL, resumes the batch without creating anything again."""
    emu.configure(time_scale=1000.0)
    requests = write_requests(tmp_path / "requests.jsonl", 6)
    results = tmp_path / "results.jsonl"
    argv = [sys.executable, "-c", SCRIPT, emu.api_key, emu.base_url, str(requests), str(results)]
    process = subprocess.Popen(argv, stderr=subprocess.PIPE)
    try:
        poll(
            lambda: _rows_in_file_alone(journal_path(results), tmp_path / "peek.sqlite"),
            lambda states: states.get("created") == 6,
            timeout=30,
        )
        process.kill()
        process.wait(30)
    finally:
        process.kill()
        process.communicate()
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in (requests, results):
        (copy / path.name).write_bytes(path.read_bytes())
    (copy / journal_path(results).name).write_bytes(journal_path(results).read_bytes())
    emu.configure(time_scale=0.05)
    client.batch(copy / requests.name, copy / results.name).run()
    assert_exactly_once(emu, copy / results.name, 6)


def _fresh_journal(requests: Path, results: Path) -> None:
    journal = Journal(journal_path(results))
    journal.begin_fill()
    for line, text in enumerate(requests.read_text().splitlines(), start=1):
        data = json.loads(text)
        journal.add(line, data["custom_id"], json.dumps(data))
    journal.finish_fill(_file_binding(requests))
    journal.close()


def test_a_journal_behind_its_results_file_is_refused_not_run_from_scratch(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "results.jsonl"
    client.batch(requests_file, results).run()
    # A journal that lost its commits (all pending) beside the results: nothing is sent.
    for suffix in ("", "-wal", "-shm"):
        Path(str(journal_path(results)) + suffix).unlink(missing_ok=True)
    _fresh_journal(requests_file, results)
    with pytest.raises(SkytellsError) as caught:
        client.batch(requests_file, results).run()
    assert caught.value.error_id == "BATCH_JOURNAL_DAMAGED" and "-wal" in str(caught.value)
    # A journal file with no batch in it (copied before its first checkpoint).
    for suffix in ("", "-wal", "-shm"):
        Path(str(journal_path(results)) + suffix).unlink(missing_ok=True)
    import sqlite3

    db = sqlite3.connect(journal_path(results))
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.commit()
    db.close()
    with pytest.raises(SkytellsError) as caught:
        client.batch(requests_file, results).run()
    assert caught.value.error_id == "BATCH_JOURNAL_DAMAGED"
    assert len(emu.predictions()) == 12 and len(result_lines(results)) == 12


def test_a_truncated_results_file_is_rewritten_from_the_journal(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "results.jsonl"
    client.batch(requests_file, results).run()
    before = {line["custom_id"]: line for line in result_lines(results)}
    data = results.read_bytes()
    results.write_bytes(data[: len(data) // 2])
    assert list(client.batch(requests_file, results)) == []
    assert {line["custom_id"]: line for line in result_lines(results)} == before
    assert results.with_name(results.name + ".changed").read_bytes() == data[: len(data) // 2]
    assert_exactly_once(emu, results, 12)


def test_a_line_appended_to_the_results_file_is_refused_not_cut(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "results.jsonl"
    client.batch(requests_file, results).run()
    first = results.read_text().splitlines()[0]
    for appended in ('{"note": "mine"}\n', first + "\n"):
        data = results.read_bytes()
        results.write_bytes(data + appended.encode())
        with pytest.raises(SkytellsError) as caught:
            client.batch(requests_file, results).run()
        assert caught.value.error_id == "BATCH_RESULTS_CHANGED"
        assert results.read_bytes().endswith(appended.encode())  # not cut
        results.write_bytes(data)
    assert_exactly_once(emu, results, 12)


def test_a_resume_counts_each_result_s_credits_once(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    """Results recorded but not yet written when a run stopped: the resumed run's progress
    counts their credits once."""
    results = tmp_path / "results.jsonl"
    client.batch(requests_file, results).run()
    journal = Journal(journal_path(results))
    for line in range(1, 13):
        journal._set(line, "state = 'terminal'")
    journal.commit(0)  # as if killed after recording them, before writing their lines
    journal.close()
    progress: list[BatchProgress] = []
    client.batch(requests_file, results, on_progress=progress.append).run()
    assert progress[-1].credits == pytest.approx(0.036) and progress[-1].done == 12
    assert_exactly_once(emu, results, 12)


def test_a_resume_removes_the_part_files_a_kill_left_and_no_others(
    client: SkytellsClient, emu: Any, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "results.jsonl"
    outputs = tmp_path / "files"
    client.batch(requests_file, results, outputs_dir=outputs).run()
    ids = [line["id"] for line in result_lines(results)]
    stale = [outputs / f"{ids[0]}.png.0123abcd.part", outputs / f"{ids[1]}-0.webp.deadbeef.part"]
    others = [outputs / "someone-else.png.0123abcd.part", outputs / "notes.part"]
    for path in stale + others:
        path.write_bytes(b"")
    client.batch(requests_file, results, outputs_dir=outputs).run()
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others)


def test_status_says_what_a_journal_that_never_started_or_is_damaged_is(
    client: SkytellsClient, tmp_path: Path, requests_file: Path
) -> None:
    results = tmp_path / "results.jsonl"
    journal = Journal(journal_path(results))
    journal.begin_fill()  # killed while checking its requests: never finished
    journal.add(1, "a", "{}")
    journal._db.execute("COMMIT")
    journal._in_transaction = False
    journal.close()
    with pytest.raises(SkytellsError) as caught:
        client.batch(requests_file, results).status()
    assert caught.value.error_id == "BATCH_NOT_FOUND" and "never started" in str(caught.value)
    journal_path(results).write_bytes(b"this is not a database" * 100)
    with pytest.raises(SkytellsError) as caught:
        client.batch(requests_file, results).status()
    assert caught.value.error_id == "BATCH_JOURNAL_DAMAGED"


def test_numbers_beyond_json_are_bad_lines_not_a_crash(
    client: SkytellsClient, emu: Any, tmp_path: Path
) -> None:
    requests = tmp_path / "big.jsonl"
    head = '{"custom_id": "%s", "model": "' + MODEL + '", "input": {"prompt": "x", '
    lines = [
        head.replace("%s", "a") + '"num_outputs": ' + "9" * 4000 + "}}",
        head.replace("%s", "b") + '"guidance": NaN}}',
        head.replace("%s", "c") + '"seed": Infinity}}',
    ]
    requests.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for run in (
        lambda: client.batch(requests, tmp_path / "r.jsonl").run(),
        lambda: client.batch(requests, tmp_path / "r.jsonl").estimate(),
    ):
        with pytest.raises(SkytellsError) as caught:
            run()
        assert caught.value.error_id == "INVALID_BATCH"
        assert [item["line"] for item in caught.value.details] == [1, 2, 3]
    assert emu.predictions() == []


@pytest.mark.anyio
async def test_the_async_cancel_also_stops_the_requests_not_yet_created(
    aclient: AsyncSkytellsClient, emu: Any, tmp_path: Path
) -> None:
    import asyncio

    emu.configure(time_scale=1000.0)
    emu.add_fault("latency", method="POST", path="/v1/predict", latency_ms=150)
    requests = write_requests(tmp_path / "requests.jsonl", 20)
    results = tmp_path / "results.jsonl"
    runner = asyncio.ensure_future(aclient.batch(requests, results, concurrency=2).run())
    deadline = time.monotonic() + 30
    while len(emu.predictions()) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    cancelled = await aclient.batch(requests, results).cancel()
    made = len(emu.predictions())
    assert 2 <= len(cancelled) == made < 20
    status = await asyncio.wait_for(runner, 60)
    assert status.complete and len(emu.predictions()) == made
    assert {line["status"] for line in result_lines(results)} == {"cancelled"}


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
