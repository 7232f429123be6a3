"""The I/O of event streams for the sync driver: open, read and close long-lived responses
(the async driver's are in `async_streams.py`).

Each run of an operation gets its own `SyncStreams`, which performs the
operation's `OpenStream`, `ReadStream` and `CloseStream` actions and closes whatever is still
open when the operation ends, also when its consumer abandons it (``break``). Everything else
about streams (decoding, resuming, falling back) is sans-IO, in `_streaming.py`.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from .._core.config import USER_AGENT
from .._core.protocol import CloseStream, OpenStream, ReadStream, StreamResponse
from .._exceptions import SkytellsError
from .bodies import ACCEPT_ENCODING, decoded
from .deadlines import deadline
from .errors import connection_error, timeout_error

StreamAction = OpenStream | ReadStream | CloseStream


def _request_headers(action: OpenStream, api_headers: Mapping[str, str]) -> dict[str, str]:
    """The API's headers (key included) on the API's own origin; elsewhere only the user agent."""
    base = (
        dict(api_headers)
        if action.authenticated
        else {"user-agent": USER_AGENT, "accept-encoding": ACCEPT_ENCODING}
    )
    return {**base, **action.headers}


def _is_event_stream(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return 200 <= response.status_code < 300 and content_type == "text/event-stream"


def _failure(url: str, deadline: float, idle: float, exc: Exception) -> Exception:
    """The SDK error for a stream that broke: a timeout past the deadline or idle, else a drop."""
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)) or time.monotonic() >= deadline:
        return timeout_error("GET", url, idle * 1000)
    return connection_error("GET", url, exc)


class _SyncStream:
    """One open event stream; a watchdog cuts its socket at the deadline, so that a blocked
    read ends then (httpx fixes a read timeout per request, not per read)."""

    def __init__(self, url: str, response: httpx.Response, action: OpenStream) -> None:
        self.url, self.response, self.action = url, response, action
        self.chunks: Iterator[bytes] = decoded(response)
        self.closed = False
        self._watchdog: threading.Timer | None = None
        remaining = action.deadline - time.monotonic()
        sock = _socket_of(response)
        if sock is not None and remaining < 1e9:
            self._watchdog = threading.Timer(max(0.0, remaining), _cut, (sock,))
            self._watchdog.daemon = True
            self._watchdog.start()

    def read(self) -> bytes:
        try:
            _check_deadline(self.url, self.action)
            chunk = next(self.chunks, b"")
        except httpx.RequestError as exc:
            self.close()
            raise _failure(self.url, self.action.deadline, self.action.idle_timeout, exc) from None
        except SkytellsError:  # the deadline, or an undecodable body
            self.close()
            raise
        if not chunk:
            self.close()
        return chunk

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        self.response.close()


class SyncStreams:
    """The event streams of one operation run by the sync driver."""

    def __init__(self, http: httpx.Client, api_headers: Mapping[str, str]) -> None:
        self.http = http
        self.api_headers = api_headers
        self._open: list[_SyncStream] = []

    def perform(self, action: StreamAction) -> Any:
        """Carry out one stream action."""
        if isinstance(action, OpenStream):
            return self.open(action)
        stream: _SyncStream = action.stream
        if isinstance(action, ReadStream):
            return stream.read()
        stream.close()
        return None

    def open(self, action: OpenStream) -> StreamResponse:
        """Send the GET and keep the response open if it is an event stream."""
        remaining = action.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error("GET", action.url, action.idle_timeout * 1000)
        try:
            request = self.http.build_request(
                "GET",
                action.url,
                headers=_request_headers(action, self.api_headers),
                timeout=min(action.idle_timeout, remaining),
            )
            with deadline(action.deadline):  # the headers too must arrive by the deadline
                response = self.http.send(request, stream=True, follow_redirects=False)
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            raise _failure(action.url, action.deadline, action.idle_timeout, exc) from None
        if not _is_event_stream(response):
            response.close()
            return StreamResponse(response.status_code, response.headers)
        stream = _SyncStream(action.url, response, action)
        self._open.append(stream)
        return StreamResponse(response.status_code, response.headers, stream)

    def close(self) -> None:
        """Close every stream still open (the operation ended)."""
        for stream in self._open:
            stream.close()
        self._open.clear()


def _check_deadline(url: str, action: OpenStream) -> None:
    """A timeout once the stream's deadline has passed, however busy the stream is."""
    if time.monotonic() >= action.deadline:
        raise timeout_error("GET", url, action.idle_timeout * 1000)


def _socket_of(response: httpx.Response) -> socket.socket | None:
    """The response's socket, when the transport exposes it (httpx's default one does)."""
    network = response.extensions.get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    return sock if isinstance(sock, socket.socket) else None


def _cut(sock: socket.socket) -> None:
    """Shut a socket down so that a read blocked on it returns at once."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
