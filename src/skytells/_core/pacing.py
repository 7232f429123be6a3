"""The pace of a long batch: how many requests in flight, and when the next may start.

Additive increase, multiplicative decrease (AIMD), as TCP does: every answered request raises the
concurrency by about one per round of requests in flight, every 429 halves it (once per
``Retry-After``, so a burst of 429s from one full window counts once) and pauses every request
until the server's ``Retry-After`` has passed. Between 429s, the account's budget headers set the
pace: while less than a fifth of the window's requests remain, starts are spread over the rest of
the window. So a long batch neither stalls nor hammers. Times are seconds on the caller's
monotonic clock; nothing here reads a clock.
"""

from __future__ import annotations

from .ratelimits import LOW_FRACTION, Budget

DEFAULT_PAUSE = 1.0
"""The pause after a 429 that gave no ``Retry-After``."""


class Aimd:
    """The concurrency and pauses of one batch (not thread-safe: one event loop owns it)."""

    def __init__(self, start: int, ceiling: int | None = None, floor: int = 1) -> None:
        self.ceiling = max(floor, ceiling if ceiling is not None else start)
        self.floor = floor
        self._limit = float(min(max(start, floor), self.ceiling))
        self.paused_until = 0.0
        self._calm_until = 0.0
        self._next_start = 0.0
        self.throttled_count = 0
        self.decreases = 0
        self.lowest = self._limit

    @property
    def limit(self) -> int:
        """Requests that may be in flight now."""
        return max(self.floor, int(self._limit))

    def succeeded(self) -> None:
        """A request was answered (not with a 429): grow by 1 per `limit` answers."""
        self._limit = min(float(self.ceiling), self._limit + 1.0 / max(self._limit, 1.0))

    def throttled(self, now: float, retry_after: float | None) -> None:
        """A request got a 429: halve (once per pause) and pause everyone until it has passed."""
        self.throttled_count += 1
        pause = DEFAULT_PAUSE if retry_after is None else max(retry_after, 0.0)
        self.paused_until = max(self.paused_until, now + pause)
        if now >= self._calm_until:
            self._limit = max(float(self.floor), self._limit / 2)
            self.decreases += 1
            self.lowest = min(self.lowest, self._limit)
        self._calm_until = max(self._calm_until, now + max(pause, 0.05))

    def delay(self, now: float, budget: Budget) -> float:
        """Seconds to wait before the next request may start (0: now)."""
        return max(0.0, self.paused_until - now, self._next_start - now)

    def started(self, now: float, budget: Budget) -> None:
        """A request starts now: the next one waits for its share of a low budget."""
        self._next_start = now + spacing(budget)


def spacing(budget: Budget) -> float:
    """The gap between request starts that spreads a low budget over the window (0 if ample)."""
    limit, remaining, window = budget
    if limit is None or remaining is None or window is None or limit <= 0:
        return 0.0
    if remaining >= limit * LOW_FRACTION:
        return 0.0
    return window / max(remaining, 1)
