"""`AsyncSkytellsClient`: the asyncio client (native async I/O, no thread pool)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Container, Iterable, Mapping, Sequence
from functools import partial
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .._core.batch import RunResult
from .._core.file_inputs import FileEncoder
from .._core.saving import ProgressCallback
from .._io.aiohttp_transport import default_async_http
from .._io.async_driver import AsyncDriver
from .._io.async_http import AsyncHttp
from .._io.fork import HttpPool
from .._io.httpx_adapter import HttpxHttp
from .._options import (
    ModelFieldsOptions,
    OnProgressCallback,
    PredictionRequest,
    RunOptions,
    WaitOptions,
)
from .._pagination import PaginatedResponse
from .._types import ModelResponse, PredictionResponse
from ..resources import AsyncModels, AsyncPredictions
from .base import POOL_LIMITS, ClientBase, deprecated
from .batch import AsyncBatch, BatchProgress
from .core import RunMany
from .prediction import AsyncPrediction
from .prediction_stream import AsyncPredictionStream


class AsyncSkytellsClient(ClientBase[httpx.AsyncClient, AsyncDriver]):
    """The asyncio Skytells client: the surface of `SkytellsClient`, with awaitable methods.

    ``on_progress`` callbacks may be plain functions or coroutines. Cancelling the task that
    awaits a method stops it cleanly and returns its connection to the pool. Use
    ``async with AsyncSkytellsClient() as client:`` or call `aclose()`.
    Arguments are those of `SkytellsClient`, with ``http_client`` an `httpx.AsyncClient`. In a
    forked process it gets connections and a session of its own, as `SkytellsClient` does.
    """

    _asynchronous = True
    predictions: AsyncPredictions
    models: AsyncModels

    def _connect(self, http_client: httpx.AsyncClient | None) -> None:
        if http_client is None:
            make = partial(default_async_http, POOL_LIMITS)
            self._pool: HttpPool[AsyncHttp] = HttpPool(make(), make, type(self).__name__)
        else:
            self._pool = HttpPool(HttpxHttp(http_client), None, type(self).__name__)

    def _bind(self) -> None:
        core = self._core
        self._driver = AsyncDriver(core.config, self._pool)
        self.predictions = AsyncPredictions(core, self._driver)
        self.models = AsyncModels(core, self._driver)

    @property
    def _http(self) -> AsyncHttp:
        """This process's connection pool: a process forked from the one that made this client
        gets a new pool on its first request, never the parent's connections or session."""
        return self._pool.get()

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
        file_encoder: FileEncoder | None = None,
        progress: bool = False,
    ) -> AsyncPrediction:
        """Run a model and wait for the result (see `SkytellsClient.run`)."""
        op = self._core.run(
            model,
            input,
            on_progress,
            webhook=webhook,
            stream=stream,
            options=options,
            max_wait=max_wait,
            cancel_on_timeout=cancel_on_timeout,
            idempotency_key=idempotency_key,
            file_encoder=file_encoder,
            progress=progress,
        )
        return AsyncPrediction(self, await self._driver.run(op))

    async def predict(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        *,
        idempotency_key: str | None = None,
        file_encoder: FileEncoder | None = None,
    ) -> PredictionResponse:
        """Send a create request exactly as given (``await`` included); returns the raw dict."""
        return await self._driver.run(self._core.predict(payload, idempotency_key, file_encoder))

    async def wait(
        self,
        prediction: Any,
        options: WaitOptions | Mapping[str, Any] | None = None,
        on_progress: OnProgressCallback | None = None,
        *,
        cancel_on_timeout: bool = False,
        progress: bool = False,
    ) -> PredictionResponse:
        """Check a prediction until it is terminal (see `SkytellsClient.wait`)."""
        op = self._core.wait(prediction, options, on_progress, cancel_on_timeout, progress)
        return await self._driver.run(op)

    async def dispatch(self, *, concurrency: int | None = None) -> list[PredictionResponse]:
        """Create every queued prediction concurrently (see `SkytellsClient.dispatch`)."""
        with self._core.dispatch(concurrency) as job:
            return job.settle(await self._driver.run_all(job.creates, job.limit))

    async def wait_many(
        self,
        predictions: Sequence[Any],
        options: WaitOptions | Mapping[str, Any] | None = None,
    ) -> list[PredictionResponse]:
        """Wait for many predictions; returns their final dicts in order (see
        `SkytellsClient.wait_many`)."""
        return await self._driver.run(self._core.wait_many(predictions, options))

    def run_many(
        self,
        payloads: Sequence[Mapping[str, Any] | PredictionRequest],
        *,
        concurrency: int | None = None,
        options: WaitOptions | Mapping[str, Any] | None = None,
    ) -> AsyncIterator[RunResult]:
        """Create many predictions concurrently and yield each `RunResult` as it completes
        (``async for``; see `SkytellsClient.run_many`)."""
        return self._run_many(self._core.run_many(payloads, concurrency, options))

    async def _run_many(self, job: RunMany) -> AsyncIterator[RunResult]:
        outcomes = await self._driver.run_all(job.creates(), job.limit)
        async for result in self._driver.iterate(job.results(outcomes)):
            yield result

    def batch(
        self,
        requests: str | PathLike[str],
        results: str | PathLike[str],
        *,
        outputs_dir: str | PathLike[str] | None = None,
        concurrency: int | None = None,
        max_cost: float | None = None,
        on_progress: Callable[[BatchProgress], None] | None = None,
        resend_unknown: bool = False,
    ) -> AsyncBatch:
        """A durable batch: every request of the JSON Lines file ``requests`` (one
        ``{"custom_id", "model", "input"}`` a line, optional ``webhook`` and ``stream``), run
        exactly once, each result a line of ``results`` as it finishes. ``async for result in batch`` runs it in this event loop.

        Every line is checked before anything is spent (JSON, fields, unique ``custom_id``, the
        model exists, the input matches its schema): all bad lines are reported at once
        (``INVALID_BATCH``, ``details``: ``[{"line", "problem"}]``). A journal beside the results
        (``results.journal.sqlite``) records each request's state before each step, so running
        the same batch again after a crash resumes it: nothing finished is redone, nothing
        created is created again. ``outputs_dir`` saves each prediction's outputs;
        ``concurrency`` (default: ``dispatch_concurrency``) is the most requests in flight,
        lowered on 429s and raised again as requests succeed. ``max_cost`` refuses to start a
        batch whose estimate (the models' prices) is above it. ``resend_unknown=True`` creates
        again the requests whose outcome cannot be told (``CREATE_OUTCOME_UNKNOWN``: a
        create interrupted while more predictions of its model were made than the look-up
        walks), accepting a possible duplicate. See `AsyncBatch`.
        """
        return AsyncBatch(
            self._core,
            self._driver,
            requests,
            results,
            outputs_dir=outputs_dir,
            concurrency=concurrency,
            max_cost=max_cost,
            on_progress=on_progress,
            resend_unknown=resend_unknown,
        )

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
        op = self._core.save_outputs(
            prediction,
            target,
            on_progress=on_progress,
            timeout=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
        )
        return await self._driver.run(op)

    async def cancel_prediction(self, id: str) -> PredictionResponse:
        """Cancel a running prediction; returns the updated prediction dict."""
        return await self._driver.run(self._core.cancel(id))

    async def _reconcile_create(
        self,
        model: str,
        input: Mapping[str, Any],
        since: dt.datetime,
        claimed: Container[str] = frozenset(),
    ) -> PredictionResponse | None:
        """Internal: the prediction a create whose answer was lost may have made (see
        `ClientCore.reconcile_create`); None if there is none."""
        return await self._driver.run(self._core.reconcile_create(model, input, since, claimed))

    async def delete_prediction(self, id: str) -> dict[str, Any]:
        """Delete a prediction and its stored files."""
        return await self._driver.run(self._core.delete(id))

    def stream(self, prediction: Any, *, max_wait: float | None = None) -> AsyncPredictionStream:
        """Follow a prediction and yield its `StreamEvent`s as they happen (see
        `SkytellsClient.stream`); not awaited: ``async with client.stream(p) as events:`` then
        ``async for event in events:``. Leaving the block or the loop closes the connection.
        """
        return AsyncPredictionStream(self._driver.iterate(self._core.stream(prediction, max_wait)))

    async def stream_prediction(self, id: str) -> PredictionResponse:
        """The prediction dict whose ``urls["stream"]`` is its streaming endpoint."""
        return await self._driver.run(self._core.stream_prediction(id))

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
        """Close the connection pool (unless it was passed in as ``http_client``); any request
        after this (of this client, its `with_options` clients, its predictions and output
        files) raises `SkytellsError` ``CLIENT_CLOSED``. Using it in another event loop (a new
        ``asyncio.run()``) is no closing: it gets connections in that loop."""
        if self._owns_http:
            http = self._pool.current()
            self._pool.close()
            if http is not None:
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
