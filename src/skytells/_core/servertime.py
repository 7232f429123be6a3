"""The server's clock as this client has measured it: the offset from this machine's clock.

Every answer's ``Date`` header says the server's time (to the second) at some instant between
the request's send and the answer's arrival on this machine's clock, so each one bounds the
offset (server minus local): ``Date - received <= offset < Date + 1 - sent``. The bounds of
successive answers are intersected; one that does not overlap them (a clock was stepped) starts
the estimate again. What the reconcile of a create of unknown outcome needs is the lower bound:
the server's time at the first attempt is at least ``first attempt + lower bound``, and the
prediction's ``created_at`` comes after it (`reconcile.window_start`).

Nothing a server says is trusted beyond reason: an answer that took longer than `MAX_WIDTH` to
come bounds nothing useful and is ignored, and so is an offset beyond `MAX_OFFSET` (a date a
day away is a broken clock or a hostile server: the skew allowance applies instead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

__all__ = ["MAX_OFFSET", "MAX_WIDTH", "ServerClock", "http_date"]

MAX_WIDTH = 10.0
"""Seconds: an answer whose bounds are wider than this (a slow exchange) is not used."""
MAX_OFFSET = 86_400.0
"""Seconds: a measured offset beyond this is not believed."""


def http_date(raw: str | None) -> float | None:
    """An HTTP date (``Date`` header, RFC 9110: ``Sun, 06 Nov 1994 08:49:37 GMT``) in seconds
    since the epoch; None if absent or unreadable."""
    if not raw or len(raw) > 64:
        return None
    import email.utils  # only the first answer pays the import

    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    try:
        return when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


class ServerClock:
    """The offset (seconds, server minus local) as bounded by the answers seen; lock-free: the
    bounds are one tuple, replaced whole."""

    __slots__ = ("_bounds", "_last_raw", "_last_value")

    def __init__(self) -> None:
        self._bounds: tuple[float, float] | None = None
        self._last_raw: str | None = None
        self._last_value: float | None = None

    def observe(self, headers: Mapping[str, str], sent: float, received: float) -> None:
        """Record the ``Date`` of an answer to a request sent at ``sent`` and received at
        ``received`` (this machine's wall clock, seconds since the epoch)."""
        raw = headers.get("date")
        if raw is None:
            return
        if raw == self._last_raw:  # most answers of a second share their Date: parsed once
            date = self._last_value
        else:
            date = http_date(raw)
            self._last_raw, self._last_value = raw, date
        if date is None:
            return
        self.bound(date - received, date + 1.0 - sent)

    def bound(self, low: float, high: float) -> None:
        """Narrow the estimate to ``low <= offset < high`` (one measurement)."""
        if not (high - low <= MAX_WIDTH and low >= -MAX_OFFSET and high <= MAX_OFFSET):
            return
        current = self._bounds
        if current is not None:
            narrowed = (max(current[0], low), min(current[1], high))
            if narrowed[0] < narrowed[1]:
                self._bounds = narrowed
                return
        self._bounds = (low, high)  # the first, or a clock was stepped: start again

    @property
    def bounds(self) -> tuple[float, float] | None:
        """``(low, high)`` of the offset, or None while nothing measured it."""
        return self._bounds

    def lower(self) -> float | None:
        """The lower bound of the offset (server minus local), or None if unmeasured."""
        bounds = self._bounds
        return None if bounds is None else bounds[0]
