"""`ClientCore`: what a client does, apart from how it performs I/O.

A client is a `ClientCore` (its settings, its queue, and the operation each public method runs,
built from that method's arguments) plus a driver that runs operations: the sync client with
``driver.run(op)``, the async one with ``await driver.run(op)``. Everything between a public
method's arguments and its result is here, once, for both clients and their resources; this is
also the one place the public surface calls the core's operations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .._core import batch, models, output_files, predictions, reconcile, running, saving, waiting
from .._core.config import ClientConfig, check_file_encoder, concurrency_limit
from .._core.context import ClientState, Context
from .._core.file_inputs import FileEncoder
from .._core.output_files import FileInfo, Seen
from .._core.payloads import (
    payload_dict,
    prediction_dict,
    prediction_id_of,
    run_payload,
    wait_options,
)
from .._core.protocol import Emit, Op
from .._core.queue import PredictionQueue, note_interrupted, queued_create
from .._core.saving import ProgressCallback
from .._core.schedule import wait_limits
from .._exceptions import SkytellsError, WaitTimeoutError
from .._options import (
    ModelFieldsOptions,
    OnProgressCallback,
    PredictionRequest,
    PredictionsListOptions,
    QueueItem,
    RunOptions,
    WaitOptions,
)
from .._pagination import PaginatedResponse
from .._types import ModelResponse, PredictionResponse

if TYPE_CHECKING:
    from .._progress import ProgressReporter

__all__ = ["ClientCore", "Dispatch", "RunMany"]

T = TypeVar("T")


class ClientCore:
    """A client's settings and queue, and the operations of its public methods.

    Shared by a client and its resources (``client.predictions``, ``client.models``); a client
    made by `with_options()` has a core of its own with the same queue.
    """

    __slots__ = ("config", "ctx", "queue", "state")

    def __init__(
        self, config: ClientConfig, queue: PredictionQueue, state: ClientState | None = None
    ) -> None:
        self.config = config
        self.state = state if state is not None else ClientState()
        self.ctx = Context(config, self.state)
        """What every operation gets: the settings and the state learnt from the server."""
        self.queue = queue

    def with_config(self, config: ClientConfig) -> ClientCore:
        """This core with other settings, and the same queue."""
        return ClientCore(config, self.queue, self.state)

    def enqueue(self, payload: Mapping[str, Any] | PredictionRequest) -> None:
        """``queue()``: add a create request to the local queue."""
        self.queue.add(payload_dict(payload))

    # ── one request ──────────────────────────────────────────────────────

    def with_encoder(self, file_encoder: FileEncoder | None) -> Context:
        """The context of one call: this client's, with a call's own ``file_encoder``."""
        if file_encoder is None:
            return self.ctx
        config = self.config.with_overrides(file_encoder=check_file_encoder(file_encoder))
        return Context(config, self.state)

    def create(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        idempotency_key: str | None,
        file_encoder: FileEncoder | None = None,
    ) -> Op[PredictionResponse]:
        """``predictions.create()``: a background create (``await: false``)."""
        return self._create(payload, idempotency_key, file_encoder, background=True)

    def predict(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        idempotency_key: str | None,
        file_encoder: FileEncoder | None = None,
    ) -> Op[PredictionResponse]:
        """``predict()``: a create sent exactly as given (local files encoded)."""
        return self._create(payload, idempotency_key, file_encoder, background=False)

    def _create(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        idempotency_key: str | None,
        file_encoder: FileEncoder | None,
        *,
        background: bool,
    ) -> Op[PredictionResponse]:
        return predictions.create_prediction(
            self.with_encoder(file_encoder),
            payload,
            background=background,
            idempotency_key=idempotency_key,
        )

    def get(self, prediction_id: str) -> Op[PredictionResponse]:
        """``predictions.get()``."""
        return predictions.get_prediction(self.ctx, prediction_id)

    def list_predictions(
        self,
        page: int | None,
        since: str | dt.date | None,
        until: str | dt.date | None,
        model: str | None,
        *,
        per_page: int | None,
        status: str | None,
        options: PredictionsListOptions | Mapping[str, Any] | None = None,
    ) -> Op[PaginatedResponse]:
        """``predictions.list()``: one page."""
        return predictions.list_predictions(
            self.ctx,
            page=page,
            since=since,
            until=until,
            model=model,
            per_page=per_page,
            status=status,
            options=options,
        )

    def reconcile_create(
        self,
        model: str,
        input: Mapping[str, Any],
        since: dt.datetime,
        claimed: Container[str],
    ) -> Op[PredictionResponse | None]:
        """The prediction a create of ``model`` with ``input`` (as sent), whose first attempt
        began at ``since`` (aware; minus a clock-skew allowance, see `reconcile.window_start`),
        may have made: not in ``claimed`` nor claimed by this client, and claimed now. None if
        there is none; `CreateOutcomeUnknownError` if that cannot be told (internal: resumed
        batches)."""
        return reconcile.find_created(
            self.ctx, model, reconcile.sent_json(dict(input)), since, claimed
        )

    def cancel(self, prediction_id: str) -> Op[PredictionResponse]:
        """``predictions.cancel()`` and ``cancel_prediction()``."""
        return predictions.cancel_prediction(self.ctx, prediction_id)

    def delete(self, prediction_id: str) -> Op[dict[str, Any]]:
        """``predictions.delete()`` and ``delete_prediction()``."""
        return predictions.delete_prediction(self.ctx, prediction_id)

    def stream_prediction(self, prediction_id: str) -> Op[PredictionResponse]:
        """``stream_prediction()``."""
        return predictions.stream_prediction(self.ctx, prediction_id)

    def list_models(
        self,
        fields: Iterable[str] | str | None,
        options: ModelFieldsOptions | Mapping[str, Any] | None,
        type: str | None = None,
    ) -> Op[list[ModelResponse]]:
        """``models.list()``, of one model type when ``type`` is given."""
        return models.list_models(self.ctx, fields, options, type=type)

    def get_model(
        self,
        slug: str,
        fields: Iterable[str] | str | None,
        options: ModelFieldsOptions | Mapping[str, Any] | None,
    ) -> Op[ModelResponse]:
        """``models.get()``."""
        return models.get_model(self.ctx, slug, fields, options)

    # ── following one prediction ─────────────────────────────────────────

    def run(
        self,
        model: str,
        input: Mapping[str, Any] | None,
        on_progress: OnProgressCallback | None,
        *,
        webhook: Mapping[str, Any] | str | None,
        stream: bool,
        options: RunOptions | Mapping[str, Any] | None,
        max_wait: float | None,
        cancel_on_timeout: bool,
        idempotency_key: str | None,
        file_encoder: FileEncoder | None = None,
        progress: bool = False,
    ) -> Op[PredictionResponse]:
        """``run()``: create, then wait for the outcome (``progress``: with a live bar)."""
        payload = run_payload(model, input, webhook, stream, options)
        reporter = _reporter(model) if progress else None
        op = running.run_prediction(
            self.with_encoder(file_encoder),
            payload,
            on_progress=on_progress if reporter is None else reporter.along(on_progress),
            max_wait_ms=max_wait,
            cancel_on_timeout=cancel_on_timeout,
            idempotency_key=idempotency_key,
        )
        return op if reporter is None else _reporting(op, reporter)

    def wait(
        self,
        prediction: Any,
        options: WaitOptions | Mapping[str, Any] | None,
        on_progress: OnProgressCallback | None,
        cancel_on_timeout: bool,
        progress: bool = False,
    ) -> Op[PredictionResponse]:
        """``wait()`` (``progress``: with a live bar)."""
        interval, max_wait = wait_options(options)
        reporter = _reporter(None) if progress else None
        op = waiting.wait_for(
            self.ctx,
            prediction,
            interval_ms=interval,
            max_wait_ms=max_wait,
            on_progress=on_progress if reporter is None else reporter.along(on_progress),
            cancel_on_timeout=cancel_on_timeout,
        )
        if reporter is None:
            return op
        return _reporting(op, reporter, prediction_dict(prediction))

    def stream(self, prediction: Any, max_wait: float | None) -> Op[PredictionResponse]:
        """``stream()``: emits the prediction's `StreamEvent`s."""
        return waiting.stream_events(self.ctx, prediction, max_wait_ms=max_wait)

    def save_outputs(
        self,
        prediction: Any,
        target: str | PathLike[str],
        *,
        on_progress: ProgressCallback | None,
        timeout: float | None,
        max_bytes: int | None,
        overwrite: bool,
    ) -> Op[list[Path]]:
        """``save_outputs()``."""
        return saving.save_outputs(
            self.ctx,
            prediction_dict(prediction) or cast(PredictionResponse, {}),
            Path(target),
            on_progress=on_progress,
            timeout_ms=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
        )

    # ── output files ─────────────────────────────────────────────────────

    def output_files(self, prediction: Any) -> list[FileInfo]:
        """``files()``: what each output file is (no request is sent)."""
        data = prediction_dict(prediction)
        if data is None:
            raise SkytellsError(
                "files() takes a prediction (a dict or a Prediction), not an id: get it first "
                "with predictions.get(id)",
                "INVALID_PARAMETER",
            )
        return output_files.files_of(data)

    def read_file(
        self, info: FileInfo, seen: Seen, max_bytes: int | None, timeout: float | None
    ) -> Op[bytes]:
        """``OutputFile.read()``."""
        return output_files.read_file(self.ctx, info, seen, max_bytes=max_bytes, timeout_ms=timeout)

    def file_chunks(
        self, info: FileInfo, seen: Seen, max_bytes: int | None, timeout: float | None
    ) -> Op[None]:
        """``OutputFile.iter_bytes()`` and ``open()``: emits ``b""`` once open, then the bytes."""
        return output_files.file_chunks(
            self.ctx, info, seen, max_bytes=max_bytes, timeout_ms=timeout
        )

    def save_file(
        self,
        info: FileInfo,
        target: str | PathLike[str],
        *,
        on_progress: ProgressCallback | None,
        timeout: float | None,
        max_bytes: int | None,
        overwrite: bool,
    ) -> Op[Path]:
        """``OutputFile.save()``: that output alone, as ``save_outputs()`` would save it."""
        op = saving.save_outputs(
            self.ctx,
            info.prediction,
            Path(target),
            on_progress=on_progress,
            timeout_ms=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
            only=info.index,
        )
        return _single(op)

    # ── many predictions ─────────────────────────────────────────────────

    def wait_many(
        self, predictions: Sequence[Any], options: WaitOptions | Mapping[str, Any] | None
    ) -> Op[list[PredictionResponse]]:
        """``wait_many()``: the final dicts in the order given."""
        interval, max_wait = wait_options(options)
        waiting = batch.wait_many(self.ctx, predictions, interval_ms=interval, max_wait_ms=max_wait)
        return _in_order(waiting, predictions)

    def dispatch(self, concurrency: int | None) -> Dispatch:
        """``dispatch()``: a create per queued request."""
        return Dispatch(self, concurrency)

    def run_many(
        self,
        payloads: Sequence[Mapping[str, Any] | PredictionRequest],
        concurrency: int | None,
        options: WaitOptions | Mapping[str, Any] | None,
    ) -> RunMany:
        """``run_many()``; bad wait options are refused now, before any create."""
        return RunMany(self, payloads, concurrency, options)


def _reporter(model: str | None) -> ProgressReporter:
    from .._progress import ProgressReporter  # imported by the first progress=True only

    return ProgressReporter(model)


def _reporting(
    op: Op[T], reporter: ProgressReporter, start: Mapping[str, Any] | None = None
) -> Op[T]:
    """``op`` with a bar: it starts at ``start`` (the state the caller has, if any) and ends
    with ``op``'s result (a wait may end with no report: the prediction was already over), or
    what its error says."""
    if start is not None:
        reporter(start)
    try:
        result = yield from op
    except BaseException as error:
        reporter.end(error=error)
        raise
    reporter.end(result if isinstance(result, Mapping) else None)
    return result


def _single(op: Op[list[Path]]) -> Op[Path]:
    (path,) = yield from op
    return path


def _in_order(
    waiting: Op[dict[str, PredictionResponse]], predictions: Sequence[Any]
) -> Op[list[PredictionResponse]]:
    states = yield from waiting
    return [states[prediction_id_of(p)] for p in predictions]


class Dispatch:
    """One `dispatch()`: ``creates`` (one per queued request) to run ``limit`` at a time, then
    `settle` with their outcomes. Used as a context manager around the run, so an interrupted
    run tells the caller how to recover (every request stays queued with its key)::

        with core.dispatch(concurrency) as job:
            return job.settle(driver.run_all(job.creates, job.limit))
    """

    def __init__(self, core: ClientCore, concurrency: int | None) -> None:
        self._queue = core.queue
        self.limit = concurrency_limit(concurrency, core.config.dispatch_concurrency)
        # Claimed: a dispatch running at once on another thread sends none of them again.
        self._items: list[QueueItem] = core.queue.take()
        try:
            self.creates = [queued_create(core.ctx, item) for item in self._items]
        except BaseException:
            self._queue.release(self._items)
            raise

    def settle(
        self, outcomes: Sequence[PredictionResponse | SkytellsError]
    ) -> list[PredictionResponse]:
        """Take the created requests off the queue; their responses in queue order, or
        `DispatchError` (see `PredictionQueue.settle`)."""
        return self._queue.settle(self._items, outcomes)

    def __enter__(self) -> Dispatch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._queue.release(self._items)  # what was not settled (an interrupt) stays queued
        if exc is not None and not isinstance(exc, Exception):  # Ctrl-C, a cancelled task...
            note_interrupted(exc, len(self._items))


class RunMany:
    """One `run_many()`: run ``creates()`` ``limit`` at a time, then iterate ``results(outcomes)``
    (an operation that emits each `RunResult` as it completes, creation failures first)."""

    def __init__(
        self,
        core: ClientCore,
        payloads: Sequence[Mapping[str, Any] | PredictionRequest],
        concurrency: int | None,
        options: WaitOptions | Mapping[str, Any] | None,
    ) -> None:
        self._config = core.config
        self._ctx = core.ctx
        self._interval, self._max_wait = wait_options(options)
        wait_limits(self._interval, self._max_wait, self._config.poll_interval_ms)
        self._many = batch.RunMany(payloads)
        self.limit = concurrency_limit(concurrency, self._config.dispatch_concurrency)

    def creates(self) -> list[Op[PredictionResponse]]:
        """One background create per payload."""
        return self._many.creates(self._ctx)

    def results(self, outcomes: Sequence[PredictionResponse | SkytellsError]) -> Op[None]:
        """Emit a `RunResult` for each failed create, then for each prediction as it ends; past
        ``max_wait``, one for each still running (with its `WaitTimeoutError`)."""
        failures, created = self._many.created(outcomes)
        for failure in failures:
            yield Emit(failure)
        waiting = batch.wait_many(
            self._ctx,
            created,
            interval_ms=self._interval,
            max_wait_ms=self._max_wait,
            emit=True,
        )
        try:
            yield from _map_emitted(waiting, self._many.result)
        except WaitTimeoutError as error:
            for result in self._many.timed_out(error):
                yield Emit(result)


def _map_emitted(op: Op[T], function: Callable[[Any], Any]) -> Op[T]:
    """``op``, with each value it emits passed through ``function``."""
    reply: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                action = op.send(reply) if error is None else op.throw(error)
            except StopIteration as done:
                result: T = done.value
                return result
            if isinstance(action, Emit):
                action = Emit(function(action.value))
            try:
                reply, error = (yield action), None
            except BaseException as exc:  # GeneratorExit and interrupts too: ``op`` sees them
                reply, error = None, exc
    finally:
        op.close()
