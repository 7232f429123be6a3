"""The polling schedule of `wait()` and `run()`: quick first checks, then backing off.

The first check is immediate (done by the caller). After it, gaps start at 0.25 s and double
up to ``interval`` (the seed's ``interval``, 5 s by default, stays the longest gap). Once the
prediction reports ``metrics.progress`` twice, the schedule estimates the time left from the
observed rate and sleeps about that long instead, still never longer than ``interval``: a
prediction that will finish in 0.4 s is checked in about 0.4 s, and a long video is not checked
every quarter second. While the account's request budget runs low (the rate-limit headers), the
gaps widen to spread the remaining requests over the window, still never past ``interval``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .._exceptions import ValidationError
from .ratelimits import RateLimitTracker

FIRST_DELAY = 0.25
MIN_DELAY = 0.05


def wait_limits(
    interval_ms: float | None, max_wait_ms: float | None, default_interval_ms: float
) -> tuple[float, float]:
    """``(interval, budget)`` of a wait in seconds (``budget`` inf: no limit; the wait's
    deadline is the time it starts plus ``budget``), from the caller's ``interval`` and
    ``max_wait`` (ms). The one check every wait
    (`wait`, `run`, `stream`, `wait_many`, `run_many`) makes before its first request: the
    interval must be a positive number (0 would poll without pause), ``max_wait`` a number >= 0.
    """
    interval = _ms(default_interval_ms if interval_ms is None else interval_ms)
    if interval is None or not 0 < interval < math.inf:
        raise ValidationError(
            f"options.interval must be a positive number of ms, got {interval_ms!r}"[:200],
            "INVALID_PARAMETER",
        )
    if max_wait_ms is None:
        return interval / 1000, math.inf
    max_wait = _ms(max_wait_ms)
    if max_wait is None or not max_wait >= 0:
        raise ValidationError(
            f"options.max_wait must be a number of ms >= 0, got {max_wait_ms!r}"[:200],
            "INVALID_PARAMETER",
        )
    return interval / 1000, max_wait / 1000


def _ms(value: object) -> float | None:
    """A number of ms as a float (an integer too large for one is infinite); None if no number."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


class PollSchedule:
    """Yields the pause before each next check."""

    def __init__(self, interval: float, rate_limits: RateLimitTracker | None = None) -> None:
        self.interval = interval
        self.rate_limits = rate_limits
        self._backoff = min(FIRST_DELAY, interval)
        self._first_seen: tuple[float, float] | None = None

    def next_delay(self, current: Mapping[str, Any] | None, now: float) -> float:
        """The pause before the next check, given the last state seen and the time (monotonic)."""
        delay = self._backoff
        self._backoff = min(self.interval, self._backoff * 2)
        eta = self._estimate_remaining(current, now)
        if eta is not None:
            delay = max(MIN_DELAY, eta)
        if self.rate_limits is not None:
            delay = max(delay, self.rate_limits.polling_floor())
        return min(delay, self.interval)

    def _estimate_remaining(self, current: Mapping[str, Any] | None, now: float) -> float | None:
        progress = _progress(current)
        if progress is None:
            return None
        if self._first_seen is None:
            self._first_seen = (now, progress)
            return None
        t0, p0 = self._first_seen
        if progress <= p0 or now <= t0:
            return None
        rate = (progress - p0) / (now - t0)
        return (100.0 - progress) / rate


def _progress(current: Mapping[str, Any] | None) -> float | None:
    metrics = current.get("metrics") if current else None
    value = metrics.get("progress") if isinstance(metrics, Mapping) else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 100:
        return float(value)
    return None
