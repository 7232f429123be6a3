"""The engine of durable batches (`skytells._clients.batch`), imported by the first run.

One engine, on asyncio, serves both clients: the async client runs it in the caller's loop over
its own driver; the sync client runs it in a private event loop on a thread of its own (over
aiohttp, or over the client's transport on threads when it has a caller's ``http_client``) and
hands the results to the calling thread as they complete. The journal and the results file are
local files written from the loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import os
import queue
import re
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from .._core.batchfile import (
    MAX_LINE_BYTES,
    MAX_PROBLEMS,
    BatchLine,
    CostEstimate,
    Problem,
    error_dict,
    fingerprint,
    invalid_batch,
    parse_line,
    result_record,
    schema_problems,
)
from .._core.ledger import canonical_json
from .._core.pacing import Aimd
from .._core.protocol import Op
from .._core.reconcile import (
    SKEW_ALLOWANCE,
    find_match,
    last_page,
    maybe_done,
    reaches_before,
    sent_json,
    settle_pause,
    window_start,
)
from .._enums import is_terminal, normalize_status
from .._exceptions import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    SkytellsError,
    ValidationError,
)
from .._io.journal import Journal, JournalError, Row
from .batch import BatchProgress, BatchResult, BatchStatus, _Settings

if TYPE_CHECKING:
    from .._io.sync_driver import SyncDriver
    from .core import ClientCore

T = TypeVar("T")
Runner = Callable[[Op[Any]], Awaitable[Any]]

PAGE = 50
FEW = 8
"""Below this many predictions followed, each is looked up by id (cheaper than the listing)."""
MAX_RECONCILE_PAGES = 1000
"""The longest walk of the listing that looks for interrupted creates (50,000 predictions)."""
MAX_WAITING = 2000
"""Created predictions followed at once; past it, creating pauses (memory stays flat)."""
FIRST_POLL = 0.05
COMMIT_EVERY = 0.1
"""Seconds between the journal's periodic commits (a create's mark is committed before it is
sent, whatever this says)."""
CHECKPOINT_EVERY = 2.0
"""Seconds between the journal's checkpoints (its ``-wal`` file copied into the journal file)."""
_FATAL = (AuthenticationError, PermissionDeniedError, PaymentRequiredError)


class _Claims:
    """The ids a batch's journal holds, looked up in the journal (no set in memory)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str) and self.journal.is_claimed(item)


# ── the engine ───────────────────────────────────────────────────────────

MIN_THROTTLED_TRIES = 10
"""A request refused with a 429 this many times in a row (and more than ``max_retries``) stops
the batch (resumable). Under an account's rate limit, 429s are the pace (AIMD halves the
concurrency and everyone waits the Retry-After out), so one request refused again and again
means the account is blocked, not busy; the pauses between its tries grow with the retry
backoff (from ``retry_delay`` to ``max_delay``), so a storm is never hammered."""


class _Engine:
    """One run of a batch, on the running event loop."""

    def __init__(self, core: ClientCore, run: Runner, settings: _Settings) -> None:
        self.core = core
        retry = core.config.retry
        # 429s come back at once: the pace (AIMD) waits them out for every request together.
        self.pacing_core = core.with_config(
            core.config.with_overrides(
                retry=type(retry)(
                    retries=retry.retries,
                    base_delay=retry.base_delay,
                    max_delay=retry.max_delay,
                    max_retry_after=retry.max_retry_after,
                    jitter=retry.jitter,
                    retry_on=retry.retry_on - {429},
                )
            )
        )
        self.run_op = run
        self.settings = settings
        self.aimd = Aimd(settings.concurrency, policy=retry)
        self._throttled_rows: dict[int, int] = {}
        """429s each request got in a row (bounded by the retry policy's ``retries``)."""
        self.total = 0
        self.done = 0
        self.failed = 0
        self.credits = 0.0
        self.done_this_run = 0
        self.started = time.monotonic()
        self._waiting: dict[str, tuple[int, BatchLine]] = {}
        self._missed: dict[str, int] = {}
        self._reconcile_failures = 0
        self._retry: deque[Row] = deque()
        self._unknown: deque[Row] = deque()
        self._creating = 0
        self._finishing = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fatal: SkytellsError | None = None
        self._commit_future: asyncio.Future[None] | None = None
        self._results_file: BinaryIO | None = None
        self._results_dirty = False
        self._journal: Journal | None = None

    @property
    def journal(self) -> Journal:
        assert self._journal is not None
        return self._journal

    # ── checking the file ────────────────────────────────────────────────

    async def check(self, journal: Journal) -> tuple[CostEstimate, dict[str, str]]:
        """Read and check every line into ``journal`` (one transaction); the cost estimate and
        the file's binding. Raises `INVALID_BATCH` listing every bad line."""
        requests = self.settings.requests
        models: dict[str, dict[str, Any] | None] = {}
        problems: list[Problem] = []
        more = 0
        estimate = CostEstimate()
        digest = hashlib.sha256()
        size = 0
        count = 0
        journal.begin_fill()

        def problem(found: Problem) -> None:
            nonlocal more
            if len(problems) < MAX_PROBLEMS:
                problems.append(found)
            else:
                more += 1

        with _open_requests(requests) as file:
            number = 0
            while True:
                raw = file.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    break
                number += 1
                digest.update(raw)
                size += len(raw)
                while len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                    rest = file.readline(MAX_LINE_BYTES + 1)  # skip the rest of a huge line
                    if not rest:
                        break
                    digest.update(rest)
                    size += len(rest)
                    raw = raw[:MAX_LINE_BYTES] + rest[-1:]
                parsed = parse_line(number, raw.rstrip(b"\r\n"))
                if parsed is None:
                    continue
                if isinstance(parsed, Problem):
                    problem(parsed)
                    continue
                count += 1
                first = journal.add(parsed.line, parsed.custom_id, parsed.to_json())
                if first is not None:
                    problem(Problem(number, f"custom_id {parsed.custom_id!r} repeats line {first}"))
                if parsed.model not in models:
                    models[parsed.model] = await self._model(parsed.model)
                model = models[parsed.model]
                if model is None:
                    problem(Problem(number, f"model {parsed.model!r} not found"))
                    continue
                found = schema_problems(model.get("input_schema"), parsed.input)
                if found:
                    problem(Problem(number, "; ".join(found[:5])))
                    continue
                estimate.add({**model, "namespace": parsed.model}, parsed.input)
        if count == 0 and not problems:
            problems.append(Problem(0, "the file holds no request"))
        if problems:
            raise invalid_batch(problems, more, requests.name)
        self.total = count
        binding = {"requests_sha256": digest.hexdigest(), "requests_size": str(size)}
        return estimate, binding

    async def _model(self, slug: str) -> dict[str, Any] | None:
        try:
            model = await self.run_op(self.core.get_model(slug, ["input_schema"], None))
        except NotFoundError:
            return None
        return dict(model)

    async def estimate(self) -> CostEstimate:
        """Check the file and estimate its cost: nothing is kept, nothing is spent."""
        journal = Journal(None)
        try:
            estimate, _ = await self.check(journal)
        finally:
            journal.abandon()
        return estimate

    async def open(self) -> None:
        """Open (or start) the journal and the results file, repairing a torn end."""
        settings = self.settings
        existed = settings.journal.exists() and settings.journal.stat().st_size > 0
        journal = Journal(settings.journal)
        try:
            if journal.ready:
                _check_binding(journal, settings.requests)
            else:
                has_results = settings.results.exists() and settings.results.stat().st_size > 0
                if has_results and existed:
                    raise JournalError(
                        f"The batch journal {settings.journal} holds no request, yet "
                        f"{settings.results} has results: the journal was damaged or copied "
                        "without its -wal file. Restore it with its -wal and -shm files; "
                        "starting again would create every request again",
                        "BATCH_JOURNAL_DAMAGED",
                    )
                if has_results:
                    raise JournalError(
                        f"{settings.results} exists and no journal of it was found: "
                        "remove it or choose another results path",
                        "RESULTS_EXIST",
                    )
                estimate, binding = await self.check(journal)
                if settings.max_cost is not None:
                    _check_cost(estimate, settings.max_cost)
                journal.finish_fill(binding)
        except BaseException:
            if journal.ready:
                journal.close()
            else:
                journal.abandon()
            raise
        self._journal = journal
        if existed and settings.outputs_dir is not None:
            _remove_stale_parts(settings.outputs_dir, journal)
        try:
            self._results_file = _open_results(settings.results, journal)
        except BaseException:
            journal.close()
            raise
        counts = journal.counts()
        self.total = sum(counts.values())
        self.done = counts["written"]
        self.credits = journal.credits(("written",))  # the others are counted as written
        self.failed = sum(
            1
            for row in journal.all_rows(("written",))
            if row.status != "succeeded" or (row.record and '"error":{' in row.record)
        )

    # ── running ──────────────────────────────────────────────────────────

    async def results(self) -> AsyncIterator[BatchResult]:
        """Run (or resume) the batch, yielding each result as its line is written."""
        await self.open()
        out: asyncio.Queue[BatchResult | None] = asyncio.Queue()
        self._out = out
        main = asyncio.ensure_future(self._pipeline())
        main.add_done_callback(lambda _: out.put_nowait(None))
        try:
            while True:
                item = await out.get()
                if item is None:
                    break
                yield item
            await main
        finally:
            main.cancel()
            for task in list(self._tasks):
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(main, *self._tasks, return_exceptions=True)
            self._close()

    def _close(self) -> None:
        try:
            self._commit(sync=True)
            self.journal.checkpoint(wait=True)
        finally:
            if self._results_file is not None:
                self._results_file.close()
            self.journal.close()

    async def _pipeline(self) -> None:
        committer = asyncio.ensure_future(self._commit_loop())
        waiter = asyncio.ensure_future(self._wait_loop())
        try:
            journal = self.journal
            self._report()
            # What earlier runs created recently is claimed: a create of this run whose answer
            # is lost looks back that far (its attempt minus the clock-skew allowance).
            recent = time.time() - 2 * SKEW_ALLOWANCE.total_seconds() - 60
            for prediction_id in list(journal.ids_since(recent)):
                self.core.state.creates.claim(prediction_id, time.monotonic())
            for row in journal.all_rows(("created",)):
                request = BatchLine.from_json(row.line, row.request)
                assert row.prediction_id is not None
                self._waiting[row.prediction_id] = (row.line, request)
            for row in journal.all_rows(("terminal", "saved")):
                await self._finish_slot()
                self._spawn(self._finish_row(row))
            # Requests caught mid-create by an earlier run: looked for (after the scans above,
            # which would take what they find for an earlier run's) before anything new is
            # created, so that no create of this run can be taken for theirs.
            self._unknown.extend(journal.all_rows(("creating",)))
            await self._reconcile_unknown()
            await self._feed()
            while self._creating or self._waiting or self._finishing or self._unknown:
                if self._fatal is not None and not self._creating and not self._finishing:
                    break  # what is created stays in the journal: the next run follows it
                if self._unknown and not self._creating:
                    await self._reconcile_unknown()
                    continue
                await self._changed_wait()
                if waiter.done():
                    await waiter  # its error, if any
            if self._fatal is not None:
                raise self._fatal
        finally:
            waiter.cancel()
            committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
            with contextlib.suppress(asyncio.CancelledError):
                await committer

    async def _feed(self) -> None:
        """Create every pending request, at the pace the account allows."""
        buffer: deque[Row] = deque()
        after = 0
        while self._fatal is None:
            if self._retry:
                row = self._retry.popleft()
            else:
                if not buffer:
                    buffer.extend(self.journal.rows(("pending", "cancelled"), after, 200))
                    if buffer:
                        after = buffer[-1].line
                if buffer:
                    row = buffer.popleft()
                    if row.state == "cancelled":  # by `batch cancel`: its line, not a create
                        self._finish_cancelled(row)
                        continue
                elif self._creating:
                    await self._changed_wait()  # one may be sent back (a 429)
                    continue
                else:
                    return
            await self._slot()
            if self._fatal is not None:
                return
            self._creating += 1
            self._spawn(self._create(row))

    async def _slot(self) -> None:
        loop = asyncio.get_running_loop()
        budget = self.core.state.rate_limits.budget
        while True:
            now = loop.time()
            delay = self.aimd.delay(now, budget)
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            if self._creating < self.aimd.limit and len(self._waiting) < MAX_WAITING:
                break
            await self._changed_wait()
        self.aimd.started(loop.time(), self.core.state.rate_limits.budget)

    async def _create(self, row: Row) -> None:
        journal = self.journal
        request = BatchLine.from_json(row.line, row.request)
        try:
            if not journal.mark_creating(
                row.line, time.time(), fingerprint(request.model, request.input)
            ):
                current = journal.row(row.line)  # `batch cancel` reached it first
                if current is not None and current.state == "cancelled":
                    self._finish_cancelled(current)
                return
            await self._durable()  # the mark is on disk before the request leaves
            try:
                prediction = await self.run_op(self.pacing_core.create(request.payload(), None))
            except SkytellsError as error:
                self._create_failed(row, request, error)
                return
            self.aimd.succeeded()
            self._throttled_rows.pop(row.line, None)
            self._adopt(row.line, request, dict(prediction))
        finally:
            self._creating -= 1
            self._changed()

    def _create_failed(self, row: Row, request: BatchLine, error: SkytellsError) -> None:
        if isinstance(error, RateLimitError):
            self.journal.mark_pending(row.line)
            tries = self._throttled_rows.get(row.line, 0) + 1
            self._throttled_rows[row.line] = tries
            bound = max(self.core.config.retry.retries, MIN_THROTTLED_TRIES)
            if self._throttled(error, tries - 1) and tries > bound:
                self._stop_throttled(
                    error,
                    f"the request of line {row.line} was refused with a 429 {tries} times in a "
                    f"row (at most {bound}: max_retries, and never fewer than "
                    f"{MIN_THROTTLED_TRIES})",
                )
            if self._fatal is None:
                self._retry.append(row)
        elif isinstance(error, _FATAL):
            self.journal.mark_pending(row.line)
            self._fatal = self._fatal or error
        elif maybe_done(error) or isinstance(error, CreateOutcomeUnknownError):
            self._unknown.append(row)  # looked for once no create is in flight
        else:
            record = result_record(request, None, error_dict(error), [])
            self.journal.mark_terminal(row.line, "not_created", record)
            self._finishing += 1
            self._spawn(self._finish(row.line, request, record, None))

    def _finish_cancelled(self, row: Row) -> None:
        """Write the line of a request ``batch cancel`` stopped before it was created."""
        request = BatchLine.from_json(row.line, row.request)
        self._finishing += 1
        self._spawn(self._finish(row.line, request, json.loads(row.record or "{}"), None))

    def _throttled(self, error: RateLimitError, attempt: int | None = None) -> bool:
        """A 429: every request pauses (`Aimd.throttled`). False when its ``Retry-After`` is
        above the retry policy's ``max_retry_after``: the batch stops (resumable), as any other
        call of the SDK gives up on such a wait."""
        now = asyncio.get_running_loop().time()
        if self.aimd.throttled(now, error.retry_after, attempt) is None:
            self._stop_throttled(
                error,
                f"the server asks to wait {error.retry_after:g} s, more than max_retry_after "
                f"({self.core.config.retry.max_retry_after:g} s)",
            )
            return False
        self._report()
        return True

    def _stop_throttled(self, error: RateLimitError, why: str) -> None:
        if self._fatal is not None:
            return
        self._fatal = RateLimitError(
            f"The batch stopped: {why}. Nothing is lost: run it again later to resume it.",
            "RATE_LIMIT_EXCEEDED",
            {"retry_after": error.retry_after, "reason": why},
            http_status=429,
            headers=error.headers,
            retry_after=error.retry_after,
        )
        self._changed()

    def _adopt(self, line: int, request: BatchLine, prediction: dict[str, Any]) -> None:
        prediction_id = str(prediction["id"])
        self.journal.mark_created(line, prediction_id)
        # The client's own reconcile (of a create of this run whose answer is lost) must not
        # take a prediction the journal holds for another request.
        self.core.state.creates.claim(prediction_id, time.monotonic())
        if is_terminal(prediction.get("status")):
            self._terminal(line, request, prediction)
        else:
            self._waiting[prediction_id] = (line, request)

    async def _reconcile_unknown(self) -> None:
        """Look for the predictions of requests whose create may have happened; create again
        only those not found.

        Done for all such requests at once (a run killed with many creates in flight leaves as
        many): per model, one walk of the newest pages of ``GET /predictions?model=`` back to the
        earliest attempt (minus the clock-skew allowance), keeping what could be theirs; then
        each request is matched, oldest first, by the reconcile's own rule (`find_match`: same
        model and input, created since its attempt began, held by no other request of the
        journal). Runs only while no create of this run is in flight."""
        rows: list[Row] = []
        while self._unknown:
            row = self._unknown.popleft()
            current = self.journal.rows(("creating",), row.line - 1, 1)
            if current and current[0].line == row.line:
                rows.append(current[0])
        by_model: dict[str, list[tuple[Row, BatchLine]]] = {}
        for row in rows:
            request = BatchLine.from_json(row.line, row.request)
            by_model.setdefault(request.model, []).append((row, request))
        claimed = _Claims(self.journal)
        # A create begun moments ago may not show in the listing yet: give it the settle pause.
        await asyncio.sleep(settle_pause([row.started for row in rows], time.time(), self.core.ctx))
        for model, group in by_model.items():
            try:
                candidates = await self._candidates(model, group, claimed)
            except SkytellsError as error:
                if isinstance(error, RateLimitError) and not self._throttled(error):
                    return
                if isinstance(error, CreateOutcomeUnknownError):  # waiting does not help
                    self._fatal = self._fatal or error
                    return
                self._reconcile_failures += 1
                if self._reconcile_failures >= 3:  # never create blind: stop, try later
                    self._fatal = self._fatal or error
                    return
                self._unknown.extend(row for row, _ in group)
                await asyncio.sleep(min(2.0**self._reconcile_failures, 10.0))
                continue
            for row, request in group:
                started = row.started if row.started is not None else time.time()
                since = window_start(started, self.core.state.server_clock)
                found = find_match([candidates], model, request.input, since, claimed)
                if found is not None:
                    self._adopt(row.line, request, dict(candidates_by_id(candidates)[found]))
                else:
                    await self._slot()
                    self._creating += 1
                    self._spawn(self._create(row))
                self._changed()

    async def _candidates(
        self, model: str, group: list[tuple[Row, BatchLine]], claimed: _Claims
    ) -> list[dict[str, Any]]:
        """The predictions of ``model`` since the earliest attempt of ``group`` whose input is
        one of the group's, held by no request of the journal (newest first)."""
        wanted = {canonical_json(sent_json(request.input)) for _, request in group}
        clock = self.core.state.server_clock
        since = min(
            window_start(row.started if row.started is not None else time.time(), clock)
            for row, _ in group
        )
        found: list[dict[str, Any]] = []
        for number in range(1, MAX_RECONCILE_PAGES + 1):
            page = await self.run_op(
                self.pacing_core.list_predictions(
                    number, None, None, model, per_page=PAGE, status=None
                )
            )
            items = [item for item in page.data if isinstance(item, Mapping)]
            for item in items:
                item_id = item.get("id")
                if not isinstance(item_id, str) or item_id in claimed:
                    continue
                try:
                    if canonical_json(item.get("input")) in wanted:
                        found.append(dict(item))
                except (TypeError, ValueError):
                    continue
            pagination = page.pagination
            if reaches_before(items, since) or last_page(
                items, pagination.current_page, pagination.last_page, PAGE
            ):
                return found
        if self.settings.resend_unknown:
            return found  # the caller accepts a possible duplicate: not found is not created
        raise CreateOutcomeUnknownError(
            f"More than {MAX_RECONCILE_PAGES * PAGE} predictions of {model} were made since the "
            f"batch's {len(group)} interrupted create(s): it cannot be told whether they made "
            "their predictions, and waiting does not change that. To create them again, "
            "accepting a possible duplicate, run the batch with resend_unknown=True "
            "(skytells batch run ... --resend-unknown).",
            "CREATE_OUTCOME_UNKNOWN",
            {"model": model, "requests": [row.line for row, _ in group][:100]},
        )

    # ── waiting ──────────────────────────────────────────────────────────

    async def _wait_loop(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.core.config.poll_interval_ms / 1000
        pause = FIRST_POLL
        while True:
            if not self._waiting:
                pause = FIRST_POLL
                await self._changed_wait()
                continue
            delay = self.aimd.delay(loop.time(), self.core.state.rate_limits.budget)
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                seen = await self._round(list(self._waiting))
            except RateLimitError as error:
                self._throttled(error)
                continue
            progressed = False
            for prediction_id, state in seen.items():
                entry = self._waiting.get(prediction_id)
                if entry is None:
                    continue
                line, request = entry
                if isinstance(state, RateLimitError):
                    self._throttled(state)
                elif isinstance(state, NotFoundError):
                    del self._waiting[prediction_id]
                    self._terminal(line, request, {"id": prediction_id, "status": "unknown"}, state)
                    progressed = True
                elif isinstance(state, SkytellsError):
                    continue  # a transient failure: looked up again next round
                elif is_terminal(state.get("status")):
                    del self._waiting[prediction_id]
                    self._terminal(line, request, dict(state))
                    progressed = True
            if progressed:
                self._changed()
            pause = FIRST_POLL if progressed else min(interval, pause * 2)
            pause = max(pause, self.core.state.rate_limits.polling_floor())
            await asyncio.sleep(pause)

    async def _round(self, ids: list[str]) -> dict[str, Any]:
        """One check of the predictions followed: the newest pages of the listing (one request
        per 50), then, by id and concurrently, those the listing did not show three rounds in a
        row (or all of them, when only a few are left)."""
        seen: dict[str, Any] = {}
        wanted = set(ids)
        if len(ids) >= FEW:
            for number in range(1, math.ceil(len(ids) / PAGE) + 3):
                page = await self.run_op(
                    self.pacing_core.list_predictions(
                        number, None, None, None, per_page=PAGE, status=None
                    )
                )
                for item in page.data:
                    if item.get("id") in wanted:
                        seen[str(item["id"])] = item
                self.aimd.succeeded()
                pagination = page.pagination
                if len(seen) == len(wanted) or pagination.current_page >= pagination.last_page:
                    break
        missed = self._missed
        lookups = []
        for prediction_id in ids:
            if prediction_id in seen:
                missed.pop(prediction_id, None)
                continue
            missed[prediction_id] = missed.get(prediction_id, 0) + 1
            if len(ids) < FEW or missed[prediction_id] >= 3:
                lookups.append(prediction_id)
        lookups = lookups[: self.aimd.limit]
        found = await asyncio.gather(
            *(self.run_op(self.pacing_core.get(i)) for i in lookups), return_exceptions=True
        )
        for prediction_id, state in zip(lookups, found, strict=True):
            if isinstance(state, BaseException) and not isinstance(state, SkytellsError):
                raise state
            seen[prediction_id] = state
            if not isinstance(state, SkytellsError):
                missed.pop(prediction_id, None)
        return seen

    def _terminal(
        self,
        line: int,
        request: BatchLine,
        prediction: dict[str, Any],
        error: SkytellsError | None = None,
    ) -> None:
        status = normalize_status(prediction.get("status")) or "unknown"
        prediction = {**prediction, "status": status}
        problem = error_dict(error)
        if problem is None and status != "succeeded":
            text = prediction.get("error")
            problem = {
                "error_id": "PREDICTION_CANCELLED"
                if status == "cancelled"
                else "PREDICTION_FAILED",
                "message": str(text)[:2000] if text else f"The prediction {status}",
                "http_status": 0,
            }
        record = result_record(request, prediction, problem, [])
        self.journal.mark_terminal(line, status, record)
        self._finishing += 1
        self._spawn(self._finish(line, request, record, prediction))

    # ── finishing ────────────────────────────────────────────────────────

    async def _finish_slot(self) -> None:
        while self._finishing >= self.settings.concurrency * 2:
            await self._changed_wait()
        self._finishing += 1

    async def _finish_row(self, row: Row) -> None:
        request = BatchLine.from_json(row.line, row.request)
        record = json.loads(row.record or "{}")
        if row.state == "saved":
            self._finishing -= 1
            self._write(row.line, record)
            return
        prediction = {"id": record.get("id"), "status": record.get("status")}
        prediction["output"] = record.get("output")
        await self._finish(row.line, request, record, prediction if record.get("id") else None)

    async def _finish(
        self,
        line: int,
        request: BatchLine,
        record: dict[str, Any],
        prediction: dict[str, Any] | None,
    ) -> None:
        try:
            outputs = self.settings.outputs_dir
            if outputs is not None and prediction is not None and record["status"] == "succeeded":
                if prediction.get("output") is not None:
                    try:
                        paths = await self.run_op(
                            self.core.save_outputs(
                                prediction,
                                outputs,
                                on_progress=None,
                                timeout=None,
                                max_bytes=None,
                                overwrite=True,  # the files of this request's own prediction
                            )
                        )
                        record["files"] = [str(path) for path in paths]
                    except SkytellsError as error:
                        record["error"] = {
                            "error_id": error.error_id,
                            "message": f"saving the outputs failed: {error.message}",
                            "http_status": error.http_status,
                        }
                self.journal.mark_saved(line, record)
            self._write(line, record)
        finally:
            self._finishing -= 1
            self._changed()

    def _write(self, line: int, record: dict[str, Any]) -> None:
        assert self._results_file is not None
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"
        self._results_file.write(text.encode())
        self._results_dirty = True
        self.journal.mark_written(line)
        self.done += 1
        self.done_this_run += 1
        result = BatchResult.from_record(record)
        if not result.ok:
            self.failed += 1
        self.credits = round(self.credits + (result.credits_used or 0.0), 6)
        self._out.put_nowait(result)
        self._report()

    # ── durability ───────────────────────────────────────────────────────

    async def _durable(self) -> None:
        """Wait for the next commit: the marks made so far are then on disk. Every mark made
        in the same turn of the loop shares one commit."""
        if self._commit_future is None:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            self._commit_future = future

            def commit() -> None:
                self._commit_future = None
                try:
                    self._commit()
                except BaseException as exc:  # handed to every waiter
                    future.set_exception(exc)
                else:
                    future.set_result(None)

            loop.call_soon(commit)
        await asyncio.shield(self._commit_future)

    def _commit(self, sync: bool = False) -> None:
        size = None
        if self._results_dirty and self._results_file is not None:
            self._results_file.flush()
            if sync:
                os.fsync(self._results_file.fileno())
            size = self._results_file.tell()
            self._results_dirty = False
        self.journal.commit(size)

    async def _commit_loop(self) -> None:
        ticks = 0
        every = max(1, round(CHECKPOINT_EVERY / COMMIT_EVERY))
        while True:
            await asyncio.sleep(COMMIT_EVERY)
            ticks += 1
            self._commit(sync=ticks % 10 == 0)
            if ticks % every == 0:
                self.journal.checkpoint()
            self._report()
            self._changed()  # a tick: every wait looks again

    # ── plumbing ─────────────────────────────────────────────────────────

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and self._fatal is None:
            error = task.exception()
            self._fatal = (
                error
                if isinstance(error, SkytellsError)
                else SkytellsError(f"A batch step failed: {error!r}", "BATCH_FAILED")
            )
        self._changed()

    _event: asyncio.Event | None = None

    def _changed(self) -> None:
        if self._event is not None:
            self._event.set()

    async def _changed_wait(self) -> None:
        """Until something changes (a create, a result; the commit loop's tick at the latest).
        A plain wait: ``asyncio.wait_for`` can swallow a cancellation on Python 3.11."""
        if self._event is None:
            self._event = asyncio.Event()
        self._event.clear()
        await self._event.wait()

    def _report(self) -> None:
        hook = self.settings.on_progress
        if hook is None:
            return
        hook(
            BatchProgress(
                total=self.total,
                done=self.done,
                failed=self.failed,
                running=self._creating + len(self._waiting),
                credits=self.credits,
                concurrency=self.aimd.limit,
                throttled=self.aimd.throttled_count,
                elapsed=time.monotonic() - self.started,
                done_this_run=self.done_this_run,
                paused=self.aimd.paused(_loop_time()),
            )
        )


def _loop_time() -> float:
    """The running loop's clock (the pacing's), or 0 outside a loop."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return 0.0


@contextlib.contextmanager
def _open_requests(path: Path) -> Iterator[BinaryIO]:
    try:
        file = path.open("rb")
    except OSError as exc:
        raise ValidationError(
            f"Cannot read the requests file {path}: {exc.strerror or exc}", "BATCH_FILE_UNREADABLE"
        ) from None
    with file:
        yield file


def _file_binding(path: Path) -> dict[str, str]:
    digest = hashlib.sha256()
    size = 0
    with _open_requests(path) as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"requests_sha256": digest.hexdigest(), "requests_size": str(size)}


def candidates_by_id(candidates: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The candidates by id."""
    return {str(item["id"]): item for item in candidates}


def _check_binding(journal: Journal, requests: Path) -> None:
    found = _file_binding(requests)
    if found["requests_sha256"] != journal.meta("requests_sha256"):
        raise JournalError(
            f"The journal {journal.path} belongs to another requests file than {requests} "
            "(its content changed): use another results path for another file, or restore it",
            "BATCH_FILE_CHANGED",
        )


def _check_cost(estimate: CostEstimate, max_cost: float) -> None:
    if estimate.unpriced:
        names = ", ".join(sorted(estimate.unpriced))
        raise ValidationError(
            f"The cost cannot be estimated (no price for {names}): not started, as --max-cost "
            "was given",
            "MAX_COST_UNKNOWN",
            estimate.to_dict(),
        )
    if estimate.total > max_cost:
        raise ValidationError(
            f"The batch would cost about {estimate.total:g} {estimate.currency}, above the "
            f"maximum of {max_cost:g}: not started",
            "MAX_COST_EXCEEDED",
            estimate.to_dict(),
        )


def _open_results(path: Path, journal: Journal) -> BinaryIO:
    """The results file, cut back to the length the journal committed (a torn line or lines
    whose rows were not committed as written are rewritten by this run). A file shorter than
    that is rewritten from the journal (which holds every line written; the changed file is
    kept as ``<results>.changed``); a line past it that this batch did not write is refused."""
    committed = int(journal.meta("results_size") or 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        file = path.open("r+b") if path.exists() else path.open("w+b")
    except OSError as exc:
        raise JournalError(
            f"Cannot write the results file {path}: {exc.strerror or exc}", "RESULTS_UNWRITABLE"
        ) from None
    size = file.seek(0, os.SEEK_END)
    if size < committed:
        file.close()
        return _rewrite_results(path, journal)
    if size > committed:
        try:
            _check_tail(path, file, committed, journal)
        except BaseException:
            file.close()
            raise
        file.truncate(committed)
    file.seek(committed)
    return file


_PART = re.compile(r"(?P<dest>[A-Za-z0-9._-]+)\.[0-9a-f]{8}\.part\Z")


def _remove_stale_parts(folder: Path, journal: Journal) -> None:
    """Remove the ``<name>.<random>.part`` files a killed run left in ``folder``: only those
    of this batch's predictions (their names start with an id its journal holds), as this run
    holds the batch and saves them again."""
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.is_file(follow_symlinks=False)]
    except OSError:
        return
    for name in names:
        match = _PART.match(name)
        if match is None:
            continue
        dest = match["dest"]
        cuts = [i for i, char in enumerate(dest) if char in "-."] + [len(dest)]
        if any(journal.is_claimed(dest[:cut]) for cut in cuts if cut):
            with contextlib.suppress(OSError):
                (folder / name).unlink()


def _check_tail(path: Path, file: BinaryIO, committed: int, journal: Journal) -> None:
    """The lines past the committed length must be this batch's own, written after its last
    commit (their rows are not yet ``written``); a torn last line is fine."""
    file.seek(committed)
    while True:
        raw = file.readline(MAX_LINE_BYTES)
        if not raw or not raw.endswith(b"\n"):
            return  # the end, or a torn last line
        try:
            record = json.loads(raw)
            line, custom_id = record["line"], record["custom_id"]
            row = journal.row(line) if isinstance(line, int) else None
        except (ValueError, TypeError, KeyError, RecursionError):
            row, custom_id = None, None
        if row is None or row.custom_id != custom_id or row.state == "written":
            raise JournalError(
                f"The results file {path} has lines this batch did not write after its "
                f"{committed} bytes: remove them (keep your own notes in another file)",
                "BATCH_RESULTS_CHANGED",
            )
        if row.state == "pending":
            raise JournalError(
                f"The batch journal {journal.path} is behind its results file (line "
                f"{row.line} has a result and no create in the journal): its -wal file was "
                "probably lost (copied without it?). Restore the journal with its -wal and "
                "-shm files; running on would create requests again",
                "BATCH_JOURNAL_DAMAGED",
            )


def _rewrite_results(path: Path, journal: Journal) -> BinaryIO:
    """Write the results file again from the journal's records of the lines written."""
    aside = path.with_name(path.name + ".changed")
    fresh = path.with_name(path.name + ".rewrite")
    try:
        with fresh.open("wb") as out:
            for row in journal.all_rows(("written",)):
                out.write((row.record or "{}").encode() + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(path, aside)
        os.replace(fresh, path)
        file = path.open("r+b")
    except OSError as exc:
        raise JournalError(
            f"Cannot rewrite the results file {path}: {exc.strerror or exc}", "RESULTS_UNWRITABLE"
        ) from None
    journal.commit(file.seek(0, os.SEEK_END))
    return file


def _status(settings: _Settings) -> BatchStatus:
    journal = Journal(settings.journal, readonly=True)
    try:
        counts = journal.counts()
        succeeded = failed = 0
        for row in journal.all_rows(("written", "saved", "terminal", "cancelled")):
            if row.status == "succeeded":
                succeeded += 1
            else:
                failed += 1
        return BatchStatus(
            total=sum(counts.values()),
            states=counts,
            succeeded=succeeded,
            failed=failed,
            credits=journal.credits(),
            results=str(settings.results),
            journal=str(settings.journal),
        )
    finally:
        journal.close()


def _cancel_pending(settings: _Settings) -> int:
    """Mark every request not yet created as cancelled (its result line says so), so that no
    run creates it: a running batch checks each row before its create. Returns how many."""
    journal = Journal(settings.journal, shared=True)
    try:
        if not journal.ready:
            raise JournalError(
                f"The batch of {settings.journal} has not started yet: nothing to cancel",
                "BATCH_NOT_FOUND",
            )
        count = 0
        for row in list(journal.all_rows(("pending",))):
            request = BatchLine.from_json(row.line, row.request)
            problem = {
                "error_id": "BATCH_CANCELLED",
                "message": "Cancelled by `batch cancel` before it was created",
                "http_status": 0,
            }
            record = result_record(request, None, problem, [])
            record["status"] = "cancelled"
            count += journal.mark_cancelled(row.line, record)
        journal.commit()
        return count
    finally:
        journal.close()


def _creating_count(settings: _Settings) -> int:
    journal = Journal(settings.journal, readonly=True)
    try:
        return journal.counts()["creating"]
    finally:
        journal.close()


def _running_ids(settings: _Settings) -> list[str]:
    journal = Journal(settings.journal, readonly=True)
    try:
        return [r.prediction_id for r in journal.all_rows(("created",)) if r.prediction_id]
    finally:
        journal.close()


# ── the public classes ───────────────────────────────────────────────────


# ── the sync client's engine thread ──────────────────────────────────────


@contextlib.asynccontextmanager
async def _sync_runner(driver: SyncDriver, threads: int) -> AsyncIterator[Runner]:
    """How the engine runs operations for a sync client: over aiohttp in this loop (its own
    connections), or on threads over the client's transport (a caller's ``http_client``)."""
    from .._io.sync_driver import _aiohttp_can_serve

    if driver.loop_batches and not driver.http.is_closed and _aiohttp_can_serve():
        from .._io.aiohttp_transport import AiohttpHttp
        from .._io.async_driver import AsyncDriver

        http = AiohttpHttp()
        try:
            yield AsyncDriver(driver.config, http).run
        finally:
            await http.aclose()
        return
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=threads + 4, thread_name_prefix="skytells-batch")
    loop = asyncio.get_running_loop()

    def run(op: Op[Any]) -> Awaitable[Any]:
        return loop.run_in_executor(pool, driver.run, op)

    try:
        yield run
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _run_in_thread(make: Callable[[Runner], Awaitable[T]], driver: SyncDriver, threads: int) -> T:
    from .._io.private_loop import run_coroutine

    async def main() -> T:
        async with _sync_runner(driver, threads) as run:
            return await make(run)

    return run_coroutine(main)


def _iterate_in_thread(
    make: Callable[[Runner], AsyncIterator[T]], driver: SyncDriver, threads: int
) -> Iterator[T]:
    """Run an async generator in a private loop on its own thread; yield what it yields. Closing
    the iterator (or Ctrl-C) cancels it and waits until it has unwound."""
    items: queue.Queue[tuple[str, Any]] = queue.Queue()
    state: dict[str, Any] = {}
    started = threading.Event()

    async def main() -> None:
        state["loop"] = asyncio.get_running_loop()
        state["task"] = asyncio.current_task()
        started.set()
        try:
            async with _sync_runner(driver, threads) as run:
                async for item in make(run):
                    items.put(("item", item))
        except BaseException as exc:
            items.put(("error", exc))
            if not isinstance(exc, Exception):
                raise
        else:
            items.put(("done", None))

    def target() -> None:
        with contextlib.suppress(BaseException):
            asyncio.run(main())
        started.set()
        items.put(("done", None))

    thread = threading.Thread(target=target, name="skytells-batch", daemon=True)
    thread.start()
    try:
        while True:
            try:
                kind, value = items.get(timeout=0.25)
            except queue.Empty:
                continue
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        if thread.is_alive():
            started.wait()
            loop, task = state.get("loop"), state.get("task")
            if loop is not None and task is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(task.cancel)
            while thread.is_alive():
                thread.join(0.25)
