"""The I/O of event streams for the two drivers: open, read and close long-lived responses.

Each run of an operation gets its own `AsyncStreams` (`SyncStreams` for the sync driver, in
`sync_streams.py`), which performs the
operation's `OpenStream`, `ReadStream` and `CloseStream` actions and closes whatever is still
open when the operation ends, also when its consumer abandons it (``break``). Everything else
about streams (decoding, resuming, falling back) is sans-IO, in `_streaming.py`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import httpx

from .._core.config import USER_AGENT
from .._core.protocol import CloseStream, OpenStream, ReadStream, StreamResponse
from .._exceptions import SkytellsError
from .bodies import ACCEPT_ENCODING, adecoded
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


def _is_event_stream(status: int, headers: Mapping[str, str]) -> bool:
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return 200 <= status < 300 and content_type == "text/event-stream"


def _failure(url: str, deadline: float, idle: float, exc: Exception) -> Exception:
    """The SDK error for a stream that broke: a timeout past the deadline or idle, else a drop."""
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)) or time.monotonic() >= deadline:
        return timeout_error("GET", url, idle * 1000)
    return connection_error("GET", url, exc)


class _AsyncStream:
    """One open event stream; each read is cancelled at the idle timeout or the deadline."""

    def __init__(self, url: str, response: httpx.Response, action: OpenStream) -> None:
        self.url, self.response, self.action = url, response, action
        self.chunks: AsyncIterator[bytes] = adecoded(response)
        self.closed = False

    async def read(self) -> bytes:
        limit = min(self.action.idle_timeout, self.action.deadline - time.monotonic())
        try:
            # Checked here, not only by the cancel scope: a stream that keeps sending may never
            # suspend the read, and a scope cancels only at a suspension.
            _check_deadline(self.url, self.action)
            with anyio.fail_after(max(0.0, min(limit, 1e9))):
                chunk = await anext(self.chunks, b"")
        except (httpx.RequestError, TimeoutError) as exc:
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


class AsyncStreams:
    """The event streams of one operation run by the async driver."""

    def __init__(self, http: httpx.AsyncClient, api_headers: Mapping[str, str]) -> None:
        self.http = http
        self.api_headers = api_headers
        self._open: list[_AsyncStream] = []

    async def perform(self, action: StreamAction) -> Any:
        """Carry out one stream action."""
        if isinstance(action, OpenStream):
            return await self.open(action)
        stream: _AsyncStream = action.stream
        if isinstance(action, ReadStream):
            return await stream.read()
        await stream.aclose()
        return None

    async def open(self, action: OpenStream) -> StreamResponse:
        """Send the GET and keep the response open if it is an event stream."""
        remaining = action.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error("GET", action.url, action.idle_timeout * 1000)
        try:
            request = self.http.build_request(
                "GET", action.url, headers=_request_headers(action, self.api_headers)
            )
            with anyio.fail_after(min(action.idle_timeout, remaining, 1e9)):
                response = await self.http.send(request, stream=True, follow_redirects=False)
        except (httpx.RequestError, httpx.InvalidURL, TimeoutError) as exc:
            raise _failure(action.url, action.deadline, action.idle_timeout, exc) from None
        if not _is_event_stream(response.status_code, response.headers):
            await response.aclose()
            return StreamResponse(response.status_code, response.headers)
        stream = _AsyncStream(action.url, response, action)
        self._open.append(stream)
        return StreamResponse(response.status_code, response.headers, stream)

    async def aclose(self) -> None:
        """Close every stream still open (the operation ended)."""
        for stream in self._open:
            with contextlib.suppress(Exception):
                await stream.aclose()
        self._open.clear()


def _check_deadline(url: str, action: OpenStream) -> None:
    """A timeout once the stream's deadline has passed, however busy the stream is."""
    if time.monotonic() >= action.deadline:
        raise timeout_error("GET", url, action.idle_timeout * 1000)
