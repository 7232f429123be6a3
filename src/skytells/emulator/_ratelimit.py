"""Per-key request limits in fixed one-minute windows, and the rate-limit headers."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from ._config import RATE_LIMIT_WINDOW_SECONDS
from ._errors import ApiError

LIMIT_HEADER = "x-skytells-ratelimit-limit-requests"
REMAINING_HEADER = "x-skytells-ratelimit-remaining-requests"
WINDOW_HEADER = "x-skytells-ratelimit-window"
UNLIMITED_HEADERS = {LIMIT_HEADER: "-", REMAINING_HEADER: "-", WINDOW_HEADER: "-"}
"""The headers when no limit is configured (`-` means "not configured")."""


class RateLimiter:
    """Counts requests per API key in fixed windows (60 s by default) that start at a key's first
    request.

    A request over the limit is refused with 429 `RATE_LIMIT_EXCEEDED`, `Retry-After` set to the
    whole seconds left in the window (at least 1) and `retry-after-ms` to the exact wait; refused
    requests are not counted.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(
        self, key: str, limit: int | None, seconds: float = RATE_LIMIT_WINDOW_SECONDS
    ) -> dict[str, str]:
        """Count one request by `key` in windows of `seconds`; the headers for a 2xx answer, or
        ApiError 429."""
        if limit is None:
            return UNLIMITED_HEADERS
        now = self._clock()
        start, count = self._windows.get(key, (now, 0))
        if now - start >= seconds:
            start, count = now, 0
        window = f"{seconds:g}s"
        if count >= limit:
            left = start + seconds - now
            retry_after = max(1, math.ceil(left))
            raise ApiError(
                429,
                "RATE_LIMIT_EXCEEDED",
                f"Rate limit of {limit} requests per minute exceeded",
                {"limit": limit, "window": window, "retry_after": retry_after},
                headers={
                    "Retry-After": str(retry_after),
                    "retry-after-ms": str(max(1, math.ceil(left * 1000))),
                    LIMIT_HEADER: str(limit),
                    REMAINING_HEADER: "0",
                    WINDOW_HEADER: window,
                },
            )
        self._windows[key] = (start, count + 1)
        return {
            LIMIT_HEADER: str(limit),
            REMAINING_HEADER: str(limit - count - 1),
            WINDOW_HEADER: window,
        }

    def reset(self) -> None:
        """Forget every window."""
        self._windows.clear()
