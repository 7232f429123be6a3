"""The event streams and output files of one operation run by the sync driver: open, read and
close long-lived responses over the sync transport, each read bounded by the idle timeout and the
stream's deadline (the transport bounds every receive, so no watchdog thread is needed)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from .._core.config import USER_AGENT
from .._core.protocol import (
    CloseStream,
    OpenFile,
    OpenStream,
    ReadStream,
    StreamResponse,
    carries_a_file,
)
from .._exceptions import SkytellsError
from .bodies import ACCEPT_ENCODING, BodyDecoder
from .errors import connection_error, timeout_error
from .files import DOWNLOAD_HEADERS, BodyCheck
from .sync_transport import SendFailure, SendTimeout, SyncResponse, SyncTransport

StreamAction = OpenStream | OpenFile | ReadStream | CloseStream


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


class _SyncFile:
    """One output file being read: its decoded pieces as they arrive, checked by `BodyCheck`
    (size cap, declared length, deadline); each wait for bytes bounded by the transport."""

    def __init__(self, response: SyncResponse, action: OpenFile) -> None:
        self.response, self.action = response, action
        self.check = BodyCheck(
            action.url, action.max_bytes, action.deadline, response.headers, response.decoded
        )
        self.pending: Iterator[bytes] = iter(())
        self.ended = False
        self.closed = False

    def _next(self) -> bytes:
        while True:
            for piece in self.pending:
                if piece:
                    return piece
            if self.ended:
                return b""
            raw = self.response.read()
            self.ended = not raw
            self.pending = self.check.feed(raw) if raw else self.check.end()

    def read(self) -> bytes:
        url = self.action.url
        try:
            chunk = self._next()
        except SendTimeout:
            self.close()
            raise timeout_error("GET", url, self.action.idle_timeout * 1000) from None
        except SendFailure as exc:
            self.close()
            raise _failure(url, self.action.deadline, self.action.idle_timeout, exc.cause) from None
        except BaseException:  # the cap, the deadline, an undecodable body, an interrupt
            self.close()
            raise
        if not chunk:
            self.close()
        return chunk

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.response.close()


class SyncStreams:
    """The event streams and output files of one operation run by the sync driver."""

    def __init__(self, http: SyncTransport, api_headers: Mapping[str, str]) -> None:
        self.http = http
        self.api_headers = api_headers
        self._open: list[_SyncStream | _SyncFile] = []

    def perform(self, action: StreamAction) -> Any:
        """Carry out one stream action."""
        if isinstance(action, OpenStream):
            return self.open(action)
        if isinstance(action, OpenFile):
            return self.open_file(action)
        stream: _SyncStream | _SyncFile = action.stream
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

    def open_file(self, action: OpenFile) -> StreamResponse:
        """Send the GET of an output file (no API key, redirects followed) and keep the
        response open if it carries the file."""
        try:
            response = self.http.open(
                "GET",
                action.url,
                headers=DOWNLOAD_HEADERS,
                deadline=action.deadline,
                idle=action.idle_timeout,
                follow_redirects=True,
            )
        except SendTimeout:
            raise timeout_error("GET", action.url, action.idle_timeout * 1000) from None
        except SendFailure as exc:
            raise _failure(action.url, action.deadline, action.idle_timeout, exc.cause) from None
        if not carries_a_file(response.status):  # an error, or 204: no file, not an empty one
            response.close()
            return StreamResponse(response.status, response.headers)
        try:
            stream = _SyncFile(response, action)
        except BaseException:  # a declared size past the cap, an encoding it cannot undo
            response.close()
            raise
        self._open.append(stream)
        return StreamResponse(response.status, response.headers, stream)

    def close(self) -> None:
        """Close every stream still open (the operation ended)."""
        for stream in self._open:
            stream.close()
        self._open.clear()
