"""Runs operations with blocking I/O: `httpx.Client` and `time.sleep`."""

from __future__ import annotations

import inspect
import time
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from .._exceptions import APIConnectionError, APITimeoutError, SkytellsError
from ._config import ClientConfig
from ._protocol import Emit, HttpRequest, Notify, Op, RawResponse, Sleep
from ._transport_errors import connection_error, timeout_error

T = TypeVar("T")


class SyncDriver:
    """Performs the actions of operations over one pooled `httpx.Client`."""

    def __init__(self, config: ClientConfig, http: httpx.Client) -> None:
        self.config = config
        self.http = http
        self._headers = config.base_headers()

    def run(self, op: Op[T]) -> T:
        """Drive ``op`` to completion and return its result (emitted values are dropped)."""
        steps = self.iterate(op)
        while True:
            try:
                next(steps)
            except StopIteration as stop:
                result: T = stop.value
                return result

    def iterate(self, op: Op[T]) -> Generator[Any, None, T]:
        """Drive ``op``, yielding each value it emits; closing this generator closes ``op``."""
        value: Any = None
        error: BaseException | None = None
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
                    value = self.perform(action)
                except Exception as exc:
                    error = exc
        finally:
            op.close()

    def perform(self, action: HttpRequest | Sleep | Notify) -> Any:
        """Carry out one action."""
        if isinstance(action, HttpRequest):
            return self.send(action)
        if isinstance(action, Sleep):
            time.sleep(action.seconds)
            return None
        outcome = action.callback(action.value)
        if inspect.isawaitable(outcome):
            _close(outcome)
            raise TypeError(
                "on_progress returned an awaitable: use AsyncSkytellsClient for async callbacks"
            )
        return None

    def run_all(self, ops: Sequence[Op[T]], limit: int) -> list[T | SkytellsError]:
        """Run ``ops`` concurrently, at most ``limit`` at once; results (or errors) in order."""
        if not ops:
            return []

        def one(op: Op[T]) -> T | SkytellsError:
            try:
                return self.run(op)
            except SkytellsError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=min(limit, len(ops))) as pool:
            return list(pool.map(one, ops))

    def send(self, request: HttpRequest) -> RawResponse:
        """One HTTP exchange, bounded by the request's deadline as a whole."""
        remaining = request.deadline - time.monotonic()
        if remaining <= 0:
            raise timeout_error(request, self.config)
        headers = {**self._headers, **request.headers}
        try:
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
            )
            try:
                chunks = []
                for chunk in response.iter_bytes():
                    chunks.append(chunk)
                    if time.monotonic() > request.deadline:
                        raise timeout_error(request, self.config)
            finally:
                response.close()
        except httpx.TimeoutException:
            raise timeout_error(request, self.config) from None
        except httpx.TransportError as exc:
            raise connection_error(request, exc) from None
        except (APIConnectionError, APITimeoutError):
            raise
        return RawResponse(response.status_code, response.headers, b"".join(chunks))


def _close(awaitable: Any) -> None:
    close = getattr(awaitable, "close", None)
    if close is not None:
        close()
