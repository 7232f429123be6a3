"""The waiting strategy, driven by hand with a fake clock (deterministic, no real time)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import skytells
from skytells._core import operations as _operations
from skytells._core import schedule as _waiting
from skytells._core.config import ClientConfig
from skytells._core.protocol import HttpRequest, RawResponse, Sleep
from skytells._core.schedule import PollSchedule


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    fake = FakeClock()
    for module in (_operations, _waiting, skytells._core.calls):
        monkeypatch.setattr(module.time, "monotonic", fake)  # type: ignore[attr-defined]
    yield fake


def respond(status: str, progress: float | None = None) -> RawResponse:
    body: dict[str, Any] = {"id": "p1", "status": status}
    if progress is not None:
        body["metrics"] = {"progress": progress}
    import json

    return RawResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())


def drive(op: Any, clock: FakeClock, answers: Iterator[RawResponse]) -> tuple[list[str], Any]:
    """Run an operation: answer requests from `answers`, advance the clock on sleeps."""
    log: list[str] = []
    value: Any = None
    while True:
        try:
            action = op.send(value)
        except StopIteration as stop:
            return log, stop.value
        if isinstance(action, Sleep):
            log.append(f"sleep {action.seconds:g}")
            clock.now += action.seconds
            value = None
        elif isinstance(action, HttpRequest):
            log.append(f"{action.method} {action.path}")
            value = next(answers)
        else:
            value = None


def test_backoff_schedule_reaches_the_interval() -> None:
    schedule = PollSchedule(5.0)
    assert [schedule.next_delay(None) for _ in range(7)] == [0.25, 0.5, 1, 2, 4, 5, 5]


def test_progress_rate_estimates_the_time_left(clock: FakeClock) -> None:
    schedule = PollSchedule(5.0)
    schedule.next_delay({"metrics": {"progress": 10}})
    clock.now += 1.0
    # 10% -> 30% in 1 s: 70% left at 20%/s is 3.5 s
    assert schedule.next_delay({"metrics": {"progress": 30}}) == pytest.approx(3.5)


def test_first_check_is_immediate_then_backs_off(clock: FakeClock) -> None:
    config = ClientConfig(api_key="k")
    answers = iter(
        [respond("processing"), respond("processing"), respond("processing"), respond("succeeded")]
    )
    log, result = drive(
        _operations.wait_for(config, {"id": "p1", "status": "pending"}), clock, answers
    )
    assert log == [
        "GET /predictions/p1",
        "sleep 0.25",
        "GET /predictions/p1",
        "sleep 0.5",
        "GET /predictions/p1",
        "sleep 1",
        "GET /predictions/p1",
    ]
    assert result["status"] == "succeeded"


def test_max_wait_never_overshoots(clock: FakeClock) -> None:
    config = ClientConfig(api_key="k")
    start = clock.now
    answers = iter([respond("processing")] * 50)
    op = _operations.wait_for(config, "p1", interval_ms=5000, max_wait_ms=2600)
    with pytest.raises(skytells.WaitTimeoutError) as info:
        drive(op, clock, answers)
    assert clock.now - start == pytest.approx(2.6)  # the last sleep was cut to the deadline
    assert info.value.prediction_id == "p1"


def test_interval_caps_every_gap(clock: FakeClock) -> None:
    config = ClientConfig(api_key="k")
    answers = iter([respond("processing")] * 8 + [respond("canceled")])
    log, result = drive(_operations.wait_for(config, "p1", interval_ms=1500), clock, answers)
    sleeps = [float(entry.split()[1]) for entry in log if entry.startswith("sleep")]
    assert max(sleeps) == 1.5 and result["status"] == "canceled"


def test_rate_limit_headers_widen_the_gaps() -> None:
    from skytells._core.ratelimits import RateLimitTracker, parse_window

    tracker = RateLimitTracker()
    schedule = PollSchedule(30.0, tracker)
    assert schedule.next_delay(None) == 0.25  # no budget information: the quick schedule
    tracker.observe(
        {
            "x-skytells-ratelimit-limit-requests": "100",
            "x-skytells-ratelimit-remaining-requests": "50",
            "x-skytells-ratelimit-window": "60s",
        }
    )
    assert schedule.next_delay(None) == 0.5  # half the budget left: ample
    tracker.observe(
        {
            "x-skytells-ratelimit-limit-requests": "100",
            "x-skytells-ratelimit-remaining-requests": "5",
            "x-skytells-ratelimit-window": "60s",
        }
    )
    assert schedule.next_delay(None) == 12.0  # 5 requests for 60 s
    assert PollSchedule(5.0, tracker).next_delay(None) == 5.0  # never past the interval
    assert [parse_window(v) for v in ("60s", "60", "1m", "500ms", "-", None, "soon")] == [
        60.0,
        60.0,
        60.0,
        0.5,
        None,
        None,
        None,
    ]


def test_the_tracker_reads_the_emulators_headers(client: Any, emu: Any) -> None:
    emu.configure(rate_limit=40)
    client.models.list()
    tracker = client._config.rate_limits
    assert (tracker.limit, tracker.remaining, tracker.window) == (40, 39, 60.0)
    assert client.with_options(max_retries=0)._config.rate_limits is tracker  # one budget
