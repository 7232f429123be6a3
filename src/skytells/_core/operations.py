"""Every API operation as a sans-IO generator, shared by the sync and async clients."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from .._enums import is_terminal, normalize_status
from .._exceptions import (
    APIConnectionError,
    APITimeoutError,
    CreateOutcomeUnknownError,
    NotFoundError,
    PredictionCancelledError,
    PredictionFailedError,
    ServerError,
    SkytellsError,
    ValidationError,
    WaitTimeoutError,
)
from .._options import ModelFieldsOptions, PredictionRequest, PredictionsListOptions, WaitOptions
from .._pagination import PaginatedResponse
from .._types import ModelResponse, PredictionResponse
from .._warnings import warn_caller
from .calls import call, segment
from .config import ClientConfig
from .events import (
    PROGRESS_EVENTS,
    Sink,
    StreamEvent,
    StreamTracker,
    progress_number,
    read_stream,
    stream_url,
)
from .protocol import Emit, Notify, Op, Sleep
from .retry import retry_after_seconds
from .schedule import PollSchedule, wait_limits

logger = logging.getLogger("skytells")

PredictionLike = Any  # a prediction dict, a `Prediction`, or an id string
MODEL_FIELDS = ("input_schema", "output_schema")


# ── predictions ─────────────────────────────────────────────────────────────


def create_prediction(
    config: ClientConfig,
    payload: Mapping[str, Any] | PredictionRequest,
    *,
    background: bool,
    idempotency_key: str | None = None,
    deadline: float = math.inf,
) -> Op[PredictionResponse]:
    """``POST /predict``; ``background`` forces ``await: false`` (``predictions.create``).

    The payload is checked when this is called, not when the operation runs, so that a warning
    about it points at the application's line on its own thread. A create sent with
    ``await: true`` may be held by the server until the prediction ends: its deadline is the
    timeout plus ``config.await_hold_ms``, so the hold never races the timeout."""
    body = payload_dict(payload)
    if background:
        if body.get("await") is True:
            warn_caller(
                "predictions.create() always runs in the background and ignores 'await'; "
                "use client.predict() or client.run() to wait for the result"
            )
        body["await"] = False
    return _create(config, body, idempotency_key, deadline)


def _create(
    config: ClientConfig, body: dict[str, Any], idempotency_key: str | None, deadline: float
) -> Op[PredictionResponse]:
    data = yield from call(
        config,
        "POST",
        "/predict",
        json_body=body,
        idempotency_key=idempotency_key or str(uuid.uuid4()),
        deadline=deadline,
        attempt_ms=held_create_ms(config) if body.get("await") is True else None,
    )
    return expect_prediction(data)


def held_create_ms(config: ClientConfig) -> float:
    """The deadline (ms) of one attempt of a create the server may hold (``await: true``)."""
    return config.timeout_ms + config.await_hold_ms


def get_prediction(
    config: ClientConfig, prediction_id: str, *, deadline: float = math.inf
) -> Op[PredictionResponse]:
    """``GET /predictions/{id}``."""
    data = yield from call(
        config, "GET", f"/predictions/{segment(prediction_id, 'prediction id')}", deadline=deadline
    )
    return expect_prediction(data)


def list_predictions(
    config: ClientConfig,
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
            ("page", _int_param("page", page)),
            ("per_page", _int_param("per_page", per_page)),
            ("from", _date_param("since", since)),
            ("to", _date_param("until", until)),
            ("model", model),
            ("status", normalize_status(status) if status is not None else None),
        )
        if value is not None
    }
    data = yield from call(config, "GET", "/predictions", params=params, deadline=deadline)
    if not isinstance(data, (dict, list)):
        raise _unexpected("a list of predictions", data)
    return PaginatedResponse(data)


def cancel_prediction(config: ClientConfig, prediction_id: str) -> Op[PredictionResponse]:
    """``POST /predictions/{id}/cancel``; always returns the updated prediction.

    A retry answered 400 or 409 (the answer to an earlier attempt that cancelled it was lost) succeeds
    if the prediction is indeed cancelled now."""
    path = f"/predictions/{segment(prediction_id, 'prediction id')}"

    def settle(error: SkytellsError) -> Op[PredictionResponse]:
        if error.http_status not in (400, 409):  # the spec's INVALID_REQUEST, or a conflict
            raise error
        current = yield from get_prediction(config, prediction_id)
        if normalize_status(current.get("status")) != "cancelled":
            raise error
        return current

    data = yield from call(config, "POST", f"{path}/cancel", settle=settle)
    if isinstance(data, dict) and data.get("id") and data.get("status"):
        return cast(PredictionResponse, data)
    # Some deployments answer {"success": true}: fetch the prediction it changed.
    return (yield from get_prediction(config, prediction_id))


def delete_prediction(config: ClientConfig, prediction_id: str) -> Op[dict[str, Any]]:
    """``DELETE /predictions/{id}/delete``. A retry answered "not found" (the answer to an
    earlier attempt that deleted it was lost) succeeds: ``{"id": ..., "deleted": True}``."""

    def settle(error: SkytellsError) -> Op[dict[str, Any]]:
        if not isinstance(error, NotFoundError):
            raise error
        yield from ()
        return {"id": prediction_id, "deleted": True}

    data = yield from call(
        config,
        "DELETE",
        f"/predictions/{segment(prediction_id, 'prediction id')}/delete",
        settle=settle,
    )
    return data if isinstance(data, dict) else {"data": data}


def stream_prediction(config: ClientConfig, prediction_id: str) -> Op[PredictionResponse]:
    """``GET /predictions/{id}/stream``: the prediction, whose ``urls["stream"]`` is the stream."""
    data = yield from call(
        config, "GET", f"/predictions/{segment(prediction_id, 'prediction id')}/stream"
    )
    return expect_prediction(data)


# ── models ──────────────────────────────────────────────────────────────────


def list_models(
    config: ClientConfig,
    fields: Iterable[str] | str | None = None,
    options: ModelFieldsOptions | Mapping[str, Any] | None = None,
) -> Op[list[ModelResponse]]:
    """``GET /models``: the catalogue (a bare JSON array)."""
    data = yield from call(config, "GET", "/models", params=_fields_params(fields, options))
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise _unexpected("a list of models", data)
    return [cast(ModelResponse, m) for m in data if isinstance(m, dict)]


def get_model(
    config: ClientConfig,
    slug: str,
    fields: Iterable[str] | str | None = None,
    options: ModelFieldsOptions | Mapping[str, Any] | None = None,
) -> Op[ModelResponse]:
    """``GET /model/{slug}``."""
    data = yield from call(
        config,
        "GET",
        f"/model/{segment(slug, 'model slug')}",
        params=_fields_params(fields, options),
    )
    if not isinstance(data, dict):
        raise _unexpected("a model object", data)
    return cast(ModelResponse, data)


# ── waiting and running ─────────────────────────────────────────────────────


def wait_for(
    config: ClientConfig,
    prediction: PredictionLike,
    *,
    interval_ms: float | None = None,
    max_wait_ms: float | None = None,
    on_progress: Callable[[Any], Any] | None = None,
    cancel_on_timeout: bool = False,
) -> Op[PredictionResponse]:
    """Follow a prediction until it is terminal (any spelling of cancelled ends it too).

    When the prediction has an event stream (``urls.stream``) it is followed: one long request
    that learns of the end at once. Otherwise, or if the stream fails, the prediction is checked
    at once and then per `PollSchedule` (quick, then backing off to ``interval_ms``).
    ``on_progress`` gets the latest state each time its status or progress changes (never the
    same state twice, the final one once, ``metrics.progress`` as a float).
    ``max_wait_ms`` is a true deadline: sleeps and requests are cut short to meet it, and
    passing it raises `WaitTimeoutError` carrying the prediction.
    """
    wait_limits(interval_ms, max_wait_ms, config.poll_interval_ms)  # bad options fail at once
    current = prediction_dict(prediction)
    if current is not None and is_terminal(current.get("status")):
        return current

    told: list[tuple[str, float | None]] = []  # the (status, progress) on_progress last got

    def report(events: list[StreamEvent], state: PredictionResponse) -> Op[None]:
        if on_progress is None:
            return
        if events and not PROGRESS_EVENTS.intersection(event.event for event in events):
            return  # logs and output pieces change nothing on_progress shows
        status = normalize_status(state.get("status"))
        if events and is_terminal(status) and not any(event.terminal for event in events):
            return  # the final status: the end event that carries the final prediction follows
        shown = progress_state(state)
        key = (status, _progress_value(shown))
        if told and told[-1] == key:
            return  # the same state again (an unchanged poll, a repeated event)
        told.append(key)
        yield Notify(on_progress, shown)

    return (
        yield from follow(
            config,
            prediction,
            report,
            interval_ms=interval_ms,
            max_wait_ms=max_wait_ms,
            cancel_on_timeout=cancel_on_timeout,
        )
    )


def stream_events(
    config: ClientConfig, prediction: PredictionLike, *, max_wait_ms: float | None = None
) -> Op[PredictionResponse]:
    """Emit a prediction's `StreamEvent`s until its ``done`` or ``error`` event; returns the final
    prediction. Over its event stream if it has one, otherwise from polls (see `follow`)."""
    prediction_id = prediction_id_of(prediction)  # a bad argument fails now, not at first use
    wait_limits(None, max_wait_ms, config.poll_interval_ms)

    def emit(events: list[StreamEvent], state: PredictionResponse) -> Op[None]:
        for event in events:
            yield Emit(event)

    def events() -> Op[PredictionResponse]:
        deadline = wait_limits(None, max_wait_ms, config.poll_interval_ms)[1]
        # A bare id is looked up first: a prediction with a stream then replays all its events.
        known = prediction_dict(prediction)
        if known is None:
            try:
                known = yield from get_prediction(config, prediction_id, deadline=deadline)
            except APITimeoutError:
                if time.monotonic() < deadline:
                    raise
                timeout = yield from _wait_timeout(config, prediction_id, None, max_wait_ms, False)
                raise timeout from None
        return (yield from follow(config, known, emit, max_wait_ms=max_wait_ms, deadline=deadline))

    return events()


def follow(
    config: ClientConfig,
    prediction: PredictionLike,
    sink: Sink,
    *,
    interval_ms: float | None = None,
    max_wait_ms: float | None = None,
    cancel_on_timeout: bool = False,
    deadline: float | None = None,
) -> Op[PredictionResponse]:
    """Hand ``sink`` a prediction's events, and states, until it is terminal; return the end.

    The event stream is used once the prediction's ``urls.stream`` is known (from the dict
    given, or the first check of a bare id); if it is not an event stream or keeps failing,
    polling takes over where it stopped (and an origin known not to serve event streams,
    `StreamSupport`, is polled directly). ``sink(events, state)`` is called for each batch of
    stream events and for each poll (with the events the poll stands for, maybe none).
    ``deadline`` (monotonic), if the caller's wait began earlier, replaces ``max_wait_ms``
    from now.
    """
    prediction_id = prediction_id_of(prediction)
    track = StreamTracker(prediction_id, prediction_dict(prediction))
    interval, limit = wait_limits(interval_ms, max_wait_ms, config.poll_interval_ms)
    deadline = limit if deadline is None else deadline
    schedule = PollSchedule(interval, config.rate_limits)

    def timed_out() -> Op[WaitTimeoutError]:
        return _wait_timeout(config, prediction_id, track.latest, max_wait_ms, cancel_on_timeout)

    streamed = checked = False
    while True:
        url = None if streamed or track.finished else stream_url(track.latest)
        if url is not None and config.streams.usable(url):
            streamed = True
            try:
                end = yield from read_stream(config, url, track, deadline, sink)
            except APITimeoutError:
                if time.monotonic() < deadline:
                    raise
                end = None
            final = end.prediction if end is not None else None
            if final is not None:
                return final
            checked = False  # poll at once: the stream failed, or its end lacked the prediction
        if checked:
            pause = min(schedule.next_delay(track.latest), deadline - time.monotonic())
            if pause > 0:
                yield Sleep(pause)
        if time.monotonic() >= deadline:
            raise (yield from timed_out()) from None
        try:
            current = yield from get_prediction(config, prediction_id, deadline=deadline)
        except APITimeoutError:
            if time.monotonic() < deadline:
                raise
            raise (yield from timed_out()) from None
        checked = True
        yield from sink(track.observe(current), current)
        if is_terminal(current.get("status")):
            return current


def run_prediction(
    config: ClientConfig,
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
    try:
        if on_progress is None:
            data = yield from held_create(config, {**payload, "await": True}, idempotency_key)
        else:
            data = yield from create_prediction(
                config, payload, background=True, idempotency_key=idempotency_key
            )
    except (KeyboardInterrupt, asyncio.CancelledError) as interrupt:
        _note(
            interrupt,
            "The create request was interrupted; it may have created a prediction. Run again "
            f"with idempotency_key={idempotency_key!r} to get that one instead of a new one.",
        )
        raise
    try:
        if not is_terminal(data.get("status")):
            data = yield from wait_for(
                config,
                data,
                interval_ms=interval_ms,
                max_wait_ms=max_wait_ms,
                on_progress=on_progress,
                cancel_on_timeout=cancel_on_timeout,
            )
    except (KeyboardInterrupt, asyncio.CancelledError) as interrupt:
        _note(
            interrupt,
            f"Interrupted while waiting for prediction {data.get('id')}; it goes on on the "
            f"server: fetch it later with client.predictions.get({data.get('id')!r}).",
            prediction_id=data.get("id"),
        )
        raise
    return check_outcome(data)


def held_create(config: ClientConfig, body: dict[str, Any], key: str) -> Op[PredictionResponse]:
    """``POST /predict`` with ``await: true``, which the server may hold until the prediction ends.

    The request's deadline is the client's timeout plus ``config.await_hold_ms`` (the longest
    hold expected), so the hold never races the timeout. A create whose outcome stays unknown is
    never reported as bad input: while the server says the first request with this key is still
    in progress (409 ``IDEMPOTENCY_REQUEST_IN_PROGRESS``), it is asked again, with the same key,
    until it answers; if no answer comes by the deadline, or the connection keeps failing,
    `CreateOutcomeUnknownError` carries the key to recover the prediction with.
    """
    budget_ms = held_create_ms(config)
    resolve_by = time.monotonic() + budget_ms / 1000
    asked = 0
    while True:
        try:
            return (
                yield from create_prediction(
                    config, body, background=False, idempotency_key=key, deadline=resolve_by
                )
            )
        except CreateOutcomeUnknownError as error:  # the first request is still being held
            # Never faster than the retry backoff, whatever Retry-After says (0 would flood).
            pause = max(retry_after_seconds(error.headers) or 0.0, config.retry.backoff(asked))
            if time.monotonic() + pause >= resolve_by:
                raise _outcome_unknown(key, budget_ms, error) from error
            asked += 1
            yield Sleep(pause)
        except APIConnectionError as error:  # timed out or dropped: it may have been created
            raise _outcome_unknown(key, budget_ms, error) from error


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


def _wait_timeout(
    config: ClientConfig,
    prediction_id: str,
    current: PredictionResponse | None,
    max_wait_ms: float | None,
    cancel_on_timeout: bool,
) -> Op[WaitTimeoutError]:
    """The `WaitTimeoutError` to raise, after cancelling the prediction if asked to."""
    last: PredictionResponse = current or {"id": prediction_id}
    if cancel_on_timeout:
        # The timeout is what the caller needs to hear about, even if the cancel fails.
        with contextlib.suppress(SkytellsError):
            last = yield from cancel_prediction(config, prediction_id)
    return WaitTimeoutError(
        f"Prediction {prediction_id} did not finish within {max_wait_ms:g} ms",
        "WAIT_TIMEOUT",
        f"Last status: {last.get('status', 'unknown')}."
        + (" It was cancelled." if cancel_on_timeout else " It may still finish: fetch it later."),
        408,
        prediction=last,
    )


# ── helpers ─────────────────────────────────────────────────────────────────


def progress_state(state: PredictionResponse) -> PredictionResponse:
    """``state`` as ``on_progress`` gets it: ``metrics.progress``, when there, always a float (a
    value that is no finite number, such as ``"0.5"`` or ``10**400``, is left out)."""
    metrics = state.get("metrics")
    if not isinstance(metrics, Mapping) or "progress" not in metrics:
        return state
    value = metrics["progress"]
    progress = progress_number(value)
    if progress is not None and type(value) is float:
        return state
    shown = {key: item for key, item in metrics.items() if key != "progress"}
    if progress is not None:
        shown["progress"] = progress
    return cast(PredictionResponse, {**state, "metrics": shown})


def _progress_value(state: PredictionResponse) -> float | None:
    metrics = state.get("metrics")
    value = metrics.get("progress") if isinstance(metrics, Mapping) else None
    return value if isinstance(value, float) else None


def payload_dict(payload: Mapping[str, Any] | PredictionRequest) -> dict[str, Any]:
    """A create payload as a fresh dict (from a dict, a `PredictionRequest` or a `QueueItem`)."""
    if isinstance(payload, PredictionRequest):
        return payload.to_dict()
    if isinstance(payload, Mapping):
        return dict(payload)
    raise ValidationError(
        f"A prediction payload must be a dict, got {type(payload).__name__}", "VALIDATION_ERROR"
    )


def prediction_dict(prediction: PredictionLike) -> PredictionResponse | None:
    """The prediction's last known state (None for a bare id)."""
    if isinstance(prediction, str):
        return None
    if isinstance(prediction, Mapping):
        return cast(PredictionResponse, prediction)
    raw = getattr(prediction, "response", None)
    return cast(PredictionResponse, raw) if isinstance(raw, Mapping) else None


def prediction_id_of(prediction: PredictionLike) -> str:
    """The id of a prediction given as a dict, a `Prediction` or an id string."""
    if isinstance(prediction, str):
        return prediction
    data = prediction_dict(prediction)
    prediction_id = data.get("id") if data is not None else None
    if not isinstance(prediction_id, str) or not prediction_id:
        raise ValidationError(
            "Expected a prediction dict with an 'id', a Prediction or an id string, "
            f"got {type(prediction).__name__}",
            "INVALID_PARAMETER",
        )
    return prediction_id


def expect_prediction(data: Any) -> PredictionResponse:
    """``data`` as a prediction dict, or a clear error if the server sent something else."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise _unexpected("a prediction object with an 'id'", data)
    return cast(PredictionResponse, data)


def _unexpected(expected: str, data: Any) -> SkytellsError:
    return ServerError(
        f"Unexpected response from the API: expected {expected}",
        "SERVER_ERROR",
        f"Received {type(data).__name__}: {str(data)[:200]}",
        200,
        body=data,
    )


def _fields_params(
    fields: Iterable[str] | str | None,
    options: ModelFieldsOptions | Mapping[str, Any] | None,
) -> dict[str, str] | None:
    if not fields and options is not None:
        fields = (
            options.fields
            if isinstance(options, ModelFieldsOptions)
            else ModelFieldsOptions.from_dict(options).fields
        )
    if not fields:
        return None
    names = [f.strip() for f in fields.split(",")] if isinstance(fields, str) else list(fields)
    unknown = [name for name in names if name not in MODEL_FIELDS]
    if unknown:
        raise ValidationError(
            f"Unknown model field(s) {unknown}: expected some of {list(MODEL_FIELDS)}",
            "INVALID_PARAMETER",
            {"fields": unknown},
        )
    return {"fields": ",".join(names)}


def _date_param(name: str, value: str | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise ValidationError(
        f"{name} must be a date, a datetime or a 'YYYY-MM-DD' string, got {value!r}",
        "INVALID_DATE_FORMAT",
    )


def _int_param(name: str, value: int | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, got {value!r}", "INVALID_PARAMETER")
    return str(value)


def run_payload(
    model: str,
    input: Mapping[str, Any] | None,
    webhook: Mapping[str, Any] | str | None,
    stream: bool,
    options: Any,
) -> dict[str, Any]:
    """The create body of `run()`; ``options`` is the official package's `RunOptions` or a dict."""
    if not isinstance(model, str) or not model.strip():
        raise ValidationError(
            f"model must be a non-empty model slug such as 'flux-pro', got {model!r}",
            "VALIDATION_ERROR",
        )
    if options is not None:
        extra = options.to_dict() if hasattr(options, "to_dict") else dict(options)
        input = input if input is not None else extra.get("input")
        webhook = webhook if webhook is not None else extra.get("webhook")
        stream = stream or bool(extra.get("stream"))
    if input is not None and not isinstance(input, Mapping):
        raise ValidationError(
            f"input must be a dict of model inputs, got {type(input).__name__}", "VALIDATION_ERROR"
        )
    payload: dict[str, Any] = {"model": model, "input": dict(input or {})}
    if webhook is not None:
        payload["webhook"] = webhook if isinstance(webhook, str) else dict(webhook)
    if stream:
        payload["stream"] = True
    return payload


def wait_options(options: Any) -> tuple[float | None, float | None]:
    """``(interval_ms, max_wait_ms)`` from a `WaitOptions`, a dict or None."""
    if options is None:
        return None, None
    if isinstance(options, Mapping):
        unknown = sorted(str(key) for key in options if key not in ("interval", "max_wait"))
        if unknown:
            raise ValidationError(
                f"options takes 'interval' and 'max_wait' (ms), not {', '.join(unknown)[:200]}",
                "INVALID_PARAMETER",
            )
        return options.get("interval"), options.get("max_wait")
    if isinstance(options, WaitOptions):
        return options.interval, options.max_wait
    raise ValidationError(
        f"options must be a dict or WaitOptions, got {type(options).__name__}", "INVALID_PARAMETER"
    )
