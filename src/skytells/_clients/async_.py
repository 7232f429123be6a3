"""`AsyncSkytellsClient`: the asyncio client (native async I/O, no thread pool)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from functools import partial
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .._core import batch
from .._core import operations as ops
from .._core import saving as downloads
from .._core.config import ClientConfig
from .._core.queue import note_interrupted
from .._core.saving import ProgressCallback
from .._core.schedule import wait_limits
from .._exceptions import WaitTimeoutError
from .._io.aiohttp_transport import default_async_http
from .._io.async_driver import AsyncDriver
from .._io.async_http import AsyncHttp
from .._io.fork import HttpPool
from .._io.httpx_adapter import HttpxHttp
from .._options import (
    ClientOptions,
    ModelFieldsOptions,
    OnProgressCallback,
    PredictionRequest,
    RetryOptions,
    RunOptions,
    WaitOptions,
)
from .._pagination import PaginatedResponse
from .._types import ModelResponse, PredictionResponse
from ..resources import AsyncModels, AsyncPredictions
from .base import POOL_LIMITS, ClientBase, deprecated
from .prediction import AsyncPrediction
from .prediction_stream import AsyncPredictionStream


class AsyncSkytellsClient(ClientBase):
    """The asyncio Skytells client: the surface of `SkytellsClient`, with awaitable methods.

    ``on_progress`` callbacks may be plain functions or coroutines. Cancelling the task that
    awaits a method stops it cleanly and returns its connection to the pool. Use
    ``async with AsyncSkytellsClient() as client:`` or call `aclose()`.
    Arguments are those of `SkytellsClient`, with ``http_client`` an `httpx.AsyncClient`. In a
    forked process it gets connections and a session of its own, as `SkytellsClient` does.
    """

    def __init__(
        self,
        api_key: str | None = None,
        options: ClientOptions | Mapping[str, Any] | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryOptions | Mapping[str, Any] | None = None,
        max_retries: int | None = None,
        poll_interval: float | None = None,
        dispatch_concurrency: int | None = None,
        max_response_bytes: int | None = None,
        await_hold: float | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            api_key,
            options,
            base_url=base_url,
            timeout=timeout,
            headers=headers,
            retry=retry,
            max_retries=max_retries,
            poll_interval=poll_interval,
            dispatch_concurrency=dispatch_concurrency,
            max_response_bytes=max_response_bytes,
            await_hold=await_hold,
        )
        self._owns_http = http_client is None
        if http_client is None:
            make = partial(default_async_http, POOL_LIMITS)
            self._pool: HttpPool[AsyncHttp] = HttpPool(make(), make, type(self).__name__)
        else:
            self._pool = HttpPool(HttpxHttp(http_client), None, type(self).__name__)
        self._driver = AsyncDriver(self._config, self._pool)
        self.predictions = AsyncPredictions(self)
        self.models = AsyncModels(self)

    @classmethod
    def _derived(cls, parent: AsyncSkytellsClient, config: ClientConfig) -> AsyncSkytellsClient:
        client = cls.__new__(cls)
        client.__dict__.update(parent.__dict__)
        client._config = config
        client._owns_http = False
        client._driver = AsyncDriver(config, parent._pool)
        client.predictions = AsyncPredictions(client)
        client.models = AsyncModels(client)
        return client

    @property
    def _http(self) -> AsyncHttp:
        """This process's connection pool: a process forked from the one that made this client
        gets a new pool on its first request, never the parent's connections or session."""
        return self._pool.get()

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int | None = None,
        await_hold: float | None = None,
    ) -> AsyncSkytellsClient:
        """A client with some settings changed that shares this one's connection pool and queue.

        Each setting is checked as the constructor checks it (``timeout=0`` is refused)."""
        config = self._overrides(
            max_retries=max_retries,
            timeout=timeout,
            headers=headers,
            max_response_bytes=max_response_bytes,
            await_hold=await_hold,
        )
        return self._derived(self, config)

    async def run(
        self,
        model: str,
        input: Mapping[str, Any] | None = None,
        on_progress: OnProgressCallback | None = None,
        *,
        webhook: Mapping[str, Any] | str | None = None,
        stream: bool = False,
        options: RunOptions | Mapping[str, Any] | None = None,
        max_wait: float | None = None,
        cancel_on_timeout: bool = False,
        idempotency_key: str | None = None,
    ) -> AsyncPrediction:
        """Run a model and wait for the result (see `SkytellsClient.run`)."""
        op = ops.run_prediction(
            self._config,
            ops.run_payload(model, input, webhook, stream, options),
            on_progress=on_progress,
            max_wait_ms=max_wait,
            cancel_on_timeout=cancel_on_timeout,
            idempotency_key=idempotency_key,
        )
        return AsyncPrediction(self, await self._driver.run(op))

    async def predict(
        self, payload: Mapping[str, Any] | PredictionRequest, *, idempotency_key: str | None = None
    ) -> PredictionResponse:
        """Send a create request exactly as given (``await`` included); returns the raw dict."""
        op = ops.create_prediction(
            self._config, payload, background=False, idempotency_key=idempotency_key
        )
        return await self._driver.run(op)

    async def wait(
        self,
        prediction: Any,
        options: WaitOptions | Mapping[str, Any] | None = None,
        on_progress: OnProgressCallback | None = None,
        *,
        cancel_on_timeout: bool = False,
    ) -> PredictionResponse:
        """Check a prediction until it is terminal (see `SkytellsClient.wait`)."""
        interval, max_wait = ops.wait_options(options)
        op = ops.wait_for(
            self._config,
            prediction,
            interval_ms=interval,
            max_wait_ms=max_wait,
            on_progress=on_progress,
            cancel_on_timeout=cancel_on_timeout,
        )
        return await self._driver.run(op)

    async def dispatch(self, *, concurrency: int | None = None) -> list[PredictionResponse]:
        """Create every queued prediction concurrently (see `SkytellsClient.dispatch`)."""
        items = self._queue.snapshot()
        calls = [
            ops.create_prediction(
                self._config, item.payload, background=True, idempotency_key=item.idempotency_key
            )
            for item in items
        ]
        try:
            outcomes = await self._driver.run_all(
                calls, concurrency or self._config.dispatch_concurrency
            )
        except (KeyboardInterrupt, asyncio.CancelledError) as interrupt:
            note_interrupted(interrupt, len(items))
            raise
        return self._queue.settle(items, outcomes)

    async def wait_many(
        self,
        predictions: Sequence[Any],
        options: WaitOptions | Mapping[str, Any] | None = None,
    ) -> list[PredictionResponse]:
        """Wait for many predictions; returns their final dicts in order (see
        `SkytellsClient.wait_many`)."""
        interval, max_wait = ops.wait_options(options)
        op = batch.wait_many(self._config, predictions, interval_ms=interval, max_wait_ms=max_wait)
        states = await self._driver.run(op)
        return [states[ops.prediction_id_of(p)] for p in predictions]

    def run_many(
        self,
        payloads: Sequence[Mapping[str, Any] | PredictionRequest],
        *,
        concurrency: int | None = None,
        options: WaitOptions | Mapping[str, Any] | None = None,
    ) -> AsyncIterator[batch.RunResult]:
        """Create many predictions concurrently and yield each `RunResult` as it completes
        (``async for``; see `SkytellsClient.run_many`)."""
        interval, max_wait = ops.wait_options(options)
        wait_limits(interval, max_wait, self._config.poll_interval_ms)  # before any create
        many = batch.RunMany(payloads)
        return self._run_many(many, concurrency, options)

    async def _run_many(
        self,
        many: batch.RunMany,
        concurrency: int | None,
        options: WaitOptions | Mapping[str, Any] | None,
    ) -> AsyncIterator[batch.RunResult]:
        limit = concurrency or self._config.dispatch_concurrency
        outcomes = await self._driver.run_all(many.creates(self._config), limit)
        failures, created = many.created(outcomes)
        for failure in failures:
            yield failure
        interval, max_wait = ops.wait_options(options)
        op = batch.wait_many(
            self._config, created, interval_ms=interval, max_wait_ms=max_wait, emit=True
        )
        try:
            async for state in self._driver.iterate(op):
                yield many.result(state)
        except WaitTimeoutError as error:
            for result in many.timed_out(error):
                yield result

    async def save_outputs(
        self,
        prediction: Any,
        target: str | PathLike[str] = ".",
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Stream every output to disk; returns the paths (see `SkytellsClient.save_outputs`)."""
        data = ops.prediction_dict(prediction) or {}
        op = downloads.save_outputs(
            self._config,
            data,
            Path(target),
            on_progress=on_progress,
            timeout_ms=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
        )
        return await self._driver.run(op)

    async def cancel_prediction(self, id: str) -> PredictionResponse:
        """Cancel a running prediction; returns the updated prediction dict."""
        return await self._driver.run(ops.cancel_prediction(self._config, id))

    async def delete_prediction(self, id: str) -> dict[str, Any]:
        """Delete a prediction and its stored files."""
        return await self._driver.run(ops.delete_prediction(self._config, id))

    def stream(self, prediction: Any, *, max_wait: float | None = None) -> AsyncPredictionStream:
        """Follow a prediction and yield its `StreamEvent`s as they happen (see
        `SkytellsClient.stream`); not awaited: ``async with client.stream(p) as events:`` then
        ``async for event in events:``. Leaving the block or the loop closes the connection.
        """
        op = ops.stream_events(self._config, prediction, max_wait_ms=max_wait)
        return AsyncPredictionStream(self._driver.iterate(op))

    async def stream_prediction(self, id: str) -> PredictionResponse:
        """The prediction dict whose ``urls["stream"]`` is its streaming endpoint."""
        return await self._driver.run(ops.stream_prediction(self._config, id))

    async def list_predictions(self, page: int | None = None) -> PaginatedResponse:
        """Deprecated: use ``client.predictions.list()``."""
        deprecated("list_predictions", "predictions.list")
        return await self.predictions.list(page=page)

    async def get_prediction(self, id: str) -> PredictionResponse:
        """Deprecated: use ``client.predictions.get()``."""
        deprecated("get_prediction", "predictions.get")
        return await self.predictions.get(id)

    async def list_models(
        self,
        fields: Iterable[str] | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> list[ModelResponse]:
        """Deprecated: use ``client.models.list()``."""
        deprecated("list_models", "models.list")
        return await self.models.list(fields, options)

    async def get_model(
        self,
        slug: str,
        fields: Iterable[str] | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Deprecated: use ``client.models.get()``."""
        deprecated("get_model", "models.get")
        return await self.models.get(slug, fields, options)

    async def aclose(self) -> None:
        """Close the connection pool (unless it was passed in as ``http_client``)."""
        http = self._pool.current()
        if self._owns_http and http is not None:
            await http.aclose()

    async def __aenter__(self) -> AsyncSkytellsClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
