"""Runs operations with native asyncio I/O: requests over an `AsyncHttp` (aiohttp directly by
default, or an ``httpx.AsyncClient``), `asyncio.sleep`, disk work in worker threads."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
import httpx

from .._core.config import ClientConfig
from .._core.protocol import (
    LOCAL_ACTIONS,
    STREAM_ACTIONS,
    Download,
    DownloadResult,
    Emit,
    HttpRequest,
    Instant,
    Notify,
    Now,
    Op,
    RawResponse,
    Sleep,
    carries_a_file,
    failed_op,
)
from .._exceptions import SkytellsError
from . import effects
from .async_http import AsyncHttp, AsyncResponse, TransportError
from .async_streams import AsyncStreams
from .bodies import BodyDecoder
from .errors import connection_error, timeout_error
from .files import DOWNLOAD_HEADERS, FileSink
from .fork import HttpPool
from .httpx_adapter import HttpxHttp

T = TypeVar("T")


class AsyncDriver:
    """Performs the actions of operations over one `AsyncHttp` (aiohttp directly, or an
    ``httpx.AsyncClient`` through `HttpxHttp`), or over the process-aware `HttpPool` of one (a
    forked child gets a pool of its own)."""

    def __init__(
        self,
        config: ClientConfig,
        http: AsyncHttp | httpx.AsyncClient | HttpPool[AsyncHttp],
    ) -> None:
        self.config = config
        if not isinstance(http, HttpPool):
            http = HttpPool(as_async_http(http), None, "client")
        self._http: HttpPool[AsyncHttp] = http
        self._headers = config.base_headers()
        self._base_url = config.base_url

    @property
    def http(self) -> AsyncHttp:
        """This process's HTTP client (never one of a process this one was forked from);
        `SkytellsError` ``CLIENT_CLOSED`` once the client was closed."""
        self._http.ensure_open()
        return self._http.get()

    async def run(self, op: Op[T]) -> T:
        """Drive ``op`` to completion and return its result (emitted values are dropped).

        The loop of `iterate` without an async generator around it: this is every call's path,
        and a generator's machinery costs as much as the rest of the driver's work."""
        self._http.ensure_open()  # a closed client: at once, before the operation starts
        value: Any = None
        error: BaseException | None = None
        streams = _OpStreams(self)  # the operation's event streams, made by the first one
        try:
            while True:
                try:
                    action = op.send(value) if error is None else op.throw(error)
                except StopIteration as stop:
                    result: T = stop.value
                    return result
                value, error = None, None
                if isinstance(action, Emit):
                    continue
                try:
                    if isinstance(action, HttpRequest):  # the hot path first
                        value = await self.send(action)
                    else:
                        value = await self._act(action, streams)
                except BaseException as exc:  # interrupts too: the operation may annotate them
                    error = exc
        finally:
            op.close()
            await streams.aclose()

    async def iterate(self, op: Op[Any]) -> AsyncGenerator[Any, None]:
        """Drive ``op``, yielding each value it emits; closing this generator closes ``op``."""
        self._http.ensure_open()  # a closed client: at once, before the operation starts
        value: Any = None
        error: BaseException | None = None
        streams = _OpStreams(self)  # the operation's event streams, made by the first one
        try:
            while True:
                try:
                    action = op.send(value) if error is None else op.throw(error)
                except StopIteration:
                    return
                value, error = None, None
                if isinstance(action, Emit):
                    yield action.value
                    continue
                try:
                    if isinstance(action, HttpRequest):  # the hot path first
                        value = await self.send(action)
                    else:
                        value = await self._act(action, streams)
                except BaseException as exc:  # interrupts too: the operation may annotate them
                    error = exc
        finally:
            op.close()
            await streams.aclose()

    async def _act(self, action: Any, streams: _OpStreams) -> Any:
        """Every action but an API request (the hot path, sent by the loops themselves)."""
        if isinstance(action, Now):  # the clock, at once (every attempt asks)
            return Instant(time.monotonic(), time.time())
        if isinstance(action, LOCAL_ACTIONS):
            return await effects.aperform(action)
        if isinstance(action, STREAM_ACTIONS):
            return await streams.get().perform(action)
        return await self.perform(action)

    async def perform(self, action: HttpRequest | Sleep | Notify | Download) -> Any:
        """Carry out one action."""
        if isinstance(action, HttpRequest):
            return await self.send(action)
        if isinstance(action, Sleep):
            await asyncio.sleep(action.seconds)
            return None
        if isinstance(action, Download):
            return await self.download(action)
        outcome = action.callback(action.value)
        if inspect.isawaitable(outcome):
            await outcome
        return None

    async def run_all(self, ops: Sequence[Op[T]], limit: int) -> list[T | SkytellsError]:
        """Run ``ops`` concurrently, at most ``limit`` at once; results (or errors) in order:
        an operation that raised an `Exception` ends as a `SkytellsError` (`failed_op`)."""
        semaphore = asyncio.Semaphore(limit)

        async def one(op: Op[T]) -> T | SkytellsError:
            async with semaphore:
                try:
                    return await self.run(op)
                except Exception as exc:  # that item's failure (interrupts stop the batch)
                    return failed_op(exc)

        # create_task, not ensure_future: the latter looks the loop up again for every task,
        # which on Python 3.11 costs several times the task itself.
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(one(op)) for op in ops]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # a bug or a cancellation: stop the others and let them unwind
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def send(self, request: HttpRequest) -> RawResponse:
        """One HTTP exchange, bounded by the request's deadline as a whole (the backend's
        timeout, and a check after every read: a body that keeps arriving may never suspend
        the task); the body is read as it arrives, its decoded size bounded. No redirect is
        followed: the API key goes to the API's origin only."""
        method, path, deadline = request.method, request.path, request.deadline
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error(method, path, self.config.timeout_ms)
        headers = {**self._headers, **request.headers} if request.headers else self._headers
        url = self._base_url + path
        if request.params:
            url += "?" + urlencode(request.params)
        response: AsyncResponse | None = None
        try:
            response = await self.http.request(method, url, headers, request.body, within=remaining)
            content = await self._read(response, method, path, deadline)
        except TimeoutError:
            raise timeout_error(method, path, self.config.timeout_ms) from None
        except TransportError as exc:
            raise connection_error(method, path, exc) from None
        finally:
            if response is not None:
                await response.aclose()
        return RawResponse(response.status, response.headers, content)

    async def _read(
        self, response: AsyncResponse, method: str, path: str, deadline: float
    ) -> bytes:
        """The whole decoded body, within ``max_response_bytes`` and the deadline."""
        limit = self.config.max_response_bytes
        headers = response.headers
        if response.content is None and not headers.get("content-encoding"):
            # The common case needs no decoder: the raw bytes are the body; only count them.
            declared = headers.get("content-length")
            if limit is not None and declared and declared.isdigit() and int(declared) > limit:
                _decoder(response, limit, method, path)  # refuses it, unread
            parts: list[bytes] = []
            size = 0
            while chunk := await response.read_chunk():
                parts.append(chunk)
                size += len(chunk)
                if limit is not None and size > limit:
                    raise _decoder(response, limit, method, path).too_large(size)
                if time.monotonic() > deadline:
                    raise timeout_error(method, path, self.config.timeout_ms)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        decoder = _decoder(response, limit, method, path)
        if response.content is not None:  # read by a caller's event hook: check its size
            if limit is not None and len(response.content) > limit:
                raise decoder.too_large(len(response.content))
            return response.content
        parts = []
        while chunk := await response.read_chunk():
            parts.extend(decoder.feed(chunk))
            if time.monotonic() > deadline:
                raise timeout_error(method, path, self.config.timeout_ms)
        parts.extend(decoder.finish())
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def download(self, action: Download) -> DownloadResult:
        """Stream a file to disk; no API key is sent (output URLs are not API calls), redirects
        are followed. The disk work runs in a worker thread, so the event loop never waits on
        the file system."""
        remaining = action.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error("GET", action.url, 0)
        response: AsyncResponse | None = None
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
            if not carries_a_file(response.status):  # 204: no file, not an empty one
                return DownloadResult(response.status, response.headers, 0)
            return await self._save(action, response)
        except TimeoutError:
            raise timeout_error("GET", action.url, remaining * 1000) from None
        except TransportError as exc:
            raise connection_error("GET", action.url, exc) from None
        finally:
            if response is not None:
                await response.aclose()

    async def _save(self, action: Download, response: AsyncResponse) -> DownloadResult:
        decoded = response.content is not None  # read by an event hook of the caller's client
        sink = FileSink(action, response.headers, decoded)
        await anyio.to_thread.run_sync(sink.open)
        try:
            if response.content is not None:
                await self._write(action, sink, response.content)
            else:
                while chunk := await response.read_chunk():
                    await self._write(action, sink, chunk)
            path = await anyio.to_thread.run_sync(sink.finish)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(sink.abort)
        return DownloadResult(response.status, response.headers, sink.done, path)

    async def _write(self, action: Download, sink: FileSink, chunk: bytes) -> None:
        await anyio.to_thread.run_sync(sink.write, chunk)
        if action.on_progress is not None:
            outcome = action.on_progress(sink.dest, sink.done, sink.total)
            if inspect.isawaitable(outcome):
                await outcome


def as_async_http(http: AsyncHttp | httpx.AsyncClient) -> AsyncHttp:
    """``http`` as the driver sends through it: an ``httpx.AsyncClient`` through `HttpxHttp`."""
    return http if isinstance(http, AsyncHttp) else HttpxHttp(http)


def _decoder(response: AsyncResponse, limit: int | None, method: str, path: str) -> BodyDecoder:
    """The bounded decoder of ``response``'s body (it refuses a declared size past ``limit``)."""
    return BodyDecoder(response.headers, limit, method=method, target=path, status=response.status)


class _OpStreams:
    """The event streams of one run of an operation: made by its first stream action, closed
    (whatever is still open) when the operation ends, also when it is abandoned."""

    __slots__ = ("_driver", "_streams")

    def __init__(self, driver: AsyncDriver) -> None:
        self._driver = driver
        self._streams: AsyncStreams | None = None

    def get(self) -> AsyncStreams:
        if self._streams is None:
            self._streams = AsyncStreams(self._driver.http, self._driver._headers)
        return self._streams

    async def aclose(self) -> None:
        if self._streams is not None:
            await self._streams.aclose()
