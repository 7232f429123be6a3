"""`skytells._core.pacing`: additive increase, multiplicative decrease, and the budget's pace."""

from __future__ import annotations

from skytells._core.pacing import DEFAULT_PAUSE, Aimd, spacing
from skytells._core.ratelimits import Budget
from skytells._core.retry import RetryPolicy

AMPLE = Budget()


def test_answers_raise_the_limit_by_about_one_per_round() -> None:
    aimd = Aimd(4, ceiling=8)
    for _ in range(5):  # 4 + 1/4 + 1/4.25 + ...
        aimd.succeeded()
    assert aimd.limit == 5
    for _ in range(100):
        aimd.succeeded()
    assert aimd.limit == 8  # never past the ceiling


def test_a_429_halves_the_limit_once_per_pause_and_pauses_everyone() -> None:
    aimd = Aimd(16)
    aimd.throttled(10.0, 2.0)
    assert aimd.limit == 8 and aimd.delay(10.0, AMPLE) == 2.0
    aimd.throttled(10.1, 2.0)  # the same window's 429s: counted, not halved again
    assert aimd.limit == 8 and aimd.throttled_count == 2 and aimd.decreases == 1
    assert aimd.delay(12.1, AMPLE) == 0.0
    aimd.throttled(13.0, None, attempt=0)  # no Retry-After: a default pause
    assert aimd.limit == 4 and aimd.delay(13.0, AMPLE) == DEFAULT_PAUSE
    for _ in range(10):
        aimd.throttled(100.0 + _ * 10, 1.0)
    assert aimd.limit == 1 and aimd.lowest == 1  # never below the floor


def test_it_recovers_after_backing_off() -> None:
    aimd = Aimd(16)
    aimd.throttled(0.0, 1.0)
    aimd.throttled(5.0, 1.0)
    assert aimd.limit == 4
    for _ in range(60):
        aimd.succeeded()
    assert aimd.limit >= 11


def test_a_low_budget_spreads_the_starts_over_the_window() -> None:
    assert spacing(Budget(100, 50, 60.0)) == 0.0
    assert spacing(Budget(100, 10, 60.0)) == 6.0
    assert spacing(Budget(100, 0, 60.0)) == 60.0
    assert spacing(Budget(None, 3, 60.0)) == 0.0
    aimd = Aimd(4)
    aimd.started(1.0, Budget(100, 10, 60.0))
    assert aimd.delay(1.0, AMPLE) == 6.0 and aimd.delay(7.0, AMPLE) == 0.0


def test_a_retry_after_of_0_still_pauses_for_the_retry_backoff() -> None:
    """``Retry-After: 0`` in a row: the pause never drops below the policy's backoff, which
    grows with the attempt (or, for polls, with the 429s in a row) up to ``max_delay``."""
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, jitter=0.0)
    aimd = Aimd(4, policy=policy)
    assert aimd.throttled(0.0, 0.0, attempt=0) == 0.5
    assert aimd.delay(0.0, AMPLE) == 0.5 and aimd.paused(0.25) == 0.25
    assert aimd.throttled(1.0, 0.0, attempt=2) == 2.0
    pauses = [aimd.throttled(10.0 * n, 0.0) for n in range(2, 10)]
    assert pauses[0] == 0.5 * 2**2 and pauses[-1] == 8.0  # a streak, capped at max_delay
    aimd.succeeded()
    assert aimd.throttled(200.0, 0.0) == 0.5  # an answer ended the streak


def test_a_retry_after_above_max_retry_after_is_not_waited_out() -> None:
    aimd = Aimd(4, policy=RetryPolicy(max_retry_after=60.0, jitter=0.0))
    assert aimd.throttled(0.0, 100_000.0) is None
    assert aimd.delay(0.0, AMPLE) == 0.0 and aimd.throttled_count == 0 and aimd.limit == 4
    assert aimd.throttled(0.0, 60.0) == 60.0
