"""`schedule`: the polling schedule of a wait, and the check of a wait's options (fake clock)."""

from __future__ import annotations

import math

import pytest

import skytells
from skytells._core.ratelimits import RateLimitTracker
from skytells._core.schedule import PollSchedule, wait_limits


def test_backoff_schedule_reaches_the_interval() -> None:
    schedule = PollSchedule(5.0)
    assert [schedule.next_delay(None, 0.0) for _ in range(7)] == [0.25, 0.5, 1, 2, 4, 5, 5]


def test_progress_rate_estimates_the_time_left() -> None:
    schedule = PollSchedule(5.0)
    schedule.next_delay({"metrics": {"progress": 10}}, 1000.0)
    # 10% -> 30% in 1 s: 70% left at 20%/s is 3.5 s
    assert schedule.next_delay({"metrics": {"progress": 30}}, 1001.0) == pytest.approx(3.5)


def test_no_progress_or_no_time_passed_gives_no_estimate() -> None:
    schedule = PollSchedule(5.0)
    schedule.next_delay({"metrics": {"progress": 10}}, 1000.0)
    assert schedule.next_delay({"metrics": {"progress": 10}}, 1005.0) == 0.5  # the backoff
    assert schedule.next_delay({"metrics": {"progress": 50}}, 1000.0) == 1.0  # no time passed


def test_rate_limit_headers_widen_the_gaps() -> None:
    tracker = RateLimitTracker()
    schedule = PollSchedule(30.0, tracker)
    assert schedule.next_delay(None, 0.0) == 0.25  # no budget information: the quick schedule
    tracker.observe(
        {
            "x-skytells-ratelimit-limit-requests": "100",
            "x-skytells-ratelimit-remaining-requests": "50",
            "x-skytells-ratelimit-window": "60s",
        }
    )
    assert schedule.next_delay(None, 0.0) == 0.5  # half the budget left: ample
    tracker.observe(
        {
            "x-skytells-ratelimit-limit-requests": "100",
            "x-skytells-ratelimit-remaining-requests": "5",
            "x-skytells-ratelimit-window": "60s",
        }
    )
    assert schedule.next_delay(None, 0.0) == 12.0  # 5 requests for 60 s
    assert PollSchedule(5.0, tracker).next_delay(None, 0.0) == 5.0  # never past the interval


def test_wait_limits_give_the_interval_and_the_budget() -> None:
    assert wait_limits(None, None, 5000) == (5.0, math.inf)
    assert wait_limits(1500, 2600, 5000) == (1.5, 2.6)
    assert wait_limits(None, 0, 5000) == (5.0, 0.0)


@pytest.mark.parametrize(
    ("interval", "max_wait"),
    [(0, None), (-1, None), (float("nan"), None), (True, None), ("5", None), (None, -1)],
)
def test_bad_wait_options_are_refused(interval: object, max_wait: object) -> None:
    with pytest.raises(skytells.ValidationError) as info:
        wait_limits(interval, max_wait, 5000)  # type: ignore[arg-type]
    assert info.value.error_id == "INVALID_PARAMETER"
