"""Running a model: create a prediction, wait for it, and report its outcome.

`run_prediction` asks the server to hold the create until the prediction ends (``await: true``,
`held_create`) and waits here if it still answers early; an interrupted run tells the caller how
to recover what was created (its idempotency key, or the prediction's id).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from .._enums import is_terminal, normalize_status
from .._exceptions import (
    APIConnectionError,
    CreateOutcomeUnknownError,
    PredictionCancelledError,
    PredictionFailedError,
    SkytellsError,
)
from .._types import PredictionResponse
from .context import Context
from .predictions import create_prediction, encode_inputs, held_create_ms
from .protocol import Instant, Now, Op, Sleep
from .reconcile import first_attempt, reconcilable
from .retry import retry_after_seconds
from .waiting import wait_for

logger = logging.getLogger("skytells")


def run_prediction(
    ctx: Context,
    payload: dict[str, Any],
    *,
    on_progress: Callable[[Any], Any] | None = None,
    interval_ms: float | None = None,
    max_wait_ms: float | None = None,
    cancel_on_timeout: bool = False,
    idempotency_key: str | None = None,
) -> Op[PredictionResponse]:
    """Create a prediction and wait until it is terminal; raise if it failed or was cancelled.

    Without ``on_progress`` the server is asked to hold the response (``await: true``); if it
    still answers with a running prediction (video models, server limits), waiting goes on here.
    """
    idempotency_key = idempotency_key or str(uuid.uuid4())
    payload = yield from encode_inputs(ctx, payload)  # once, whatever the create's attempts
    try:
        if on_progress is None:
            data = yield from held_create(ctx, {**payload, "await": True}, idempotency_key)
        else:
            data = yield from create_prediction(
                ctx, payload, background=True, idempotency_key=idempotency_key
            )
    except BaseException as interrupt:
        if not is_interrupt(interrupt):
            raise
        _note(
            interrupt,
            "The create request was interrupted; it may have created a prediction. Run again "
            f"with idempotency_key={idempotency_key!r} to get that one instead of a new one.",
        )
        raise
    try:
        if not is_terminal(data.get("status")):
            data = yield from wait_for(
                ctx,
                data,
                interval_ms=interval_ms,
                max_wait_ms=max_wait_ms,
                on_progress=on_progress,
                cancel_on_timeout=cancel_on_timeout,
            )
    except BaseException as interrupt:
        if not is_interrupt(interrupt):
            raise
        _note(
            interrupt,
            f"Interrupted while waiting for prediction {data.get('id')}; it goes on on the "
            f"server: fetch it later with client.predictions.get({data.get('id')!r}).",
            prediction_id=data.get("id"),
        )
        raise
    return check_outcome(data)


def held_create(ctx: Context, body: dict[str, Any], key: str) -> Op[PredictionResponse]:
    """``POST /predict`` with ``await: true``, which the server may hold until the prediction ends.

    The request's deadline is the client's timeout plus ``await_hold_ms`` (the longest
    hold expected), so the hold never races the timeout. A create whose outcome stays unknown is
    never reported as bad input: while the server says the first request with this key is still
    in progress (409 ``IDEMPOTENCY_REQUEST_IN_PROGRESS``), it is asked again, with the same key,
    until it answers. A create that got no answer is looked for in the listing (`reconcile`)
    and adopted if it was made; one that was not is sent again (as many times as the retry
    policy allows); when that cannot be told, `CreateOutcomeUnknownError` carries the key.
    """
    budget_ms = held_create_ms(ctx)
    first: Instant = yield Now()
    since = first_attempt(first.wall)  # one window for every send of this create
    resolve_by = first.monotonic + budget_ms / 1000
    asked = 0
    sent_again = 0
    while True:
        try:
            return (
                yield from create_prediction(
                    ctx,
                    body,
                    background=False,
                    idempotency_key=key,
                    deadline=resolve_by,
                    since=since,
                )
            )
        except CreateOutcomeUnknownError as error:
            if error.error_id != "IDEMPOTENCY_REQUEST_IN_PROGRESS":
                raise  # the listing could not tell whether it was created
            clock: Instant = yield Now()
            # Never faster than the retry backoff, whatever Retry-After says (0 would flood).
            hint = retry_after_seconds(error.headers, clock.wall)
            pause = max(hint or 0.0, ctx.config.retry.backoff(asked))
            if clock.monotonic + pause >= resolve_by:
                raise _outcome_unknown(key, budget_ms, error) from error
            asked += 1
            yield Sleep(pause)
        except APIConnectionError as error:
            if error.request_sent is False:  # no connection: retried already, nothing made
                raise
            if not reconcilable(body):  # nothing to look for: it may have been created
                raise _outcome_unknown(key, budget_ms, error) from error
            # Looked for and not found: it was not created, so sending it again is safe.
            if sent_again >= ctx.config.retry.retries:
                raise
            clock = yield Now()
            resolve_by = clock.monotonic + budget_ms / 1000
            sent_again += 1


def _outcome_unknown(key: str, budget_ms: float, cause: SkytellsError) -> CreateOutcomeUnknownError:
    text = (
        f"The create request got no answer ({cause.error_id}: {cause.message}); a prediction may "
        f"have been created. Run again with idempotency_key={key!r} (a server that honours the "
        "key answers with that prediction), or look for it in client.predictions.list()."
    )
    logger.warning(text)
    return CreateOutcomeUnknownError(
        text,
        "CREATE_OUTCOME_UNKNOWN",
        {"idempotency_key": key, "cause": cause.error_id, "deadline_ms": budget_ms},
        cause.http_status,
        headers=cause.headers,
        body=cause.body,
        idempotency_key=key,
    )


def is_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` interrupted the operation from outside (Ctrl-C, a cancelled task, any
    event loop's cancellation) rather than failed it: not an `Exception`, and neither the
    operation being closed (``GeneratorExit``) nor the process exiting."""
    return not isinstance(exc, (Exception, GeneratorExit, SystemExit))


def _note(exc: BaseException, text: str, prediction_id: str | None = None) -> None:
    """Attach what the caller needs to recover to an interrupt (and log it)."""
    if hasattr(exc, "add_note"):  # Python 3.11+
        exc.add_note(text)
    exc.skytells_prediction_id = prediction_id  # type: ignore[attr-defined]
    logger.warning(text)


def check_outcome(data: PredictionResponse) -> PredictionResponse:
    """``data`` if it succeeded; `PredictionFailedError` / `PredictionCancelledError` otherwise."""
    status = normalize_status(data.get("status"))
    prediction_id = data.get("id")
    if status == "failed":
        text = data.get("error") or data.get("response") or "Prediction failed"
        raise PredictionFailedError(
            str(text),
            "PREDICTION_FAILED",
            f"Prediction {prediction_id} failed",
            prediction=data,
        )
    if status == "cancelled":
        raise PredictionCancelledError(
            f"Prediction {prediction_id} was cancelled",
            "PREDICTION_CANCELLED",
            f"Prediction {prediction_id} was cancelled before it finished",
            prediction=data,
        )
    return data
