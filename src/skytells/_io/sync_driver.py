"""Runs operations with blocking I/O: a `SyncTransport` (urllib3, or a user's httpx client) and
`time.sleep`."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Generator, Sequence
from typing import Any, TypeVar

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
    carries_a_file,
    failed_op,
)
from .._exceptions import SkytellsError
from . import effects
from .bodies import BodyDecoder
from .errors import YOUR_HTTP_CLIENT_CLOSED, client_closed_error, connection_error, timeout_error
from .files import DOWNLOAD_HEADERS, FileSink
from .fork import HttpPool
from .sync_streams import SyncStreams
from .sync_transport import SendFailure, SendTimeout, SyncTransport

T = TypeVar("T")


class Stopped(Exception):
    """Raised in an operation whose `run_all` was interrupted, so that it ends."""


class SyncDriver:
    """Performs the actions of operations over one pooled `SyncTransport`.

    ``http`` is the transport or its process-aware `HttpPool` (a forked child gets a pool of its
    own).
    """

    def __init__(
        self,
        config: ClientConfig,
        http: SyncTransport | HttpPool[SyncTransport],
        *,
        loop_batches: bool = False,
    ) -> None:
        self.config = config
        self.loop_batches = loop_batches
        self._http = http if isinstance(http, HttpPool) else HttpPool(http, None, "client")
        self._headers = config.base_headers()

    @property
    def http(self) -> SyncTransport:
        """This process's transport (never the one of a process this one was forked from);
        `SkytellsError` ``CLIENT_CLOSED`` once the client was closed."""
        self._http.ensure_open()
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
                    if isinstance(action, LOCAL_ACTIONS):
                        value = effects.perform(action)
                    elif isinstance(action, STREAM_ACTIONS):
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

    def perform(self, action: HttpRequest | Sleep | Notify | Download) -> Any:
        """Carry out one action."""
        if isinstance(action, HttpRequest):
            return self.send(action)
        if isinstance(action, Sleep):
            time.sleep(action.seconds)
            return None
        if isinstance(action, Download):
            return self.download(action)
        outcome = action.callback(action.value)
        if isinstance(outcome, Awaitable):  # (inspect is slow to import)
            _close(outcome)
            raise TypeError(
                "on_progress returned an awaitable: use AsyncSkytellsClient for async callbacks"
            )
        return None

    def run_all(self, ops: Sequence[Op[T]], limit: int) -> list[T | SkytellsError]:
        """Run ``ops`` concurrently, at most ``limit`` at once; results (or errors) in order.

        With the client's own connections (``loop_batches``), the batch runs as asyncio tasks
        over an aiohttp pool of its own, in a private event loop (`private_loop`): about twice
        the creates a second of threads, which share the GIL. A caller's ``http_client``, or
        an environment aiohttp cannot serve (``SKYTELLS_ASYNC_HTTP=httpx``, a SOCKS or https
        proxy), runs it on ``limit`` threads over this driver's transport instead. Ctrl-C stops
        either: the loop's tasks are cancelled and unwind; threads start no new attempt or
        sleep, and a request already sent ends in the background (within its deadline).
        """
        if not ops:
            return []
        if self.http.is_closed:  # the whole batch's failure, not each item's (nothing is sent)
            raise client_closed_error("client", YOUR_HTTP_CLIENT_CLOSED)
        if self.loop_batches and not self.http.is_closed and _aiohttp_can_serve():
            from .private_loop import run_coroutine

            return run_coroutine(lambda: self._run_all_in_loop(ops, limit))
        from concurrent.futures import ThreadPoolExecutor

        stop = threading.Event()

        def one(op: Op[T]) -> T | SkytellsError:
            try:
                return self.run(op, stop)
            except Exception as exc:  # that item's failure (interrupts stop the batch)
                return failed_op(exc)

        pool = ThreadPoolExecutor(
            max_workers=min(limit, len(ops)), thread_name_prefix="skytells-batch"
        )
        try:
            results = list(pool.map(one, ops))
        except BaseException:  # Ctrl-C: start nothing more
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return results

    async def _run_all_in_loop(self, ops: Sequence[Op[T]], limit: int) -> list[T | SkytellsError]:
        from .aiohttp_transport import AiohttpHttp
        from .async_driver import AsyncDriver

        http = AiohttpHttp()
        try:
            return await AsyncDriver(self.config, http).run_all(ops, limit)
        finally:
            await http.aclose()

    def send(self, request: HttpRequest) -> RawResponse:
        """One HTTP exchange, bounded by the request's deadline as a whole (connect, send, every
        byte of the body: see the transport), its body's decoded size by the client's cap."""
        method, path = request.method, request.path
        try:
            response = self.http.open(
                method,
                self.config.base_url + path,
                headers={**self._headers, **request.headers} if request.headers else self._headers,
                params=request.params,
                body=request.body,
                deadline=request.deadline,
                idle=math.inf,
            )
            try:
                decoder = BodyDecoder(
                    response.headers,
                    self.config.max_response_bytes,
                    method=method,
                    target=path,
                    status=response.status,
                )
                parts: list[bytes] = []
                if response.decoded:  # by a caller's event hook: only the size is left to check
                    content = response.read()
                    if decoder.limit is not None and len(content) > decoder.limit:
                        raise decoder.too_large(len(content))
                    parts.append(content)
                else:
                    while chunk := response.read():
                        parts.extend(decoder.feed(chunk))
                    parts.extend(decoder.finish())
            finally:
                response.close()
        except SendTimeout:
            raise timeout_error(method, path, self.config.timeout_ms) from None
        except SendFailure as exc:
            raise connection_error(method, path, exc.cause) from None
        return RawResponse(response.status, response.headers, b"".join(parts))

    def download(self, action: Download) -> DownloadResult:
        """Stream a file to disk; no API key is sent (output URLs are not API calls)."""
        remaining = action.deadline - time.monotonic()
        try:
            response = self.http.open(
                "GET",
                action.url,
                headers=DOWNLOAD_HEADERS,
                deadline=action.deadline,
                idle=action.idle_timeout,
                follow_redirects=True,
            )
            try:
                if not carries_a_file(response.status):  # 204: no file, not an empty one
                    return DownloadResult(response.status, response.headers, 0)
                sink = FileSink(action, response.headers, response.decoded)
                sink.open()
                try:
                    while chunk := response.read():  # each read, as it arrives
                        sink.write(chunk)
                        self._progress(action, sink)
                    path = sink.finish()
                finally:
                    sink.abort()
                return DownloadResult(response.status, response.headers, sink.done, path)
            finally:
                response.close()
        except SendTimeout:
            raise timeout_error("GET", action.url, max(remaining, 0) * 1000) from None
        except SendFailure as exc:
            raise connection_error("GET", action.url, exc.cause) from None

    @staticmethod
    def _progress(action: Download, sink: FileSink) -> None:
        if action.on_progress is None:
            return
        outcome = action.on_progress(sink.dest, sink.done, sink.total)
        if isinstance(outcome, Awaitable):
            _close(outcome)
            raise TypeError(
                "on_progress returned an awaitable: use AsyncSkytellsClient for async callbacks"
            )


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()


def _aiohttp_can_serve() -> bool:
    """Whether aiohttp may carry a batch here (not ``SKYTELLS_ASYNC_HTTP=httpx``, and no proxy
    it cannot use)."""
    from .aiohttp_transport import aiohttp_proxies, async_backend

    return async_backend() == "aiohttp" and aiohttp_proxies() is not None
