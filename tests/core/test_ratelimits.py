"""`ratelimits`: the account's request budget read from the rate-limit headers."""

from __future__ import annotations

from skytells._core.ratelimits import RateLimitTracker, parse_window

HEADERS = {
    "x-skytells-ratelimit-limit-requests": "100",
    "x-skytells-ratelimit-remaining-requests": "10",
    "x-skytells-ratelimit-window": "1m",
}


def test_windows_are_parsed() -> None:
    assert [parse_window(v) for v in ("60s", "60", "1m", "500ms", "-", None, "soon")] == [
        60.0,
        60.0,
        60.0,
        0.5,
        None,
        None,
        None,
    ]


def test_a_response_with_the_headers_replaces_the_budget_whole() -> None:
    tracker = RateLimitTracker()
    assert (tracker.limit, tracker.remaining, tracker.window) == (None, None, None)
    tracker.observe(HEADERS)
    assert (tracker.limit, tracker.remaining, tracker.window) == (100, 10, 60.0)
    tracker.observe({"content-type": "application/json"})  # no budget headers: kept
    assert tracker.remaining == 10
    tracker.observe({"x-skytells-ratelimit-remaining-requests": "junk"})
    assert (tracker.limit, tracker.remaining, tracker.window) == (None, None, None)


def test_the_polling_floor_spreads_a_low_budget_over_the_window() -> None:
    tracker = RateLimitTracker()
    assert tracker.polling_floor() == 0.0
    tracker.observe(HEADERS)  # 10 of 100 left: low
    assert tracker.polling_floor() == 6.0
    tracker.observe({**HEADERS, "x-skytells-ratelimit-remaining-requests": "0"})
    assert tracker.polling_floor() == 60.0
    tracker.observe({**HEADERS, "x-skytells-ratelimit-remaining-requests": "20"})
    assert tracker.polling_floor() == 0.0  # a fifth left: ample
    tracker.observe({**HEADERS, "x-skytells-ratelimit-window": "-"})
    assert tracker.polling_floor() == 0.0  # no limit configured
