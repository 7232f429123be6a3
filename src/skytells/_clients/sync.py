"""`SkytellsClient`: the synchronous client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._core.batch import RunResult
from .._core.file_inputs import FileEncoder
from .._core.saving import ProgressCallback
from .._io.fork import HttpPool
from .._io.sync_driver import SyncDriver
from .._io.sync_transport import SyncTransport
from .._options import (
    ModelFieldsOptions,
    OnProgressCallback,
    PredictionRequest,
    RunOptions,
    WaitOptions,
)
from .._pagination import PaginatedResponse
from .._types import ModelResponse, PredictionResponse
from ..resources import Models, Predictions
from .base import ClientBase, deprecated
from .batch import Batch, BatchProgress
from .core import RunMany
from .prediction import Prediction
from .prediction_stream import PredictionStream

if TYPE_CHECKING:
    import httpx


class SkytellsClient(ClientBase["httpx.Client", SyncDriver]):
    """The synchronous Skytells client.

    Args:
        api_key: your key (``sk-...``); default: the ``SKYTELLS_API_KEY`` environment variable.
        options: official-style `ClientOptions` (or a dict of its keys).
        base_url: the API base URL; default ``SKYTELLS_BASE_URL``, ``SKYTELLS_AI_API_URL``, then
            ``https://api.skytells.ai/v1``.
        timeout: deadline of one request in ms (default 60000), the whole exchange included.
        headers: extra headers sent with every request.
        retry: official-style `RetryOptions` or a dict of its keys.
        max_retries: retries of a failed request (default 2).
        poll_interval: the longest gap in ms between two checks while waiting (default 5000).
        dispatch_concurrency: creates in flight at once during `dispatch()` (default 32).
        max_response_bytes: the largest API response accepted, in bytes after decompression
            (default 64 MiB), counted as it is read; past it `ResponseTooLargeError`. For an
            event stream it bounds each event.
        await_hold: how long in ms a server may hold a create that waits for its result
            (`run()` without ``on_progress``, ``await: true``; default 60000). That request's
            deadline is ``timeout`` plus this, so the hold never races the timeout.
        file_encoder: turns each local file input (a `Path`, ``bytes``, a binary file object, a
            PIL image) into the URL sent for it: a function taking a `FileToEncode` and
            returning an http(s) URL (your bucket, your CDN). Default: a ``data:`` URI.
        max_inline_file_bytes: the largest file sent as a ``data:`` URI (default 10 MiB); past
            it `FileTooLargeError` (``FILE_TOO_LARGE``), before anything is sent.
        http_client: your own `httpx.Client` (proxies, custom transports); you then close it.

    Use it as a context manager, or call `close()`, to release its connections. A process
    forked from the one that made it may use it too: it gets connections of its own on its first
    request (with your ``http_client``, `SkytellsError` ``CLIENT_FORKED``: make one per process).
    """

    _asynchronous = False
    predictions: Predictions
    models: Models

    def _connect(self, http_client: httpx.Client | None) -> None:
        self._loop_batches = http_client is None  # kept by with_options() clients (same pool)
        self._pool: HttpPool[SyncTransport]
        if http_client is None:
            self._pool = HttpPool(None, _own_transport, type(self).__name__)  # on first use
        else:
            from .._io.httpx_transport import HttpxTransport

            self._pool = HttpPool(HttpxTransport(http_client), None, type(self).__name__)

    def _bind(self) -> None:
        core = self._core
        # With its own connections, a batch (dispatch, run_many) runs over aiohttp in a loop.
        self._driver = SyncDriver(core.config, self._pool, loop_batches=self._loop_batches)
        self.predictions = Predictions(core, self._driver)
        self.models = Models(core, self._driver)

    @property
    def _http(self) -> SyncTransport:
        """This process's connection pool: a process forked from the one that made this client
        gets a new pool on its first request, never the parent's connections."""
        return self._pool.get()

    # ── running ──────────────────────────────────────────────────────────

    def run(
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
    ) -> Prediction:
        """Run a model and wait for the result.

        Without ``on_progress`` the server holds the response until the prediction finishes
        (``await: true``), and waiting continues here if it answers early. With ``on_progress``
        the prediction is created in the background and followed until done, calling
        ``on_progress(state_dict)`` each time its status or progress changes. A create whose
        outcome stays unknown raises `CreateOutcomeUnknownError` with its idempotency key.
        A local file in ``input`` (a `Path`, ``bytes``, a binary file object, a PIL image; in
        lists too) is sent as a ``data:`` URI, or through ``file_encoder`` (this call's, else
        the client's): a function taking a `FileToEncode` and returning the URL to send.
        answer was lost is looked for in the listing and adopted if it was made (README:
        "Exactly once"); if that cannot be told, `CreateOutcomeUnknownError` (with the key).
        ``max_wait`` (ms) bounds the waiting;
        ``cancel_on_timeout`` then also cancels the prediction on the server. ``progress=True``
        shows a live bar (in a notebook an HTML bar, on a terminal a line on stderr, in a pipe
        a line per status); like ``on_progress``, it creates the prediction in the background.

        Raises:
            PredictionFailedError: ``status == "failed"`` (``error_id="PREDICTION_FAILED"``).
            PredictionCancelledError: the prediction was cancelled (``PREDICTION_CANCELLED``).
            WaitTimeoutError: ``max_wait`` passed (``WAIT_TIMEOUT``).
            CreateOutcomeUnknownError: the create got no answer, and the listing could not tell
                whether it was made.
            SkytellsError: any API error.
        """
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
        return Prediction(self, self._driver.run(op))

    def predict(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        *,
        idempotency_key: str | None = None,
        file_encoder: FileEncoder | None = None,
    ) -> PredictionResponse:
        """Send a create request exactly as given (``await`` included); returns the raw dict."""
        return self._driver.run(self._core.predict(payload, idempotency_key, file_encoder))

    def wait(
        self,
        prediction: Any,
        options: WaitOptions | Mapping[str, Any] | None = None,
        on_progress: OnProgressCallback | None = None,
        *,
        cancel_on_timeout: bool = False,
        progress: bool = False,
    ) -> PredictionResponse:
        """Check a prediction (dict, `Prediction` or id) until it is succeeded, failed or
        cancelled, and return its final dict.

        The first check is immediate; then quick checks back off to ``options["interval"]`` (ms,
        default 5000). ``options["max_wait"]`` (ms) is a deadline: past it `WaitTimeoutError`
        (``WAIT_TIMEOUT``) is raised with the prediction's id and last state. ``progress=True``
        shows a live bar (see `run`).
        """
        op = self._core.wait(prediction, options, on_progress, cancel_on_timeout, progress)
        return self._driver.run(op)

    def dispatch(self, *, concurrency: int | None = None) -> list[PredictionResponse]:
        """Create every queued prediction, ``concurrency`` at a time (default 32), and return
        their initial dicts in queue order.

        A request leaves the queue only once created; if some fail, `DispatchError` carries the
        created responses and the failed payloads, which stay queued for the next `dispatch()`.
        Each queued request keeps one idempotency key; one sent before (by a dispatch that
        failed or was interrupted) is first looked for in the listing, not created twice.

        The batch runs as asyncio tasks over an aiohttp pool of its own in a private event
        loop (about twice the speed of threads); an ``http_client`` of yours,
        ``SKYTELLS_ASYNC_HTTP=httpx`` or a proxy aiohttp cannot use run it on ``concurrency``
        threads over the client's transport. Ctrl-C stops it: every request not created stays
        queued with its key.
        """
        with self._core.dispatch(concurrency) as job:
            return job.settle(self._driver.run_all(job.creates, job.limit))

    def wait_many(
        self,
        predictions: Sequence[Any],
        options: WaitOptions | Mapping[str, Any] | None = None,
    ) -> list[PredictionResponse]:
        """Wait for many predictions (dicts, `Prediction`s or ids); returns their final dicts in
        the order given. While many are pending, one listing request checks up to 50 of them."""
        return self._driver.run(self._core.wait_many(predictions, options))

    def run_many(
        self,
        payloads: Sequence[Mapping[str, Any] | PredictionRequest],
        *,
        concurrency: int | None = None,
        options: WaitOptions | Mapping[str, Any] | None = None,
    ) -> Iterator[RunResult]:
        """Create many predictions concurrently and yield a `RunResult` for each as it completes
        (creation failures first). Every result carries its index, payload and prediction id,
        failed or not. Stopping the iteration early stops the waiting."""
        return self._run_many(self._core.run_many(payloads, concurrency, options))

    def _run_many(self, job: RunMany) -> Iterator[RunResult]:
        outcomes = self._driver.run_all(job.creates(), job.limit)
        yield from self._driver.iterate(job.results(outcomes))

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
    ) -> Batch:
        """A durable batch: every request of the JSON Lines file ``requests`` (one
        ``{"custom_id", "model", "input"}`` a line, optional ``webhook`` and ``stream``), run
        exactly once, each result a line of ``results`` as it finishes.

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
        walks), accepting a possible duplicate. See `Batch`.
        """
        return Batch(
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

    def save_outputs(
        self,
        prediction: Any,
        target: str | PathLike[str] = ".",
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Stream every output of a prediction (dict or `Prediction`) to disk and return the paths.

        ``target`` is a folder (files are named ``<prediction id>-<name from the URL>``, with an
        extension from the content type when the URL has none, and ``-1``, ``-2``... added when
        two outputs share a name) or, for a single output, a file path. Names from the server
        are reduced to safe file names and every file stays in that folder; an id that is not a
        safe name is refused (``UNSAFE_OUTPUT_NAME``). Files are written in 64 KiB chunks to a
        temporary ``.part`` file (created exclusively, never through a link) moved into place
        when complete, so memory stays constant and no half-written file is left behind. An
        existing file is never replaced unless ``overwrite=True`` (``FILE_EXISTS``). Transient
        failures are retried; a purged output (404 after the retention period) raises
        `NotFoundError` with ``error_id="OUTPUT_NOT_FOUND"``, before any request when the
        prediction says ``data_removed: true``. No API key is sent to the file
        host. ``on_progress(path, bytes_written, total_or_None)`` reports progress.
        ``timeout`` (ms) bounds the whole call, retries included (default: 10 minutes or the
        client's timeout, whichever is longer); ``max_bytes`` caps what it writes, all files
        together and after any content decoding (default 5 GiB, ``DOWNLOAD_TOO_LARGE``).
        """
        op = self._core.save_outputs(
            prediction,
            target,
            on_progress=on_progress,
            timeout=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
        )
        return self._driver.run(op)

    # ── prediction shortcuts ─────────────────────────────────────────────

    def cancel_prediction(self, id: str) -> PredictionResponse:
        """Cancel a running prediction; returns the updated prediction dict."""
        return self._driver.run(self._core.cancel(id))

    def _reconcile_create(
        self,
        model: str,
        input: Mapping[str, Any],
        since: dt.datetime,
        claimed: Container[str] = frozenset(),
    ) -> PredictionResponse | None:
        """Internal: the prediction a create whose answer was lost may have made (see
        `ClientCore.reconcile_create`); None if there is none."""
        return self._driver.run(self._core.reconcile_create(model, input, since, claimed))

    def delete_prediction(self, id: str) -> dict[str, Any]:
        """Delete a prediction and its stored files."""
        return self._driver.run(self._core.delete(id))

    def stream(self, prediction: Any, *, max_wait: float | None = None) -> PredictionStream:
        """Follow a prediction (dict, `Prediction` or id) and yield its `StreamEvent`s as they
        happen: ``status``, ``progress``, ``log``, ``output`` (pieces of a text model's output),
        then ``done`` or ``error``, which carry the final prediction dict.

        Reads the prediction's event stream (``urls["stream"]``, Server-Sent Events). A dropped
        connection is resumed with ``Last-Event-ID`` (no event lost or repeated), up to the
        retry policy's count; if the server does not answer with an event stream, or it keeps
        failing, the prediction is polled instead and the same kinds of events are made from
        the polls (without ids or logs). The API key is sent only if the stream is on the API's
        own origin (scheme, host and port of ``base_url``); elsewhere no key nor custom header
        goes. ``max_wait`` (ms) bounds the whole stream (`WaitTimeoutError`).

        ::

            with client.stream(prediction) as events:
                for event in events:
                    print(event.event, event.data)
        """
        return PredictionStream(self._driver.iterate(self._core.stream(prediction, max_wait)))

    def stream_prediction(self, id: str) -> PredictionResponse:
        """The prediction dict whose ``urls["stream"]`` is its streaming endpoint."""
        return self._driver.run(self._core.stream_prediction(id))

    # ── official-package aliases ─────────────────────────────────────────

    def list_predictions(self, page: int | None = None) -> PaginatedResponse:
        """Deprecated: use ``client.predictions.list()``."""
        deprecated("list_predictions", "predictions.list")
        return self.predictions.list(page=page)

    def get_prediction(self, id: str) -> PredictionResponse:
        """Deprecated: use ``client.predictions.get()``."""
        deprecated("get_prediction", "predictions.get")
        return self.predictions.get(id)

    def list_models(
        self,
        fields: Iterable[str] | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> list[ModelResponse]:
        """Deprecated: use ``client.models.list()``."""
        deprecated("list_models", "models.list")
        return self.models.list(fields, options)

    def get_model(
        self,
        slug: str,
        fields: Iterable[str] | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """Deprecated: use ``client.models.get()``."""
        deprecated("get_model", "models.get")
        return self.models.get(slug, fields, options)

    # ── lifecycle ────────────────────────────────────────────────────────

    def close(self) -> None:
        """Close the connection pool (unless it was passed in as ``http_client``); any request
        after this (of this client, its `with_options` clients, its predictions and output
        files) raises `SkytellsError` ``CLIENT_CLOSED``."""
        if self._owns_http:
            http = self._pool.current()
            self._pool.close()
            if http is not None:
                http.close()

    def __enter__(self) -> SkytellsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _own_transport() -> SyncTransport:
    """The connection pool a client makes for itself (in each process it is used in): urllib3,
    imported by the first client made, not by ``import skytells``."""
    from .._io.urllib3_transport import Urllib3Transport

    return Urllib3Transport()
