"""Which origins do not serve an event stream at a prediction's ``urls.stream``.

The format at ``urls.stream`` is not documented by the service (spec §6); the SDK follows it when
it is Server-Sent Events and polls otherwise. Trying the stream costs one request, so once an
origin has answered `REFUSALS` stream requests in a row with a success that is not
``text/event-stream`` (or 406 Not Acceptable), waits on that origin go straight to polling for
`FORGET_AFTER` seconds. One answer is not enough: a server might answer JSON for a prediction
that has just ended and stream the others.
"""

from __future__ import annotations

from urllib.parse import urlsplit

FORGET_AFTER = 600.0
REFUSALS = 2

Origin = tuple[str, str, int | None]


def origin(url: str) -> Origin:
    """Scheme, lower-case host and port (the scheme's default if none) of ``url``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "", "", None
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port or default


class StreamSupport:
    """What one client learnt of its stream URLs (shared by its derived clients).

    Lock-free: every change is one dictionary operation (atomic in CPython, free-threaded
    builds included); a count lost to a race only delays the switch to polling by one request.
    Times are monotonic instants the caller read (`Now`)."""

    def __init__(self) -> None:
        self._refused: dict[Origin, float] = {}
        self._in_a_row: dict[Origin, int] = {}

    def usable(self, url: str, now: float) -> bool:
        """False while ``url``'s origin is known not to serve event streams."""
        key = origin(url)
        since = self._refused.get(key)
        if since is None:
            return True
        if now - since < FORGET_AFTER:
            return False
        self._refused.pop(key, None)
        return True

    def answered(self, url: str, status: int, now: float) -> None:
        """Record that ``url`` answered ``status`` without an event stream."""
        if 200 <= status < 300 or status == 406:
            key = origin(url)
            count = self._in_a_row.get(key, 0) + 1
            self._in_a_row[key] = count
            if count >= REFUSALS:
                self._refused[key] = now
                self._in_a_row.pop(key, None)

    def served(self, url: str) -> None:
        """Record that ``url`` answered with an event stream."""
        key = origin(url)
        self._in_a_row.pop(key, None)
        self._refused.pop(key, None)
