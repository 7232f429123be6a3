"""A client in a forked process: the child never touches what the parent has open.

A process forked from one that made a client (``multiprocessing``'s default start method on
Linux, gunicorn ``--preload``, Celery's prefork pool) inherits copies of the client's pooled
sockets, which are the parent's connections: two processes writing requests on one connection
read each other's responses. It inherits copies of the parent's event-loop objects too, whose
selector is shared with the parent, so even closing an inherited aiohttp session in the child
would unregister the parent's sockets from the parent's loop.

So in the child every `HttpPool` forgets its inherited HTTP client, without closing it, and makes
a fresh one on its first request; the inherited objects are kept here, never used, closed nor
finalised, and go with the process. Locks, which another thread of the parent may have held at the
fork, are made anew (`ForkAware`). An ``os.register_at_fork`` hook does this in the child before
anything else runs; each request also compares the process id, for a fork that bypassed the hook.
An ``http_client`` passed in by the user cannot be remade: using it in the child raises
`SkytellsError` (``CLIENT_FORKED``).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from .._exceptions import SkytellsError
from .errors import CLOSED_HINT, client_closed_error

H = TypeVar("H")

_inherited: list[object] = []
"""What children forgot: kept so that no finaliser closes the parent's connections."""


class ForkAware(Protocol):
    """An object with state that a forked child must not share (a lock, a pool)."""

    def _after_fork_in_child(self) -> None: ...


_live: weakref.WeakSet[ForkAware] = weakref.WeakSet()


def track(obj: ForkAware) -> None:
    """Call ``obj._after_fork_in_child()`` in every process forked from this one."""
    _live.add(obj)


def _after_fork_in_child() -> None:
    for obj in list(_live):
        obj._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def forked_error(kind: str) -> SkytellsError:
    """The error of a client used in a child process with the parent's ``http_client``."""
    return SkytellsError(
        f"This {kind} was made in another process, which this one was forked from, with an "
        "http_client of yours: its connections belong to that process and two processes cannot "
        "share them. Make the client and its http_client in this process (e.g. in the worker's "
        "start-up hook); a client without http_client reconnects by itself after a fork.",
        "CLIENT_FORKED",
    )


class HttpPool(Generic[H]):
    """The HTTP client (connection pool) of a client and its derived clients, for this process.

    ``make`` builds a new one on the first request (``http`` None: made lazily; in a forked
    child: anew); None means the HTTP client was the user's (``http_client=``), which the child
    cannot use: `get` raises then.
    """

    def __init__(self, http: H | None, make: Callable[[], H] | None, kind: str) -> None:
        self._http: H | None = http
        self._make = make
        self._kind = kind
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._closed: str | None = None
        track(self)

    def close(self, hint: str | None = None) -> None:
        """Refuse every later request with `SkytellsError` ``CLIENT_CLOSED`` (``hint``: why it
        is closed and what to do instead; the first one given stays); the caller closes the
        HTTP client itself."""
        if self._closed is None:
            self._closed = CLOSED_HINT if hint is None else hint

    @property
    def closed(self) -> bool:
        """True once `close` was called."""
        return self._closed is not None

    def ensure_open(self) -> None:
        """Raise `SkytellsError` ``CLIENT_CLOSED`` if `close` was called."""
        if self._closed is not None:
            raise client_closed_error(self._kind, self._closed)

    def get(self) -> H:
        """This process's HTTP client: the parent's is never returned in a forked child.
        (Closed or not: a driver asks `ensure_open` before each request.)"""
        if self._pid != os.getpid():  # a fork the hook did not see
            self._after_fork_in_child()
        http = self._http
        if http is not None:
            return http
        if self._make is None:
            raise forked_error(self._kind)
        with self._lock:
            if self._http is None:
                self._http = self._make()
            return self._http

    def current(self) -> H | None:
        """This process's HTTP client if it has one yet (to close it), without making one."""
        return self._http if self._pid == os.getpid() else None

    def _after_fork_in_child(self) -> None:
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if self._http is not None:
            _inherited.append(self._http)  # forgotten, not closed: the parent still uses it
        self._http = None
