"""Durable batches: `Batch` and `AsyncBatch`, made by ``client.batch(requests, results)``.

A batch runs every request of a JSON Lines file exactly once, across crashes: each request's
state is in a journal (`skytells._io.journal`) written before each step, so running the same
batch again resumes it. Nothing finished is redone, nothing created is created again (a request
caught mid-create is looked for on the server first, by the reconcile of ambiguous creates), and
the results file gets exactly one line per request.

The engine (`batch_engine`: asyncio, sqlite) is imported by the first batch run, never by
``import skytells``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._core.batchfile import CostEstimate
from .._core.config import concurrency_limit
from .._exceptions import SkytellsError, ValidationError

if TYPE_CHECKING:
    from .._io.async_driver import AsyncDriver
    from .._io.sync_driver import SyncDriver
    from .core import ClientCore

__all__ = ["AsyncBatch", "Batch", "BatchProgress", "BatchResult", "BatchStatus", "CostEstimate"]

CANCEL_WAIT = 10.0
"""How long `Batch.cancel` waits for the creates in flight to answer (then cancels them too)."""

ProgressHook = Callable[["BatchProgress"], None]


@dataclass(frozen=True)
class BatchResult:
    """One request's result: the line the results file holds for it.

    ``status`` is the prediction's final status (``succeeded``, ``failed``, ``cancelled``), or
    ``not_created`` when the service refused the request (``error`` says why). ``files`` are
    the outputs saved under ``outputs_dir``; ``credits_used`` what the service billed.
    """

    custom_id: str
    line: int
    id: str | None
    status: str
    output: Any
    error: dict[str, Any] | None
    files: list[str]
    credits_used: float | None

    @property
    def ok(self) -> bool:
        """Whether the prediction succeeded (and its outputs, if asked for, were saved)."""
        return self.status == "succeeded" and self.error is None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> BatchResult:
        """A result from its line of the results file."""
        return cls(
            str(record.get("custom_id")),
            int(record.get("line") or 0),
            record.get("id"),
            str(record.get("status")),
            record.get("output"),
            record.get("error"),
            list(record.get("files") or []),
            record.get("credits_used"),
        )


@dataclass(frozen=True)
class BatchProgress:
    """Where a running batch is: for progress displays (``on_progress``)."""

    total: int
    done: int
    failed: int
    running: int
    credits: float
    concurrency: int
    throttled: int
    elapsed: float
    done_this_run: int
    paused: float = 0.0
    """Seconds left of the pause a 429 asked for (its ``Retry-After``, or the backoff): no
    request starts and no prediction is looked at until then."""

    @property
    def rate(self) -> float:
        """Requests finished a second in this run."""
        return self.done_this_run / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate (None until something finished)."""
        rate = self.rate
        return (self.total - self.done) / rate if rate > 0 else None


@dataclass(frozen=True)
class BatchStatus:
    """A batch's state, read from its journal: requests by state, results written, credits."""

    total: int
    states: dict[str, int]
    succeeded: int
    failed: int
    credits: float
    results: str
    journal: str

    @property
    def done(self) -> int:
        """Requests whose line is in the results file."""
        return self.states.get("written", 0)

    @property
    def running(self) -> int:
        """Requests created (or being created) and not finished."""
        return self.states.get("creating", 0) + self.states.get("created", 0)

    @property
    def complete(self) -> bool:
        """Whether every request has its line in the results file."""
        return self.total > 0 and self.done == self.total


@dataclass(frozen=True)
class _Settings:
    requests: Path
    results: Path
    journal: Path
    outputs_dir: Path | None
    concurrency: int
    max_cost: float | None
    on_progress: ProgressHook | None
    resend_unknown: bool = False


class _BatchBase:
    def __init__(
        self,
        core: ClientCore,
        requests: str | os.PathLike[str],
        results: str | os.PathLike[str],
        *,
        outputs_dir: str | os.PathLike[str] | None = None,
        concurrency: int | None = None,
        max_cost: float | None = None,
        on_progress: ProgressHook | None = None,
        resend_unknown: bool = False,
    ) -> None:
        results_path = Path(results)
        if max_cost is not None and (
            isinstance(max_cost, bool)
            or not isinstance(max_cost, (int, float))
            or not math.isfinite(max_cost)
            or max_cost < 0
        ):
            raise ValidationError(
                f"max_cost must be a finite number >= 0, not {max_cost!r}", "INVALID_PARAMETER"
            )
        self._core = core
        self._settings = _Settings(
            requests=Path(requests),
            results=results_path,
            journal=results_path.with_name(results_path.name + ".journal.sqlite"),
            outputs_dir=None if outputs_dir is None else Path(outputs_dir),
            concurrency=concurrency_limit(concurrency, core.config.dispatch_concurrency),
            max_cost=None if max_cost is None else float(max_cost),
            on_progress=on_progress,
            resend_unknown=bool(resend_unknown),
        )

    @property
    def results_path(self) -> Path:
        """The results file (one JSON line per request)."""
        return self._settings.results

    @property
    def journal_path(self) -> Path:
        """The journal beside the results file."""
        return self._settings.journal

    def status(self) -> BatchStatus:
        """The batch's state, from its journal (no request is sent; works while it runs)."""
        from .batch_engine import _status

        return _status(self._settings)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self._settings.requests)!r} -> {str(self.results_path)!r})"
        )


class Batch(_BatchBase):
    """A durable batch run by the sync client: ``client.batch(requests, results, ...)``.

    Iterate it to run (or resume) it and get each `BatchResult` as its line is written to the
    results file; `run()` runs it to the end. Every line of the requests file is checked first
    (all bad lines reported in one ``INVALID_BATCH`` error, nothing sent). Running it again after
    a crash, a kill or Ctrl-C resumes it: nothing finished is redone, nothing created is created
    again, every request gets exactly one line. Results already written by an earlier run are
    not yielded again (they are in the file). The engine runs on a thread of its own;
    ``on_progress`` is called from it.
    """

    def __init__(self, core: ClientCore, driver: SyncDriver, *args: Any, **kwargs: Any) -> None:
        super().__init__(core, *args, **kwargs)
        self._driver = driver

    def __iter__(self) -> Iterator[BatchResult]:
        from .batch_engine import _Engine, _iterate_in_thread

        return _iterate_in_thread(
            lambda run: _Engine(self._core, run, self._settings).results(),
            self._driver,
            self._settings.concurrency,
        )

    def run(self) -> BatchStatus:
        """Run (or resume) the batch to the end; returns its final `status()`."""

        from .batch_engine import Runner, _Engine, _run_in_thread

        async def drain(run: Runner) -> None:  # in the engine's loop: no result crosses threads
            async for _ in _Engine(self._core, run, self._settings).results():
                pass

        _run_in_thread(drain, self._driver, self._settings.concurrency)
        return self.status()

    def estimate(self) -> CostEstimate:
        """Check every line and estimate the cost from the models' prices; nothing is spent
        and nothing is written (``--dry-run``). Raises ``INVALID_BATCH`` for bad lines."""
        from .batch_engine import _Engine, _run_in_thread

        return _run_in_thread(
            lambda run: _Engine(self._core, run, self._settings).estimate(), self._driver, 4
        )

    def cancel(self) -> list[str]:
        """Cancel the batch: every request not yet created is marked cancelled (no run creates
        it, the one running now included; its result line says ``cancelled``), then every
        prediction still running is cancelled. Returns the ids of those predictions."""
        from .batch_engine import _cancel_pending, _creating_count, _running_ids

        _cancel_pending(self._settings)
        cancelled: list[str] = []
        deadline = time.monotonic() + CANCEL_WAIT
        while True:
            for prediction_id in _running_ids(self._settings):
                if prediction_id in cancelled:
                    continue
                try:
                    self._driver.run(self._core.cancel(prediction_id))
                except SkytellsError as error:
                    if error.http_status not in (400, 404, 409):
                        raise
                    continue
                cancelled.append(prediction_id)
            # Creates in flight when the pending rows were marked: cancel what they make.
            if not _creating_count(self._settings) or time.monotonic() > deadline:
                return cancelled
            time.sleep(0.2)


class AsyncBatch(_BatchBase):
    """`Batch` for the async client: ``async for result in client.batch(...)``, ``await
    batch.run()``, ``await batch.estimate()``, ``await batch.cancel()``. The engine runs in the
    caller's event loop (the journal's small writes are made from it)."""

    def __init__(self, core: ClientCore, driver: AsyncDriver, *args: Any, **kwargs: Any) -> None:
        super().__init__(core, *args, **kwargs)
        self._driver = driver

    def __aiter__(self) -> AsyncIterator[BatchResult]:
        from .batch_engine import _Engine

        return _Engine(self._core, self._driver.run, self._settings).results()

    async def run(self) -> BatchStatus:
        """Run (or resume) the batch to the end; returns its final `status()`."""
        async for _ in self:
            pass
        return self.status()

    async def estimate(self) -> CostEstimate:
        """Check every line and estimate the cost; nothing is spent nor written."""
        from .batch_engine import _Engine

        return await _Engine(self._core, self._driver.run, self._settings).estimate()

    async def cancel(self) -> list[str]:
        """Cancel the batch (see `Batch.cancel`); returns the ids of the predictions cancelled."""
        import asyncio

        from .batch_engine import _cancel_pending, _creating_count, _running_ids

        _cancel_pending(self._settings)
        cancelled: list[str] = []
        deadline = time.monotonic() + CANCEL_WAIT
        while True:
            for prediction_id in _running_ids(self._settings):
                if prediction_id in cancelled:
                    continue
                try:
                    await self._driver.run(self._core.cancel(prediction_id))
                except SkytellsError as error:
                    if error.http_status not in (400, 404, 409):
                        raise
                    continue
                cancelled.append(prediction_id)
            if not _creating_count(self._settings) or time.monotonic() > deadline:
                return cancelled
            await asyncio.sleep(0.2)
