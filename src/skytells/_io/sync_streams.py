"""The event streams of one operation run by the sync driver: open, read and close long-lived
responses over the sync transport, each read bounded by the idle timeout and the stream's deadline
(the transport bounds every receive, so no watchdog thread is needed)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from .._core.config import USER_AGENT
from .._core.protocol import CloseStream, OpenStream, ReadStream, StreamResponse
from .._exceptions import SkytellsError
from .bodies import ACCEPT_ENCODING, BodyDecoder
from .errors import connection_error, timeout_error
from .sync_transport import SendFailure, SendTimeout, SyncResponse, SyncTransport

StreamAction = OpenStream | ReadStream | CloseStream


def _request_headers(action: OpenStream, api_headers: Mapping[str, str]) -> dict[str, str]:
    """The API's headers (key included) on the API's own origin; elsewhere only the user agent."""
    base = (
        dict(api_headers)
        if action.authenticated
        else {"user-agent": USER_AGENT, "accept-encoding": ACCEPT_ENCODING}
    )
    return {**base, **action.headers}


def _is_event_stream(status: int, headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return 200 <= status < 300 and content_type == "text/event-stream"


def _check_deadline(url: str, action: OpenStream) -> None:
    """A timeout once the stream's deadline has passed, however busy the stream is."""
    if time.monotonic() >= action.deadline:
        raise timeout_error("GET", url, action.idle_timeout * 1000)


def _failure(url: str, deadline: float, idle: float, exc: Exception) -> Exception:
    """A dropped stream: a timeout if its deadline has passed, else a connection error."""
    if time.monotonic() >= deadline:
        return timeout_error("GET", url, idle * 1000)
    return connection_error("GET", url, exc)


class _SyncStream:
    """One open event stream; every read waits at most the idle timeout and none outlasts the
    stream's deadline (the transport bounds each receive: no watchdog thread)."""

    def __init__(self, url: str, response: SyncResponse, action: OpenStream) -> None:
        self.url, self.response, self.action = url, response, action
        self.decoder = None if response.decoded else BodyDecoder(response.headers, None)
        self.pending: Iterator[bytes] = iter(())
        self.closed = False

    def _next(self) -> bytes:
        for piece in self.pending:
            if piece:
                return piece
        while True:
            raw = self.response.read()
            if self.decoder is None:
                return raw
            self.pending = self.decoder.feed(raw) if raw else self.decoder.finish()
            for piece in self.pending:
                if piece:
                    return piece
            if not raw:
                return b""

    def read(self) -> bytes:
        try:
            _check_deadline(self.url, self.action)
            chunk = self._next()
        except SendTimeout:
            self.close()
            raise timeout_error("GET", self.url, self.action.idle_timeout * 1000) from None
        except SendFailure as exc:
            self.close()
            raise _failure(
                self.url, self.action.deadline, self.action.idle_timeout, exc.cause
            ) from None
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
        self.response.close()


class SyncStreams:
    """The event streams of one operation run by the sync driver."""

    def __init__(self, http: SyncTransport, api_headers: Mapping[str, str]) -> None:
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
        try:
            response = self.http.open(
                "GET",
                action.url,
                headers=_request_headers(action, self.api_headers),
                deadline=action.deadline,
                idle=action.idle_timeout,
            )
        except SendTimeout:
            raise timeout_error("GET", action.url, action.idle_timeout * 1000) from None
        except SendFailure as exc:
            raise _failure(action.url, action.deadline, action.idle_timeout, exc.cause) from None
        if not _is_event_stream(response.status, response.headers):
            response.close()
            return StreamResponse(response.status, response.headers)
        stream = _SyncStream(action.url, response, action)
        self._open.append(stream)
        return StreamResponse(response.status, response.headers, stream)

    def close(self) -> None:
        """Close every stream still open (the operation ended)."""
        for stream in self._open:
            stream.close()
        self._open.clear()
