"""What the service says of the account's request budget, and how waiting spends it.

Every response may carry ``x-skytells-ratelimit-limit-requests``,
``x-skytells-ratelimit-remaining-requests`` and ``x-skytells-ratelimit-window`` (``-`` when no
limit is configured). Polling too fast burns the account's budget, so while less than a fifth of
the window's budget remains, the polling schedule spreads the remaining requests over the rest of
the window (never past the caller's ``interval``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

from .._io.fork import track

LIMIT = "x-skytells-ratelimit-limit-requests"
REMAINING = "x-skytells-ratelimit-remaining-requests"
WINDOW = "x-skytells-ratelimit-window"
LOW_FRACTION = 0.2
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class RateLimitTracker:
    """The latest budget seen by one client (shared by its derived clients; thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.window: float | None = None
        track(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held at the fork

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record the budget headers of a response, if it has them."""
        remaining = headers.get(REMAINING)
        if remaining is None:
            return
        with self._lock:
            self.remaining = _int(remaining)
            self.limit = _int(headers.get(LIMIT))
            self.window = parse_window(headers.get(WINDOW))

    def polling_floor(self) -> float:
        """The smallest gap between polls that keeps the budget from running out (0 if ample)."""
        with self._lock:
            limit, remaining, window = self.limit, self.remaining, self.window
        if limit is None or remaining is None or window is None or limit <= 0:
            return 0.0
        if remaining >= limit * LOW_FRACTION:
            return 0.0
        return window / max(remaining, 1)


def parse_window(value: str | None) -> float | None:
    """``"60s"``, ``"60"``, ``"1m"``, ``"500ms"`` -> seconds; ``"-"`` or junk -> None."""
    if not value:
        return None
    match = _DURATION.match(value)
    if not match:
        return None
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def _int(value: str | None) -> int | None:
    if value is None or value == "-":  # absent, or "no budget" (cheaper than the exception)
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None
