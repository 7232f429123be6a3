"""Runs operations with native asyncio I/O: `httpx.AsyncClient` and `asyncio.sleep`."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any, TypeVar

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
    Notify,
    Op,
    RawResponse,
    Sleep,
)
from .._exceptions import SkytellsError
from . import effects
from .bodies import aread_body
from .errors import connection_error, timeout_error
from .files import DOWNLOAD_HEADERS, FileSink
from .fork import HttpPool
from .streams import AsyncStreams

T = TypeVar("T")


class AsyncDriver:
    """Performs the actions of operations over one pooled `httpx.AsyncClient`, or over the
    process-aware `HttpPool` of one (a forked child gets a pool of its own)."""

    def __init__(
        self, config: ClientConfig, http: httpx.AsyncClient | HttpPool[httpx.AsyncClient]
    ) -> None:
        self.config = config
        self._http = http if isinstance(http, HttpPool) else HttpPool(http, None, "client")
        self._headers = config.base_headers()

    @property
    def http(self) -> httpx.AsyncClient:
        """This process's `httpx.AsyncClient` (never one of a process this one was forked from)."""
        return self._http.get()

    async def run(self, op: Op[T]) -> T:
        """Drive ``op`` to completion and return its result (emitted values are dropped)."""
        async with contextlib.aclosing(self.iterate(_returning(op))) as steps:
            async for value in steps:
                if isinstance(value, _Returned):
                    result: T = value.value
                    return result
        raise RuntimeError("unreachable: the operation ended without returning")  # pragma: no cover

    async def iterate(self, op: Op[Any]) -> AsyncGenerator[Any, None]:
        """Drive ``op``, yielding each value it emits; closing this generator closes ``op``."""
        value: Any = None
        error: BaseException | None = None
        streams = AsyncStreams(self.http, self._headers)
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
                    if isinstance(action, LOCAL_ACTIONS):
                        value = await effects.aperform(action)
                    elif isinstance(action, STREAM_ACTIONS):
                        value = await streams.perform(action)
                    else:
                        value = await self.perform(action)
                except BaseException as exc:  # interrupts too: the operation may annotate them
                    error = exc
        finally:
            op.close()
            await streams.aclose()

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
        """Run ``ops`` concurrently, at most ``limit`` at once; results (or errors) in order."""
        semaphore = asyncio.Semaphore(limit)

        async def one(op: Op[T]) -> T | SkytellsError:
            async with semaphore:
                try:
                    return await self.run(op)
                except SkytellsError as exc:
                    return exc

        tasks = [asyncio.ensure_future(one(op)) for op in ops]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # a bug or a cancellation: stop the others and let them unwind
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def send(self, request: HttpRequest) -> RawResponse:
        """One HTTP exchange, cancelled as a whole when its deadline passes; the body is read
        as it arrives, its decoded size bounded (`aread_body`)."""
        remaining = request.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error(request.method, request.path, self.config.timeout_ms)
        headers = {**self._headers, **request.headers}
        try:
            with anyio.fail_after(min(remaining, 1e9)):
                response = await self.http.send(
                    self.http.build_request(
                        request.method,
                        self.config.base_url + request.path,
                        params=request.params,
                        content=request.body,
                        headers=headers,
                        timeout=min(remaining, 1e9),  # not the client's own (httpx's: 5 s)
                    ),
                    stream=True,
                    follow_redirects=False,  # never carry the key to another host
                )
                try:
                    content = await aread_body(
                        response,
                        self.config.max_response_bytes,
                        request.method,
                        request.path,
                        request.deadline,
                        self.config.timeout_ms,
                    )
                finally:
                    await response.aclose()
        except (httpx.TimeoutException, TimeoutError):
            raise timeout_error(request.method, request.path, self.config.timeout_ms) from None
        except (httpx.RequestError, httpx.InvalidURL) as exc:  # undecodable, bad redirect
            raise connection_error(request.method, request.path, exc) from None
        return RawResponse(response.status_code, response.headers, content)

    async def download(self, action: Download) -> DownloadResult:
        """Stream a file to disk; no API key is sent (output URLs are not API calls). The disk
        work runs in a worker thread, so the event loop never waits on the file system."""
        remaining = action.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error("GET", action.url, 0)
        try:
            with anyio.fail_after(min(remaining, 1e9)):
                async with self.http.stream(
                    "GET",
                    action.url,
                    headers=DOWNLOAD_HEADERS,
                    follow_redirects=True,
                    timeout=min(remaining, action.idle_timeout, 1e9),
                ) as response:
                    if not 200 <= response.status_code < 300:
                        return DownloadResult(response.status_code, response.headers, 0)
                    decoded = response.is_stream_consumed  # read by an event hook of the client
                    sink = FileSink(action, response.headers, decoded)
                    await anyio.to_thread.run_sync(sink.open)
                    try:
                        chunks = response.aiter_bytes() if decoded else response.aiter_raw()
                        async for chunk in chunks:
                            await anyio.to_thread.run_sync(sink.write, chunk)
                            if action.on_progress is not None:
                                outcome = action.on_progress(sink.dest, sink.done, sink.total)
                                if inspect.isawaitable(outcome):
                                    await outcome
                        path = await anyio.to_thread.run_sync(sink.finish)
                    finally:
                        with anyio.CancelScope(shield=True):
                            await anyio.to_thread.run_sync(sink.abort)
                    return DownloadResult(response.status_code, response.headers, sink.done, path)
        except (httpx.TimeoutException, TimeoutError):
            raise timeout_error("GET", action.url, remaining * 1000) from None
        except (httpx.RequestError, httpx.InvalidURL) as exc:  # undecodable, bad redirect
            raise connection_error("GET", action.url, exc) from None


class _Returned:
    """The return value of an operation, emitted last so `run` can reuse `iterate`."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _returning(op: Op[T]) -> Op[T]:
    value = yield from op
    yield Emit(_Returned(value))
    return value
