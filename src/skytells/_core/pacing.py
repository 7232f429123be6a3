"""The pace of a long batch: how many requests in flight, and when the next may start.

Additive increase, multiplicative decrease (AIMD), as TCP does: every answered request raises the
concurrency by about one per round of requests in flight, every 429 halves it (once per
``Retry-After``, so a burst of 429s from one full window counts once) and pauses every request
until the server's ``Retry-After`` has passed. Between 429s, the account's budget headers set the
pace: while less than a fifth of the window's requests remain, starts are spread over the rest of
the window. So a long batch neither stalls nor hammers. Times are seconds on the caller's
monotonic clock; nothing here reads a clock.

A pause follows the client's retry policy (`RetryPolicy`), as every other call of the SDK does:
it is never shorter than the policy's backoff for the number of 429s in a row (so a
``Retry-After: 0`` storm cannot spin), and a ``Retry-After`` above ``max_retry_after`` is not
waited out at all (`throttled` returns None: the caller stops).
"""

from __future__ import annotations

from .ratelimits import LOW_FRACTION, Budget
from .retry import RetryPolicy

DEFAULT_PAUSE = 1.0
"""The pause after a 429 that gave no ``Retry-After``."""


class Aimd:
    """The concurrency and pauses of one batch (not thread-safe: one event loop owns it)."""

    def __init__(
        self,
        start: int,
        ceiling: int | None = None,
        floor: int = 1,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.policy = policy if policy is not None else RetryPolicy()
        self.streak = 0
        """429s since the last answered request: the floor of the next pause grows with it."""
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
        self.streak = 0

    def throttled(
        self, now: float, retry_after: float | None, attempt: int | None = None
    ) -> float | None:
        """A request got a 429: halve (once per pause) and pause everyone until it has passed.

        Returns the pause (at least the policy's backoff for ``attempt``, the request's 0-based
        attempt, or else for the number of 429s in a row), or None
        when ``retry_after`` is above the policy's ``max_retry_after``: nothing is paused, the
        caller gives up as the rest of the SDK does."""
        if retry_after is not None and retry_after > self.policy.max_retry_after:
            return None
        self.throttled_count += 1
        floor = self.policy.backoff(min(self.streak if attempt is None else attempt, 30))
        self.streak += 1
        pause = max(DEFAULT_PAUSE if retry_after is None else max(retry_after, 0.0), floor)
        self.paused_until = max(self.paused_until, now + pause)
        if now >= self._calm_until:
            self._limit = max(float(self.floor), self._limit / 2)
            self.decreases += 1
            self.lowest = min(self.lowest, self._limit)
        self._calm_until = max(self._calm_until, now + max(pause, 0.05))
        return pause

    def paused(self, now: float) -> float:
        """Seconds left of the current pause after a 429 (0: not paused)."""
        return max(0.0, self.paused_until - now)

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
