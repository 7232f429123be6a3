"""Waiting on many predictions at once, economically, and `run_many` results as they complete.

One `GET /predictions?per_page=50` answers for up to 50 predictions, so while many are pending a
round of checks walks the newest pages of the listing (about one request per 50 pending
predictions) instead of fetching each one; whatever the listing did not show is fetched by id.
With few predictions pending, fetching each by id is cheaper and is what happens.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._enums import is_terminal
from .._exceptions import ServerError, SkytellsError, WaitTimeoutError
from .._options import PredictionRequest
from .._types import PredictionOutput, PredictionResponse
from .context import Context
from .payloads import payload_dict, prediction_dict, prediction_id_of, unknown_state
from .predictions import create_prediction, get_prediction, list_predictions
from .protocol import Emit, Op, Sleep, now
from .running import check_outcome
from .schedule import PollSchedule, wait_limits

logger = logging.getLogger("skytells")

PAGE_SIZE = 50
BATCH_THRESHOLD = 8  # below this many pending predictions, fetching each by id is cheaper


@dataclass
class RunResult:
    """The outcome of one prediction of `run_many()`.

    ``prediction`` is its last known dict (None only if it could not be created) and ``error``
    the failure, if any: `PredictionFailedError`, `PredictionCancelledError`, `WaitTimeoutError`,
    the API error that prevented its creation, or the one that ended following it (such as
    `NotFoundError` for a prediction deleted meanwhile; the others are still followed).
    """

    index: int
    payload: dict[str, Any]
    prediction: PredictionResponse | None = None
    error: SkytellsError | None = None

    @property
    def id(self) -> str | None:
        """The prediction's id (also when it failed), or None if it was never created."""
        return self.prediction.get("id") if self.prediction else None

    @property
    def ok(self) -> bool:
        """Whether the prediction succeeded."""
        return self.error is None and self.prediction is not None

    @property
    def output(self) -> PredictionOutput:
        """The prediction's raw output (None unless it succeeded)."""
        return self.prediction.get("output") if self.ok and self.prediction else None


@dataclass(frozen=True)
class Lost:
    """A prediction `wait_many` could no longer follow: looking it up failed (it was deleted
    meanwhile, say); emitted in its place, while the others are still followed."""

    prediction_id: str
    error: SkytellsError


def wait_many(
    ctx: Context,
    predictions: Sequence[Any],
    *,
    interval_ms: float | None = None,
    max_wait_ms: float | None = None,
    emit: bool = False,
) -> Op[dict[str, PredictionResponse]]:
    """Check many predictions until each is terminal; returns the final dicts by id.

    With ``emit``, each final dict is also emitted as soon as it is seen, and a prediction whose
    lookup fails is emitted as `Lost` while the others go on; without it, that error is raised.
    ``max_wait_ms`` bounds the lookups too: past it a `WaitTimeoutError` is raised whose
    ``details`` lists the ids still running.
    """
    interval, budget = wait_limits(interval_ms, max_wait_ms, ctx.config.poll_interval_ms)
    deadline = (yield from now()) + budget
    states: dict[str, PredictionResponse] = {}
    pending: list[str] = []
    for item in predictions:
        prediction_id = prediction_id_of(item)
        known = prediction_dict(item)
        if known is not None:
            states[prediction_id] = known
        if known is not None and is_terminal(known.get("status")):
            if emit:
                yield Emit(known)
        elif prediction_id not in pending:
            pending.append(prediction_id)
    schedule = PollSchedule(interval, ctx.state.rate_limits)
    first = True
    while pending:
        current_time = yield from now()
        if not first:
            pause = min(schedule.next_delay(None, current_time), deadline - current_time)
            if pause > 0:
                yield Sleep(pause)
                current_time = yield from now()
        first = False
        if current_time >= deadline:
            raise WaitTimeoutError(
                f"{len(pending)} predictions did not finish within {max_wait_ms:g} ms",
                "WAIT_TIMEOUT",
                {"pending": list(pending)},
                408,
                prediction=states.get(pending[0]) or unknown_state(pending[0]),
            )
        seen = yield from _check_round(ctx, pending, deadline)
        still: list[str] = []
        for prediction_id in pending:
            state = seen.get(prediction_id)
            if isinstance(state, SkytellsError):
                if not emit:
                    raise state
                yield Emit(Lost(prediction_id, state))
            elif state is None or not is_terminal(state.get("status")):
                if state is not None:
                    states[prediction_id] = state
                still.append(prediction_id)
            else:
                states[prediction_id] = state
                if emit:
                    yield Emit(state)
        pending = still
    return states


def _check_round(
    ctx: Context, pending: list[str], deadline: float
) -> Op[dict[str, PredictionResponse | SkytellsError]]:
    """One check of every pending prediction: their states, or the error looking one up.

    Many are looked for on the listing first (a listing that fails falls back to lookups by
    id). Every request ends by ``deadline``; once it has passed, the round stops with what it
    has (the caller then reports the rest as still running)."""
    seen: dict[str, PredictionResponse | SkytellsError] = {}
    if len(pending) >= BATCH_THRESHOLD:
        try:
            seen.update((yield from _scan_listing(ctx, set(pending), deadline)))
        except SkytellsError as error:
            if (yield from now()) >= deadline:
                return seen
            logger.debug("listing predictions failed (%s): checking each by id", error.error_id)
    for prediction_id in pending:
        if prediction_id in seen:
            continue
        try:
            seen[prediction_id] = yield from get_prediction(ctx, prediction_id, deadline=deadline)
        except SkytellsError as error:
            if (yield from now()) >= deadline:
                return seen
            seen[prediction_id] = error
    return seen


def _scan_listing(
    ctx: Context, wanted: set[str], deadline: float
) -> Op[dict[str, PredictionResponse]]:
    """The wanted predictions found on the newest pages of the listing (a bounded walk)."""
    found: dict[str, PredictionResponse] = {}
    max_pages = math.ceil(len(wanted) / PAGE_SIZE) + 2
    for page_number in range(1, max_pages + 1):
        page = yield from list_predictions(
            ctx, page=page_number, per_page=PAGE_SIZE, deadline=deadline
        )
        for item in page.data:
            item_id = item.get("id")
            if isinstance(item_id, str) and item_id in wanted:
                found[item_id] = item
        if len(found) == len(wanted) or page.pagination.current_page >= page.pagination.last_page:
            break
    return found


def outcome(index: int, payload: Mapping[str, Any], state: PredictionResponse) -> RunResult:
    """The `RunResult` of a terminal prediction: failed and cancelled ones carry their error."""
    try:
        return RunResult(index, dict(payload), check_outcome(state))
    except SkytellsError as error:
        return RunResult(index, dict(payload), state, error)


class RunMany:
    """The bookkeeping of one `run_many()` call, shared by both clients."""

    def __init__(self, payloads: Sequence[Mapping[str, Any] | PredictionRequest]) -> None:
        self.bodies = [payload_dict(p) for p in payloads]
        self._index_by_id: dict[str, int] = {}
        self._created: dict[str, PredictionResponse] = {}

    def creates(self, ctx: Context) -> list[Op[PredictionResponse]]:
        """One background create per payload."""
        return [create_prediction(ctx, body, background=True) for body in self.bodies]

    def created(
        self, outcomes: Sequence[PredictionResponse | SkytellsError]
    ) -> tuple[list[RunResult], list[PredictionResponse]]:
        """Results for the creates that failed, and the predictions that were created."""
        failures: list[RunResult] = []
        created: list[PredictionResponse] = []
        for index, (body, out) in enumerate(zip(self.bodies, outcomes, strict=True)):
            if isinstance(out, SkytellsError):
                failures.append(RunResult(index, body, None, out))
            else:
                self._index_by_id[str(out.get("id"))] = index
                self._created[str(out.get("id"))] = out
                created.append(out)
        return failures, created

    def result(self, state: PredictionResponse | Lost) -> RunResult:
        """The result of a prediction that reached a terminal status, or could no longer be
        looked up (its error, with its last known state)."""
        if isinstance(state, Lost):
            lost = self._index_by_id[state.prediction_id]
            last = self._created.get(state.prediction_id) or unknown_state(state.prediction_id)
            return RunResult(lost, self.bodies[lost], last, state.error)
        index = self._index_by_id.get(str(state.get("id")))
        if index is None:  # the server answered with a prediction that was not asked for
            raise ServerError(
                "Unexpected response from the API: a prediction run_many() did not create",
                "SERVER_ERROR",
                f"Received prediction id {state.get('id')!r}",
                200,
                body=state,
            )
        return outcome(index, self.bodies[index], state)

    def timed_out(self, error: WaitTimeoutError) -> list[RunResult]:
        """Results for the predictions still running when ``max_wait`` passed."""
        pending = error.details.get("pending", []) if isinstance(error.details, dict) else []
        return [
            RunResult(
                self._index_by_id[pid],
                self.bodies[self._index_by_id[pid]],
                unknown_state(pid),
                error,
            )
            for pid in pending
            if pid in self._index_by_id
        ]
