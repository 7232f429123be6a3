"""Runs operations with blocking I/O: `httpx.Client` and `time.sleep`."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from .._core.config import ClientConfig
from .._core.protocol import (
    STREAM_ACTIONS,
    Download,
    DownloadResult,
    Emit,
    FileCall,
    HttpRequest,
    Notify,
    Op,
    RawResponse,
    Sleep,
)
from .._exceptions import SkytellsError
from .aiohttp_transport import aiohttp_proxies
from .async_driver import AsyncDriver
from .async_http import AsyncHttp
from .bodies import read_body
from .deadlines import deadline
from .errors import connection_error, timeout_error
from .files import DOWNLOAD_HEADERS, FileSink
from .fork import HttpPool
from .private_loop import run_coroutine
from .streams import SyncStreams

T = TypeVar("T")


class Stopped(Exception):
    """Raised in an operation whose `run_all` was interrupted, so that it ends."""


class SyncDriver:
    """Performs the actions of operations over one pooled `httpx.Client`.

    ``http`` is the client or its process-aware `HttpPool` (a forked child gets a pool of its
    own). ``concurrent_http``, if given, makes the `httpx.AsyncClient` that `run_all` uses to
    run many operations at once as asyncio tasks (see `run_all`).
    """

    def __init__(
        self,
        config: ClientConfig,
        http: httpx.Client | HttpPool[httpx.Client],
        concurrent_http: Callable[[], AsyncHttp] | None = None,
    ) -> None:
        self.config = config
        self._http = http if isinstance(http, HttpPool) else HttpPool(http, None, "client")
        self.concurrent_http = concurrent_http
        self._headers = config.base_headers()

    @property
    def http(self) -> httpx.Client:
        """This process's `httpx.Client` (never the one of a process this one was forked from)."""
        return self._http.get()

    def run(self, op: Op[T], stop: threading.Event | None = None) -> T:
        """Drive ``op`` to completion and return its result (emitted values are dropped)."""
        steps = self.iterate(op, stop)
        while True:
            try:
                next(steps)
            except StopIteration as finished:
                result: T = finished.value
                return result

    def iterate(self, op: Op[T], stop: threading.Event | None = None) -> Generator[Any, None, T]:
        """Drive ``op``, yielding each value it emits; closing this generator closes ``op``.
        Once ``stop`` is set, sleeps end and the next action raises `Stopped` in ``op``."""
        value: Any = None
        error: BaseException | None = None
        streams = SyncStreams(self.http, self._headers)
        try:
            while True:
                try:
                    action = op.send(value) if error is None else op.throw(error)
                except StopIteration as stop:
                    result: T = stop.value
                    return result
                value, error = None, None
                if isinstance(action, Emit):
                    yield action.value
                    continue
                try:
                    if stop is not None and stop.is_set():
                        raise Stopped("the operation was stopped")
                    if isinstance(action, STREAM_ACTIONS):
                        value = streams.perform(action)
                    elif isinstance(action, Sleep) and stop is not None:
                        stop.wait(action.seconds)
                    else:
                        value = self.perform(action)
                except BaseException as exc:  # interrupts too: the operation may annotate them
                    error = exc
        finally:
            op.close()
            streams.close()

    def perform(self, action: HttpRequest | Sleep | Notify | Download | FileCall) -> Any:
        """Carry out one action."""
        if isinstance(action, HttpRequest):
            return self.send(action)
        if isinstance(action, Sleep):
            time.sleep(action.seconds)
            return None
        if isinstance(action, Download):
            return self.download(action)
        if isinstance(action, FileCall):
            return action.function()
        outcome = action.callback(action.value)
        if inspect.isawaitable(outcome):
            _close(outcome)
            raise TypeError(
                "on_progress returned an awaitable: use AsyncSkytellsClient for async callbacks"
            )
        return None

    def run_all(self, ops: Sequence[Op[T]], limit: int) -> list[T | SkytellsError]:
        """Run ``ops`` concurrently, at most ``limit`` at once; results (or errors) in order.

        A batch of at least ``2 * limit`` runs as asyncio tasks in a private event loop over a
        pool of its own (``concurrent_http``: aiohttp, about 1.6x the throughput of threads,
        which share the GIL), when there is one and the environment's proxies allow it. Smaller
        batches, for which new connections would cost more than they save, run on ``limit``
        threads over this driver's `httpx.Client`. Ctrl-C stops either: the loop's tasks are
        cancelled; threads start no new attempt or sleep, and a request already sent ends in
        the background (within its timeout).
        """
        if not ops:
            return []
        if self._runs_in_loop(len(ops), limit):
            return run_coroutine(lambda: self._run_all_async(ops, limit))
        stop = threading.Event()

        def one(op: Op[T]) -> T | SkytellsError:
            try:
                return self.run(op, stop)
            except SkytellsError as exc:
                return exc

        pool = ThreadPoolExecutor(max_workers=min(limit, len(ops)))
        try:
            results = list(pool.map(one, ops))
        except BaseException:  # Ctrl-C: start nothing more
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return results

    def _runs_in_loop(self, count: int, limit: int) -> bool:
        return (
            self.concurrent_http is not None
            and count >= 2 * limit
            and not self.http.is_closed  # then every path fails alike
            and aiohttp_proxies() is not None
        )

    async def _run_all_async(self, ops: Sequence[Op[T]], limit: int) -> list[T | SkytellsError]:
        assert self.concurrent_http is not None
        async with self.concurrent_http() as http:
            return await AsyncDriver(self.config, http).run_all(ops, limit)

    def send(self, request: HttpRequest) -> RawResponse:
        """One HTTP exchange, bounded by the request's deadline as a whole: every socket
        operation is clamped to the time left (`_io/deadlines.py`), and the body is checked
        as it arrives, its decoded size too (`read_body`)."""
        remaining = request.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error(request.method, request.path, self.config.timeout_ms)
        headers = {**self._headers, **request.headers}
        try:
            with deadline(request.deadline):
                response = self.http.send(
                    self.http.build_request(
                        request.method,
                        self.config.base_url + request.path,
                        params=request.params,
                        content=request.body,
                        headers=headers,
                        timeout=min(remaining, 1e9),
                    ),
                    stream=True,
                    follow_redirects=False,  # never carry the key to another host
                )
                try:
                    content = read_body(
                        response,
                        self.config.max_response_bytes,
                        request.method,
                        request.path,
                        request.deadline,
                        self.config.timeout_ms,
                    )
                finally:
                    response.close()
        except httpx.TimeoutException:
            raise timeout_error(request.method, request.path, self.config.timeout_ms) from None
        except (httpx.RequestError, httpx.InvalidURL) as exc:  # undecodable, bad redirect
            raise connection_error(request.method, request.path, exc) from None
        return RawResponse(response.status_code, response.headers, content)

    def download(self, action: Download) -> DownloadResult:
        """Stream a file to disk; no API key is sent (output URLs are not API calls)."""
        remaining = action.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error("GET", action.url, 0)
        try:
            with (
                deadline(action.deadline),
                self.http.stream(
                    "GET",
                    action.url,
                    headers=DOWNLOAD_HEADERS,
                    timeout=min(remaining, action.idle_timeout, 1e9),
                    follow_redirects=True,
                ) as response,
            ):
                if not 200 <= response.status_code < 300:
                    return DownloadResult(response.status_code, response.headers, 0)
                decoded = response.is_stream_consumed  # read by an event hook of the client
                sink = FileSink(action, response.headers, decoded)
                sink.open()
                try:
                    chunks = response.iter_bytes() if decoded else response.iter_raw()
                    for chunk in chunks:  # each read, as it arrives
                        sink.write(chunk)
                        self._progress(action, sink)
                    path = sink.finish()
                finally:
                    sink.abort()
                return DownloadResult(response.status_code, response.headers, sink.done, path)
        except httpx.TimeoutException:
            raise timeout_error("GET", action.url, remaining * 1000) from None
        except (httpx.RequestError, httpx.InvalidURL) as exc:  # undecodable, bad redirect
            raise connection_error("GET", action.url, exc) from None

    @staticmethod
    def _progress(action: Download, sink: FileSink) -> None:
        if action.on_progress is None:
            return
        outcome = action.on_progress(sink.dest, sink.done, sink.total)
        if inspect.isawaitable(outcome):
            _close(outcome)
            raise TypeError(
                "on_progress returned an awaitable: use AsyncSkytellsClient for async callbacks"
            )


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()
