"""The prediction endpoints: create, get, list, cancel, delete and the stream lookup."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from .._enums import normalize_status
from .._exceptions import NotFoundError, SkytellsError
from .._options import PredictionRequest, PredictionsListOptions
from .._pagination import PaginatedResponse
from .._types import PredictionResponse
from .._warnings import warn_caller
from . import reconcile
from .calls import call, segment
from .context import Context
from .file_inputs import encode_files
from .payloads import date_param, expect_prediction, int_param, payload_dict, unexpected
from .protocol import Instant, Now, Op, Sleep, now


def create_prediction(
    ctx: Context,
    payload: Mapping[str, Any] | PredictionRequest,
    *,
    background: bool,
    idempotency_key: str | None = None,
    deadline: float = math.inf,
    since: dt.datetime | None = None,
    look_first: bool = False,
    on_sent: Callable[[dt.datetime], None] | None = None,
    kept_files: dict[str, tuple[Any, Any]] | None = None,
) -> Op[PredictionResponse]:
    """``POST /predict``; ``background`` forces ``await: false`` (``predictions.create``).

    An attempt that may have created the prediction without an answer coming back is resolved
    by looking for it in the listing before the create is sent again (`reconcile`); ``since``
    is when its first attempt began (this machine's clock, `reconcile.first_attempt`) when
    this create was sent before; with ``look_first``, that earlier send's outcome is unknown:
    it is looked for before anything is sent. ``on_sent(since)`` is told when the first
    attempt began, just before the first send. ``kept_files``:
    the files a queued create encoded before, reused (see `encode_files`).

    The payload is checked when this is called, not when the operation runs, so that a warning
    about it points at the application's line on its own thread. A create sent with
    ``await: true`` may be held by the server until the prediction ends: its deadline is the
    timeout plus ``await_hold_ms``, so the hold never races the timeout."""
    body = payload_dict(payload)
    if background:
        if body.get("await") is True:
            warn_caller(
                "predictions.create() always runs in the background and ignores 'await'; "
                "use client.predict() or client.run() to wait for the result"
            )
        body["await"] = False
    return _create(ctx, body, idempotency_key, deadline, since, look_first, on_sent, kept_files)


def _create(
    ctx: Context,
    body: dict[str, Any],
    idempotency_key: str | None,
    deadline: float,
    since: dt.datetime | None = None,
    look_first: bool = False,
    on_sent: Callable[[dt.datetime], None] | None = None,
    kept_files: dict[str, tuple[Any, Any]] | None = None,
) -> Op[PredictionResponse]:
    """Send the create; an attempt that may have created the prediction although no answer
    came is resolved by looking for it (`reconcile`) before it is sent again. ``since``: when
    the first attempt began (a create sent before, whose outcome is unknown)."""
    body = yield from encode_inputs(ctx, body, kept_files)
    key = idempotency_key or str(uuid.uuid4())
    ledger = ctx.state.creates
    model, input = str(body.get("model")), body.get("input")
    token: object | None = None
    window: reconcile.Window | None = None
    if reconcile.reconcilable(body):
        if since is None:
            clock: Instant = yield Now()
            since = reconcile.first_attempt(clock.wall)
        # Read against the server's clock when the reconcile runs (its listing measures it).
        window = reconcile.Window(since.timestamp())
        if look_first:
            found = yield from reconcile.adopt(
                ctx, model, reconcile.sent_json(input), window, (), own=None, key=key
            )
            if found is not None:
                return found
        token = ledger.depart(model, input)
        if on_sent is not None:
            on_sent(since)

    def resolve(error: SkytellsError) -> Op[PredictionResponse | None]:
        if token is None or window is None or not reconcile.maybe_done(error):
            return None
        ledger.land(token)  # no longer in flight: identical creates do not wait for this one
        sent = reconcile.sent_json(input)
        found = yield from reconcile.adopt(ctx, model, sent, window, (), own=token, key=key)
        if found is None:
            # A server slower than the client may still be making it, a listing may show it
            # late (whatever the lost answer was): give it time, look again.
            yield Sleep(reconcile.settle_seconds(ctx))
            found = yield from reconcile.adopt(ctx, model, sent, window, (), own=token, key=key)
        if found is None:  # not created: it is sent again, in flight again
            ledger.depart(model, input, token)
        return found

    try:
        data = yield from call(
            ctx,
            "POST",
            "/predict",
            json_body=body,
            idempotency_key=key,
            deadline=deadline,
            attempt_ms=held_create_ms(ctx) if body.get("await") is True else None,
            resolve=resolve,
        )
        prediction = expect_prediction(data)
        prediction_id = prediction.get("id")
        if token is not None and isinstance(prediction_id, str):
            ledger.claim(prediction_id, (yield from now()))
        return prediction
    finally:
        if token is not None:
            ledger.land(token)


def encode_inputs(
    ctx: Context, body: dict[str, Any], kept: dict[str, tuple[Any, Any]] | None = None
) -> Op[dict[str, Any]]:
    """``body`` with its local file inputs (paths, bytes, file objects, PIL images) replaced by
    the strings sent for them: the client's ``file_encoder``'s URLs, else ``data:`` URIs. Done
    once per create, before anything is sent; a body without files is returned as it is."""
    return encode_files(body, ctx.config.file_encoder, ctx.config.max_inline_file_bytes, kept)


def held_create_ms(ctx: Context) -> float:
    """The deadline (ms) of one attempt of a create the server may hold (``await: true``)."""
    return ctx.config.timeout_ms + ctx.config.await_hold_ms


def get_prediction(
    ctx: Context, prediction_id: str, *, deadline: float = math.inf
) -> Op[PredictionResponse]:
    """``GET /predictions/{id}``."""
    data = yield from call(
        ctx, "GET", f"/predictions/{segment(prediction_id, 'prediction id')}", deadline=deadline
    )
    return expect_prediction(data)


def list_predictions(
    ctx: Context,
    *,
    page: int | None = None,
    since: str | dt.date | None = None,
    until: str | dt.date | None = None,
    model: str | None = None,
    per_page: int | None = None,
    status: str | None = None,
    options: PredictionsListOptions | Mapping[str, Any] | None = None,
    deadline: float = math.inf,
) -> Op[PaginatedResponse]:
    """``GET /predictions`` with filters; dates as `date`, `datetime` or ``YYYY-MM-DD``."""
    if options is not None:
        opts = (
            options
            if isinstance(options, PredictionsListOptions)
            else PredictionsListOptions.from_dict(options)
        )
        page, since, until, model = (
            page or opts.page,
            since or opts.since,
            until or opts.until,
            model or opts.model,
        )
    params = {
        key: value
        for key, value in (
            ("page", int_param("page", page)),
            ("per_page", int_param("per_page", per_page)),
            ("from", date_param("since", since)),
            ("to", date_param("until", until)),
            ("model", model),
            ("status", normalize_status(status) if status is not None else None),
        )
        if value is not None
    }
    data = yield from call(ctx, "GET", "/predictions", params=params, deadline=deadline)
    if not isinstance(data, (dict, list)):
        raise unexpected("a list of predictions", data)
    return PaginatedResponse(data)


def cancel_prediction(ctx: Context, prediction_id: str) -> Op[PredictionResponse]:
    """``POST /predictions/{id}/cancel``; always returns the updated prediction.

    A retry answered 400 or 409 (the answer to an earlier attempt that cancelled it was lost) succeeds
    if the prediction is indeed cancelled now."""
    path = f"/predictions/{segment(prediction_id, 'prediction id')}"

    def settle(error: SkytellsError) -> Op[PredictionResponse]:
        if error.http_status not in (400, 409):  # the spec's INVALID_REQUEST, or a conflict
            raise error
        current = yield from get_prediction(ctx, prediction_id)
        if normalize_status(current.get("status")) != "cancelled":
            raise error
        return current

    data = yield from call(ctx, "POST", f"{path}/cancel", settle=settle)
    if isinstance(data, dict) and data.get("id") and data.get("status"):
        return expect_prediction(data)
    # Some deployments answer {"success": true}: fetch the prediction it changed.
    return (yield from get_prediction(ctx, prediction_id))


def delete_prediction(ctx: Context, prediction_id: str) -> Op[dict[str, Any]]:
    """``DELETE /predictions/{id}/delete``. A retry answered "not found" (the answer to an
    earlier attempt that deleted it was lost) succeeds: ``{"id": ..., "deleted": True}``."""

    def settle(error: SkytellsError) -> Op[dict[str, Any]]:
        if not isinstance(error, NotFoundError):
            raise error
        yield from ()
        return {"id": prediction_id, "deleted": True}

    data = yield from call(
        ctx,
        "DELETE",
        f"/predictions/{segment(prediction_id, 'prediction id')}/delete",
        settle=settle,
    )
    return data if isinstance(data, dict) else {"data": data}


def stream_prediction(ctx: Context, prediction_id: str) -> Op[PredictionResponse]:
    """``GET /predictions/{id}/stream``: the prediction, whose ``urls["stream"]`` is the stream."""
    data = yield from call(
        ctx, "GET", f"/predictions/{segment(prediction_id, 'prediction id')}/stream"
    )
    return expect_prediction(data)
