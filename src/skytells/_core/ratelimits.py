"""What the service says of the account's request budget, and how waiting spends it.

Every response may carry ``x-skytells-ratelimit-limit-requests``,
``x-skytells-ratelimit-remaining-requests`` and ``x-skytells-ratelimit-window`` (``-`` when no
limit is configured). Polling too fast burns the account's budget, so while less than a fifth of
the window's budget remains, the polling schedule spreads the remaining requests over the rest of
the window (never past the caller's ``interval``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

LIMIT = "x-skytells-ratelimit-limit-requests"
REMAINING = "x-skytells-ratelimit-remaining-requests"
WINDOW = "x-skytells-ratelimit-window"
LOW_FRACTION = 0.2
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class Budget(NamedTuple):
    """One response's view of the budget: requests allowed per window, left, and the window."""

    limit: int | None = None
    remaining: int | None = None
    window: float | None = None


class RateLimitTracker:
    """The latest budget seen by one client (shared by its derived clients).

    Lock-free: the budget is an immutable `Budget` replaced whole by each response, so any
    thread or task reads a consistent one."""

    def __init__(self) -> None:
        self.budget = Budget()

    @property
    def limit(self) -> int | None:
        """Requests allowed per window, as last seen."""
        return self.budget.limit

    @property
    def remaining(self) -> int | None:
        """Requests left in the window, as last seen."""
        return self.budget.remaining

    @property
    def window(self) -> float | None:
        """The window, in seconds, as last seen."""
        return self.budget.window

    def observe(self, headers: Mapping[str, str]) -> None:
        """Record the budget headers of a response, if it has them."""
        remaining = headers.get(REMAINING)
        if remaining is None:
            return
        self.budget = Budget(
            _int(headers.get(LIMIT)), _int(remaining), parse_window(headers.get(WINDOW))
        )

    def polling_floor(self) -> float:
        """The smallest gap between polls that keeps the budget from running out (0 if ample)."""
        limit, remaining, window = self.budget
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
