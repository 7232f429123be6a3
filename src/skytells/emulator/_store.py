"""The emulator's state: predictions and their lifecycle, failures on demand, retention, counters.

Everything here runs on the server's event loop; other threads go through `Emulator`, which
schedules its calls onto that loop.

Event-log API (for Server-Sent Events and webhooks): every prediction records an ordered log of
`PredictionEvent`s (ids 1, 2, 3, ... per prediction): each status change (`status`), each
progress step (`progress`), log lines (`log`), and a text model's output in pieces (`output`).
`Store.event_log(prediction_id)` returns the prediction's `EventLog`; `EventLog.since(n)` gives
the events after id n and `await EventLog.wait(n, timeout)` waits for at least one. The log is
closed after the terminal status event (or on delete): `wait` then returns what is left, or [].
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from . import _outputs
from ._catalog import CatalogModel, find_model
from ._clock import ScaledClock
from ._config import EmulatorConfig
from ._errors import ApiError, model_not_found, prediction_not_found
from ._events import EventLog
from ._faults import Faults
from ._files import OutputFiles
from ._idempotency import IdempotencyStore
from ._ratelimit import RateLimiter
from ._record import PredictionRecord, StoredFile, utc_now
from ._webhooks import Webhooks

PROGRESS_STEPS = 10
"""Progress events per prediction while processing (10, 20, ... 100 per cent)."""


@dataclass
class FailureRule:
    """Make the next `remaining` created predictions (of `model`, or of any model) fail."""

    remaining: int
    model: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        """The rule as a JSON-ready dict."""
        return {"remaining": self.remaining, "model": self.model, "message": self.message}


class Store:
    """All state of one emulator instance (see the module docstring for the event-log API)."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.initial_config = config
        self.config = config
        self.clock = ScaledClock(config.time_scale)
        self.files = OutputFiles()
        self.rate_limiter = RateLimiter()
        self.faults = Faults()
        self.idempotency = IdempotencyStore()
        self.open_connections: Callable[[], int] = lambda: 0  # set by the server
        self.open_streams = 0  # event streams being served (see _event_stream.py)
        self.webhooks = Webhooks(lambda: self.config)
        self.counters: Counter[str] = Counter()
        self._predictions: dict[str, PredictionRecord] = {}
        self._failures: list[FailureRule] = []
        self._completed: deque[PredictionRecord] = deque()
        self._purge_timer: asyncio.TimerHandle | None = None

    # ---- settings ------------------------------------------------------------------------

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change tunable settings at run time (time_scale applies to predictions in flight)."""
        self.config = self.config.replace(**changes)
        self.clock.set_time_scale(self.config.time_scale)
        self._schedule_purge()
        return self.config

    def reset(self) -> None:
        """Forget every prediction, file, failure rule and counter; restore the initial config."""
        self._drop_all()
        self._failures.clear()
        self.faults.clear()
        self.idempotency.clear()
        self.webhooks.reset()
        self.counters.clear()
        self.rate_limiter.reset()
        self.config = self.initial_config
        self.clock.set_time_scale(self.config.time_scale)

    def close(self) -> None:
        """Stop every lifecycle and delete every file (server shutdown)."""
        self._drop_all()
        self.faults.release()
        self.webhooks.stop()

    def _drop_all(self) -> None:
        for record in self._predictions.values():
            self._retire(record)
        self._predictions.clear()
        self._completed.clear()
        if self._purge_timer is not None:
            self._purge_timer.cancel()
            self._purge_timer = None
        self.files.clear()

    def _retire(self, record: PredictionRecord) -> None:
        """Detach a record being dropped: stop its lifecycle, release its waiters."""
        if record.task is not None:
            record.task.cancel()
            record.task = None
        record.data_removed = True
        record.log.close()
        record.mark_done()

    # ---- failures on demand ------------------------------------------------------------------

    def fail_next(
        self, count: int = 1, model: str | None = None, message: str | None = None
    ) -> FailureRule:
        """Make the next `count` predictions (optionally only of `model`) fail with `message`."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ApiError(
                400, "INVALID_PARAMETER", "count must be a positive integer", {"parameter": "count"}
            )
        if model is not None and find_model(model) is None:
            raise model_not_found(model)
        rule = FailureRule(count, model, message or self.config.failure_message)
        self._failures.append(rule)
        return rule

    def failure_rules(self) -> list[FailureRule]:
        """The pending failure rules, in the order they are matched."""
        return list(self._failures)

    def fail(self, prediction_id: str, message: str | None = None) -> PredictionRecord:
        """Fail a prediction that is still running, now."""
        record = self.get(prediction_id)
        if record.terminal:
            raise _already_terminal(record, "failed")
        self._finish(record, "failed", message or self.config.failure_message)
        return record

    def _take_failure(self, slug: str) -> str | None:
        for rule in self._failures:
            if rule.model is None or rule.model == slug:
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._failures.remove(rule)
                return rule.message
        return None

    # ---- predictions -------------------------------------------------------------------------

    def create(
        self,
        model: CatalogModel,
        input: dict[str, Any],
        root: str,
        *,
        stream: bool = False,
        webhook: dict[str, Any] | None = None,
        api_key: str | None = None,
    ) -> PredictionRecord:
        """Create a prediction (status `pending`) and start its lifecycle; `api_key` (the
        creator's) signs its webhooks when no webhook secret is configured."""
        record = PredictionRecord(
            str(uuid.uuid4()),
            model,
            input,
            root,
            stream,
            webhook or {"url": None, "events": []},
        )
        record.api_key = api_key
        record.planned_failure = self._take_failure(model.slug)
        self._predictions[record.id] = record
        self.counters["predictions_created"] += 1
        record.log.append("status", {"status": "pending"}, record.created_at)
        record.task = asyncio.get_running_loop().create_task(self._drive(record))
        return record

    async def attach_large_output(self, prediction_id: str, size_bytes: int) -> PredictionRecord:
        """Replace a succeeded prediction's outputs with one large file (for download tests)."""
        record = self.get(prediction_id)
        if record.status != "succeeded" or not record.data_available:
            raise ApiError(
                400,
                "INVALID_REQUEST",
                f"Prediction {prediction_id} has no outputs to replace (status {record.status})",
            )
        stored = await self.files.adopt(record, size_bytes)
        record.files = [stored]
        record.output = [record.file_url(stored.name)]
        return record

    def get(self, prediction_id: str) -> PredictionRecord:
        """The prediction with this id, or ApiError 502 PREDICTION_FAILED (as the service does)."""
        self._purge_expired()
        record = self._predictions.get(prediction_id)
        if record is None:
            raise prediction_not_found(prediction_id)
        return record

    def event_log(self, prediction_id: str) -> EventLog:
        """The ordered event log of a prediction (ApiError 502 if the id is unknown)."""
        return self.get(prediction_id).log

    def records(self) -> list[PredictionRecord]:
        """Every prediction, oldest first."""
        self._purge_expired()
        return list(self._predictions.values())

    def query(
        self,
        model: str | None = None,
        status: str | None = None,
        day_from: date | None = None,
        day_to: date | None = None,
    ) -> list[PredictionRecord]:
        """Predictions matching every given filter (days inclusive, by created_at), newest first."""
        self._purge_expired()
        return [
            record
            for record in reversed(self._predictions.values())
            if (model is None or record.model.slug == model)
            and (status is None or record.status == status)
            and (day_from is None or record.created_date >= day_from)
            and (day_to is None or record.created_date <= day_to)
        ]

    def cancel(self, prediction_id: str) -> PredictionRecord:
        """Cancel a prediction that is not terminal (ApiError 400 INVALID_REQUEST when it is)."""
        record = self.get(prediction_id)
        if record.terminal:
            raise _already_terminal(record, "cancelled")
        self._finish(record, "cancelled")
        return record

    def delete(self, prediction_id: str) -> PredictionRecord:
        """Remove a prediction and its files (cancelling it first if it is running)."""
        record = self.get(prediction_id)
        if not record.terminal:
            self._finish(record, "cancelled")
        del self._predictions[prediction_id]
        self._retire(record)
        self.files.remove(prediction_id)
        return record

    async def wait_terminal(self, record: PredictionRecord, timeout: float) -> None:
        """Wait until `record` is terminal, at most `timeout` wall seconds."""
        await record.wait_done(timeout)

    # ---- files ---------------------------------------------------------------------------

    async def output_file(self, prediction_id: str, filename: str) -> tuple[Path, str]:
        """Path and content type of an output file, rendered on first use.

        FileNotFoundError when the prediction, the file or its data does not exist (any more).
        """
        self._purge_expired()
        record = self._predictions.get(prediction_id)
        if record is None or not record.data_available:
            raise FileNotFoundError(filename)
        for index, stored in enumerate(record.files):
            if stored.name == filename:
                return await self.files.ensure(record, index), stored.content_type
        raise FileNotFoundError(filename)

    # ---- lifecycle -----------------------------------------------------------------------

    def _event(self, record: PredictionRecord, type: str, **data: Any) -> str:
        _, now = utc_now()
        record.updated_at = now
        record.log.append(type, data, now)
        return now

    def _advance(self, record: PredictionRecord, status: str, log_line: str) -> None:
        record.status = status
        now = self._event(record, "status", status=status)
        if status == "starting":
            record.started_at = now
            record.started_mono = time.monotonic()
        self._event(record, "log", message=log_line)
        self.webhooks.notify(record)

    async def _drive(self, record: PredictionRecord) -> None:
        """pending -> starting -> processing (progress steps) -> succeeded or failed."""
        model = record.model
        files: asyncio.Future[list[StoredFile]] | None = None
        try:
            await self.clock.pause(model.timing.pending)
            self._advance(record, "starting", "Loading model weights")
            await self.clock.pause(model.timing.starting)
            self._advance(record, "processing", f"Generating with {model.slug}")
            self._event(record, "progress", progress=0)
            if model.type != "text" and record.planned_failure is None:
                # The outputs are made while the prediction processes: a succeeded prediction
                # states every file's size, so success waits for them (see OutputFiles.plan).
                files = asyncio.ensure_future(self.files.plan(record))
            pieces = (
                _outputs.generate_text(model.slug, record.input) if model.type == "text" else []
            )
            step = model.processing_seconds(record.input) / PROGRESS_STEPS
            for number in range(1, PROGRESS_STEPS + 1):
                await self.clock.pause(step)
                if record.planned_failure is not None and number > PROGRESS_STEPS // 2:
                    self._event(record, "log", message=f"Error: {record.planned_failure}")
                    self._finish(record, "failed", record.planned_failure)
                    return
                total = len(pieces)
                chunk = pieces[
                    total * (number - 1) // PROGRESS_STEPS : total * number // PROGRESS_STEPS
                ]
                if chunk:
                    self._event(record, "output", text="".join(chunk))
                record.progress = number * 100 // PROGRESS_STEPS
                self._event(record, "progress", progress=record.progress)
            self._event(record, "log", message="Saving outputs")
            self._succeed(record, pieces, await files if files is not None else [])
        except Exception as exc:  # a bug must fail the prediction, not leave it running forever
            self._finish(record, "failed", f"Internal emulator error: {exc}")
        finally:
            if files is not None and not files.done():
                files.cancel()
            if record.task is asyncio.current_task():
                record.task = None

    def _succeed(
        self, record: PredictionRecord, pieces: list[str], files: list[StoredFile]
    ) -> None:
        model = record.model
        if model.type == "text":
            record.output = "".join(pieces)
        else:
            # File outputs are arrays of URLs, as in the real service's answers (audio and
            # video included): typed clients require it.
            record.files = files
            record.output = [record.file_url(f.name) for f in files]
        record.credits = model.credits(record.input, len(pieces))
        self._finish(record, "succeeded")

    def _finish(self, record: PredictionRecord, status: str, error: str | None = None) -> None:
        """Move a running prediction to a terminal status and close its event log."""
        task, record.task = record.task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        record.status = status
        record.error = error
        record.completed_mono = time.monotonic()
        if status == "succeeded":
            record.progress = 100
        else:
            record.output = None
        data: dict[str, Any] = {"status": status}
        if error is not None:
            data["error"] = error
        record.completed_at = self._event(record, "status", **data)
        record.log.close()
        record.mark_done()
        self.webhooks.notify(record)
        if status == "succeeded":
            self._completed.append(record)
            if len(self._completed) == 1:
                self._schedule_purge()

    # ---- retention -----------------------------------------------------------------------

    def _purge_expired(self) -> None:
        """Purge the outputs of predictions whose retention has passed (oldest first)."""
        if not self._completed:
            return
        deadline = time.monotonic() - self.config.retention_wall_seconds
        purged = False
        while self._completed and (self._completed[0].completed_mono or 0.0) <= deadline:
            record = self._completed.popleft()
            purged = True
            if self._predictions.get(record.id) is record:
                record.data_removed = True
                record.updated_at = utc_now()[1]
                self.files.remove(record.id)
        if purged:
            self._schedule_purge()

    def _schedule_purge(self) -> None:
        """Arm one timer for the oldest completed prediction's purge."""
        if self._purge_timer is not None:
            self._purge_timer.cancel()
            self._purge_timer = None
        if not self._completed:
            return
        expires = (self._completed[0].completed_mono or 0.0) + self.config.retention_wall_seconds
        self._purge_timer = asyncio.get_running_loop().call_later(
            max(0.0, expires - time.monotonic()), self._purge_expired
        )

    # ---- introspection -----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Settings, counters, failure rules and every prediction with internal details.

        `requests` counts every /v1 request (errors included; not /files or the control API),
        `requests_by_endpoint` splits it by operation (create, get, list, cancel, delete, stream,
        models, model), `errors` counts the 4xx/5xx answers among them. `open_connections` is
        the server's open HTTP connections (a control API request counts its own), `faults` the
        fault rules with how often each fired, `open_streams` the event streams being served,
        `webhooks_pending` the webhook deliveries in progress.
        """
        records = self.records()
        return {
            "config": self.config.to_json(),
            "requests": self.counters["requests"],
            "predictions_created": self.counters["predictions_created"],
            "errors": self.counters["errors"],
            "rate_limited": self.counters["rate_limited"],
            "open_connections": self.open_connections(),
            "open_streams": self.open_streams,
            "webhooks_pending": self.webhooks.pending,
            "faults": self.faults.to_json(),
            "requests_by_endpoint": {
                key.removeprefix("endpoint:"): value
                for key, value in sorted(self.counters.items())
                if key.startswith("endpoint:")
            },
            "failure_rules": [rule.to_json() for rule in self.failure_rules()],
            "active": sum(1 for record in records if not record.terminal),
            "predictions": [
                {
                    "id": record.id,
                    "model": record.model.slug,
                    "status": record.status,
                    "progress": record.progress,
                    "events": len(record.log),
                    "planned_failure": record.planned_failure,
                    "running": record.task is not None,
                    "data_removed": record.data_removed,
                    "files": [
                        {"name": f.name, "rendered": f.rendered, "size": f.size}
                        for f in record.files
                    ],
                }
                for record in records
            ],
        }


def _already_terminal(record: PredictionRecord, action: str) -> ApiError:
    """400 INVALID_REQUEST for an action on a terminal prediction: the spec's table has no 409,
    and INVALID_REQUEST ("bad body or parameter") is 400 there."""
    return ApiError(
        400,
        "INVALID_REQUEST",
        f"Prediction {record.id} is already {record.status} and cannot be {action}",
        {"status": record.status},
    )
