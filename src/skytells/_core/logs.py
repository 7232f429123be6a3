"""The debug log of long requests (event streams, downloads): a line when one starts, one when
it ends (status, bytes, duration, outcome), URLs shown safely.

Like every request's line (`calls`), nothing is logged and no clock is read unless the
``skytells`` logger is enabled for debug. A URL comes from a server: it is shown without its
query, fragment or credentials (a signed file URL carries its signature there), bounded in
length, with control and non-ASCII characters escaped, so a log line never holds a secret or a
terminal sequence. The key-redacting filter of `skytells._logging` applies as to any record.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit, urlunsplit

from .protocol import Op, now

logger = logging.getLogger("skytells")

MAX_URL_CHARS = 200


def loggable_url(url: str) -> str:
    """``url`` as a log line may show it: no query, fragment or userinfo; escaped; bounded."""
    try:
        parts = urlsplit(url)
        host = parts.netloc.rpartition("@")[2]
        shown = urlunsplit((parts.scheme, host, parts.path, "", ""))
        if parts.query or parts.fragment:
            shown += "?..."
    except ValueError:  # not even a URL: show it escaped all the same
        shown = url
    shown = shown.encode("ascii", "backslashreplace").decode("ascii")
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in shown)
    if len(shown) > MAX_URL_CHARS:
        shown = shown[:MAX_URL_CHARS] + "..."
    return shown


class LongRequest:
    """The debug lines of one long ``GET``: `start()`, then `end(...)` or `abandoned()`.

    ``received`` and ``events`` are counted by the caller while it reads."""

    def __init__(self, what: str, url: str) -> None:
        self.what = what
        self.url = url
        self.enabled = logger.isEnabledFor(logging.DEBUG)
        self.started = 0.0
        self.received = 0
        self.events = 0

    def start(self) -> Op[None]:
        """Log that the request starts (and read the clock for its duration)."""
        if not self.enabled:
            return
        self.started = yield from now()
        logger.debug("GET %s: %s started", loggable_url(self.url), self.what)

    def end(self, outcome: str, status: int | None = None) -> Op[None]:
        """Log how it ended: ``outcome``, the HTTP status, the bytes (and events) and the time."""
        if not self.enabled:
            return
        elapsed = (yield from now()) - self.started
        events = f", {self.events} events" if self.what == "event stream" else ""
        logger.debug(
            "GET %s -> %s: %s ended after %.1f ms, %d bytes%s (%s)",
            loggable_url(self.url),
            "no answer" if status is None else f"HTTP {status}",
            self.what,
            elapsed * 1000,
            self.received,
            events,
            outcome,
        )

    def abandoned(self) -> None:
        """Log that the operation was closed or interrupted mid-request (no clock to ask)."""
        if self.enabled:
            logger.debug(
                "GET %s: %s abandoned after %d bytes",
                loggable_url(self.url),
                self.what,
                self.received,
            )
