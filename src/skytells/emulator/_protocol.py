"""The emulator's HTTP protocol and logging: bounded against clients that never finish.

uvicorn times out idle keep-alive connections (`timeout_keep_alive`) but has no limit on how long
a client may take to send a request's headers: any byte received cancels the keep-alive timer, so
a client that sends half a request line and stops holds its connection (and a file handle)
forever. `guarded_protocol` adds that limit where the headers are parsed: a connection must
complete each request's headers within `header_timeout` seconds of being opened (or of its
previous response), or the server closes it. It also caps how many connections may be waiting
for headers at once (the oldest is closed to make room), so that a flood of such connections
cannot take every file handle before their timeouts end them.

`RateLimitedLog` keeps the log bounded when the same error repeats (say, `accept()` failing with
EMFILE, or thousands of failing requests): each kind is logged a few times, then at most once per
interval with a count of what was suppressed, and without repeating the traceback.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LOG_BURST = 5
"""How many times one kind of error is logged in full before it is rate-limited."""
LOG_INTERVAL_SECONDS = 30.0
"""At most one line per kind of error per this many seconds, once rate-limited."""


def max_pending_connections() -> int:
    """How many connections may wait for their headers at once: half the process's file handle
    limit, between 256 (a burst of new client connections must fit) and 1024."""
    try:
        import resource  # POSIX only
    except ImportError:  # pragma: no cover - Windows
        return 1024
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):  # pragma: no cover - no limit to read
        return 1024
    if soft == resource.RLIM_INFINITY:
        return 1024
    return max(256, min(1024, soft // 2))


def guarded_protocol(header_timeout: float, max_pending: int) -> type[HttpToolsProtocol]:
    """An `HttpToolsProtocol` subclass (one per server: it holds the server's registries of
    connections waiting for a client) that closes connections slow to send their headers and
    caps how many connections may wait for a client at once."""
    # Connections waiting for their client, oldest first: those yet to send a request, idle
    # keep-alive ones, and those still sending a request's body (the guard bounds how slowly:
    # see `_guard.py`). A flood of new connections evicts its own kind first, then idle ones,
    # then the oldest body senders; a newcomer is closed only when nothing else can be.
    fresh: OrderedDict[GuardedProtocol, None] = OrderedDict()
    idle: OrderedDict[GuardedProtocol, None] = OrderedDict()
    body: OrderedDict[GuardedProtocol, None] = OrderedDict()

    def make_room(newcomer: GuardedProtocol) -> None:
        while len(fresh) + len(idle) + len(body) > max_pending:
            victim = newcomer
            for registry in (fresh, idle, body):
                victim = next((c for c in registry if c is not newcomer), newcomer)
                if victim is not newcomer:
                    break
            victim._close_waiting()

    class GuardedProtocol(HttpToolsProtocol):
        """Closes its connection when a request's headers take over `header_timeout` seconds."""

        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            self._headers_done()
            body.pop(self, None)
            super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            self._headers_done()
            super().on_headers_complete()
            body[self] = None  # until the whole request is received
            make_room(self)

        def on_message_complete(self) -> None:
            body.pop(self, None)
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            # Waiting for a new request's headers only if no request is in progress: with a
            # pipeline, the next request may have been parsed already (and is being served).
            if not self.pipeline and (self.cycle is None or self.cycle.response_complete):
                self._await_headers()

        def _await_headers(self) -> None:
            self._headers_done()
            self._header_timer = self.loop.call_later(header_timeout, self._close_waiting)
            (idle if self.cycle is not None else fresh)[self] = None
            make_room(self)

        def _headers_done(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            fresh.pop(self, None)
            idle.pop(self, None)

        def _close_waiting(self) -> None:
            """Close a connection that keeps the server waiting (too slow, or making room)."""
            self._headers_done()
            body.pop(self, None)
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedProtocol


class RateLimitedLog(logging.Filter):
    """A logging filter (and an asyncio exception handler) that bounds repeated errors.

    Only records emitted from the thread named `thread_name` (the emulator's) are limited, so
    other servers in the same process keep their logs as they were.
    """

    def __init__(self, thread_name: str) -> None:
        super().__init__()
        self.thread_name = thread_name
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, str], list[float]] = {}  # kind -> [count, suppressed, last]

    def _admit(self, kind: tuple[str, str]) -> tuple[bool, int]:
        """(log it?, how many of this kind were suppressed since it was last logged)."""
        now = time.monotonic()
        with self._lock:
            entry = self._kinds.setdefault(kind, [0, 0, 0.0])
            entry[0] += 1
            if entry[0] <= LOG_BURST or now - entry[2] >= LOG_INTERVAL_SECONDS:
                suppressed, entry[1], entry[2] = int(entry[1]), 0, now
                return True, suppressed
            entry[1] += 1
            return False, 0

    def filter(self, record: logging.LogRecord) -> bool:
        """Let a record through unless it repeats an error logged too often already."""
        if record.threadName != self.thread_name or record.levelno < logging.WARNING:
            return True
        error = record.exc_info[1] if record.exc_info else None
        kind = (str(record.msg), type(error).__name__ if error is not None else "")
        admitted, suppressed = self._admit(kind)
        if not admitted:
            return False
        if self._kinds[kind][0] > LOG_BURST:  # rate-limited from now on: one line, no traceback
            record.exc_info, record.exc_text = None, None
            note = f" ({error!r}; {suppressed} similar suppressed)"
            record.msg = f"{record.msg}{note.replace('%', '%%') if record.args else note}"
        return True

    def loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """`loop.set_exception_handler` for the emulator's loop: EMFILE accept errors and the
        like are logged through the (rate-limited) asyncio logger, without a traceback once
        they repeat."""
        error = context.get("exception")
        kind = (str(context.get("message")), type(error).__name__ if error is not None else "")
        admitted, suppressed = self._admit(kind)
        if not admitted:
            return
        if self._kinds[kind][0] > LOG_BURST:
            logging.getLogger("asyncio").error(
                "%s (%r; %d similar suppressed)", context.get("message"), error, suppressed
            )
            return
        loop.default_exception_handler(context)
