"""The event streams and output files of the async driver: open, read and close long-lived
responses.

Each run of an operation gets its own `AsyncStreams`, which performs the operation's
`OpenStream`, `OpenFile`, `ReadStream` and `CloseStream` actions over the driver's `AsyncHttp` and closes
whatever is still open when the operation ends, also when its consumer abandons it (``break``).
Everything else about streams (decoding events, resuming, falling back) is sans-IO, in the core.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import anyio

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
from .async_http import AsyncHttp, AsyncResponse, TransportError
from .bodies import ACCEPT_ENCODING, BodyDecoder
from .errors import connection_error, timeout_error
from .files import DOWNLOAD_HEADERS, BodyCheck

StreamAction = OpenStream | OpenFile | ReadStream | CloseStream


def _request_headers(action: OpenStream, api_headers: Mapping[str, str]) -> dict[str, str]:
    """The API's headers (key included) on the API's own origin; elsewhere only the user agent."""
    base = (
        dict(api_headers)
        if action.authenticated
        else {"user-agent": USER_AGENT, "accept-encoding": ACCEPT_ENCODING}
    )
    return {**base, **action.headers}


def _is_event_stream(response: AsyncResponse) -> bool:
    content_type = response.headers.get("content-type", "") or ""
    media_type = content_type.split(";")[0].strip().lower()
    return 200 <= response.status < 300 and media_type == "text/event-stream"


def _failure(url: str, deadline: float, idle: float, exc: Exception) -> Exception:
    """The SDK error for a stream that broke: a timeout past the deadline or idle, else a drop."""
    if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
        return timeout_error("GET", url, idle * 1000)
    return connection_error("GET", url, exc)


def _check_deadline(url: str, action: OpenStream) -> None:
    """A timeout once the stream's deadline has passed, however busy the stream is."""
    if time.monotonic() >= action.deadline:
        raise timeout_error("GET", url, action.idle_timeout * 1000)


async def _decoded(response: AsyncResponse) -> AsyncIterator[bytes]:
    """The decoded pieces of a streamed body as they arrive (no size limit here: an event
    stream's bound is per event, in the core's SSE decoder)."""
    if response.content is not None:  # read by a caller's event hook
        yield response.content
        return
    decoder = BodyDecoder(response.headers, None)
    while chunk := await response.read_chunk():
        for piece in decoder.feed(chunk):
            yield piece
    for piece in decoder.finish():
        yield piece


class _AsyncStream:
    """One open event stream; each read is cancelled at the idle timeout or the deadline."""

    def __init__(self, url: str, response: AsyncResponse, action: OpenStream) -> None:
        self.url, self.response, self.action = url, response, action
        self.chunks: AsyncIterator[bytes] = _decoded(response)
        self.closed = False

    async def read(self) -> bytes:
        limit = min(self.action.idle_timeout, self.action.deadline - time.monotonic())
        try:
            # Checked here, not only by the cancel scope: a stream that keeps sending may never
            # suspend the read, and a scope cancels only at a suspension.
            _check_deadline(self.url, self.action)
            with anyio.fail_after(max(0.0, min(limit, 1e9))):
                chunk = await anext(self.chunks, b"")
        except (TransportError, TimeoutError) as exc:
            await self.aclose()
            raise _failure(self.url, self.action.deadline, self.action.idle_timeout, exc) from None
        except SkytellsError:  # the deadline, or an undecodable body
            await self.aclose()
            raise
        if not chunk:
            await self.aclose()
        return chunk

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            await self.response.aclose()


class _AsyncFile:
    """One output file being read: its decoded pieces as they arrive, checked by `BodyCheck`
    (size cap, declared length, deadline); the transport bounds each wait for bytes (the
    request's ``idle_timeout``) and the whole exchange (``within``)."""

    def __init__(self, response: AsyncResponse, action: OpenFile) -> None:
        self.response, self.action = response, action
        decoded = response.content is not None  # read by an event hook of the caller's client
        self.check = BodyCheck(
            action.url, action.max_bytes, action.deadline, response.headers, decoded
        )
        self.pending: Iterator[bytes] = iter(())
        self.ended = False
        self.closed = False

    async def _next(self) -> bytes:
        while True:
            for piece in self.pending:
                if piece:
                    return piece
            if self.ended:
                return b""
            if self.response.content is not None:
                raw, self.ended = self.response.content, True
                self.pending = itertools.chain(self.check.feed(raw), self.check.end())
                continue
            raw = await self.response.read_chunk()
            self.ended = not raw
            self.pending = self.check.feed(raw) if raw else self.check.end()

    async def read(self) -> bytes:
        action = self.action
        try:
            chunk = await self._next()
        except (TransportError, TimeoutError) as exc:
            await self.aclose()
            raise _failure(action.url, action.deadline, action.idle_timeout, exc) from None
        except BaseException:  # the cap, the deadline, an undecodable body, a cancellation
            with anyio.CancelScope(shield=True):
                await self.aclose()
            raise
        if not chunk:
            await self.aclose()
        return chunk

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            await self.response.aclose()


class AsyncStreams:
    """The event streams and output files of one operation run by the async driver."""

    def __init__(self, http: AsyncHttp, api_headers: Mapping[str, str]) -> None:
        self.http = http
        self.api_headers = api_headers
        self._open: list[_AsyncStream | _AsyncFile] = []

    async def perform(self, action: StreamAction) -> Any:
        """Carry out one stream action."""
        if isinstance(action, OpenStream):
            return await self.open(action)
        if isinstance(action, OpenFile):
            return await self.open_file(action)
        stream: _AsyncStream | _AsyncFile = action.stream
        if isinstance(action, ReadStream):
            return await stream.read()
        await stream.aclose()
        return None

    async def open(self, action: OpenStream) -> StreamResponse:
        """Send the GET (no redirect followed) and keep the response open if it is an event
        stream. Its headers must come within the idle timeout; the whole stream must end by the
        deadline."""
        remaining = action.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error("GET", action.url, action.idle_timeout * 1000)
        headers = _request_headers(action, self.api_headers)
        try:
            with anyio.fail_after(min(action.idle_timeout, remaining, 1e9)):
                response = await self.http.request(
                    "GET", action.url, headers, None, within=remaining
                )
        except (TransportError, TimeoutError) as exc:
            raise _failure(action.url, action.deadline, action.idle_timeout, exc) from None
        if not _is_event_stream(response):
            await response.aclose()
            return StreamResponse(response.status, response.headers)
        stream = _AsyncStream(action.url, response, action)
        self._open.append(stream)
        return StreamResponse(response.status, response.headers, stream)

    async def open_file(self, action: OpenFile) -> StreamResponse:
        """Send the GET of an output file (no API key, redirects followed) and keep the
        response open if it carries the file."""
        remaining = action.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error("GET", action.url, 0)
        try:
            response = await self.http.request(
                "GET",
                action.url,
                DOWNLOAD_HEADERS,
                None,
                within=remaining,
                idle_timeout=action.idle_timeout,
                follow_redirects=True,
            )
        except (TransportError, TimeoutError) as exc:
            raise _failure(action.url, action.deadline, action.idle_timeout, exc) from None
        if not carries_a_file(response.status):  # an error, or 204: no file, not an empty one
            await response.aclose()
            return StreamResponse(response.status, response.headers)
        try:
            stream = _AsyncFile(response, action)
        except BaseException:  # a declared size past the cap, an encoding it cannot undo
            await response.aclose()
            raise
        self._open.append(stream)
        return StreamResponse(response.status, response.headers, stream)

    async def aclose(self) -> None:
        """Close every stream still open (the operation ended)."""
        for stream in self._open:
            with contextlib.suppress(Exception):
                await stream.aclose()
        self._open.clear()
