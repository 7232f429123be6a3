"""How a wait ends: following one prediction until it is terminal, or its deadline passes.

`follow` is the one loop every wait runs (`wait`, `run`, `stream`, a `Prediction`'s own): it
follows the prediction's event stream while it can and polls per `PollSchedule` otherwise. A wait
ends in one of three ways, all decided here:

- the prediction reaches a terminal status (any spelling of cancelled included): its dict;
- ``max_wait`` passes (sleeps and requests are cut short to meet it): `WaitTimeoutError`
  carrying the last known state, after cancelling the prediction if ``cancel_on_timeout``;
- a request fails for good (not a timeout the deadline explains): that error.

The clock is read through the protocol (`now`), so a wait runs the same against a fake clock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any, cast

from .._enums import is_terminal, normalize_status
from .._exceptions import APITimeoutError, SkytellsError, WaitTimeoutError
from .._types import PredictionResponse
from .context import Context
from .events import (
    PROGRESS_EVENTS,
    Sink,
    StreamEvent,
    StreamTracker,
    progress_number,
    read_stream,
    stream_url,
)
from .payloads import PredictionLike, prediction_dict, prediction_id_of, unknown_state
from .predictions import cancel_prediction, get_prediction
from .protocol import Emit, Notify, Op, Sleep, now
from .schedule import PollSchedule, wait_limits


def wait_for(
    ctx: Context,
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
    wait_limits(interval_ms, max_wait_ms, ctx.config.poll_interval_ms)  # bad options fail now
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
        key = (status, progress_value(shown))
        if told and told[-1] == key:
            return  # the same state again (an unchanged poll, a repeated event)
        told.append(key)
        yield Notify(on_progress, shown)

    return (
        yield from follow(
            ctx,
            prediction,
            report,
            interval_ms=interval_ms,
            max_wait_ms=max_wait_ms,
            cancel_on_timeout=cancel_on_timeout,
        )
    )


def stream_events(
    ctx: Context, prediction: PredictionLike, *, max_wait_ms: float | None = None
) -> Op[PredictionResponse]:
    """Emit a prediction's `StreamEvent`s until its ``done`` or ``error`` event; returns the final
    prediction. Over its event stream if it has one, otherwise from polls (see `follow`)."""
    prediction_id = prediction_id_of(prediction)  # a bad argument fails now, not at first use
    wait_limits(None, max_wait_ms, ctx.config.poll_interval_ms)

    def emit(events: list[StreamEvent], state: PredictionResponse) -> Op[None]:
        for event in events:
            yield Emit(event)

    def events() -> Op[PredictionResponse]:
        budget = wait_limits(None, max_wait_ms, ctx.config.poll_interval_ms)[1]
        deadline = (yield from now()) + budget
        # A bare id is looked up first: a prediction with a stream then replays all its events.
        known = prediction_dict(prediction)
        if known is None:
            try:
                known = yield from get_prediction(ctx, prediction_id, deadline=deadline)
            except APITimeoutError:
                if (yield from now()) < deadline:
                    raise
                timeout = yield from wait_timeout(ctx, prediction_id, None, max_wait_ms, False)
                raise timeout from None
        return (yield from follow(ctx, known, emit, max_wait_ms=max_wait_ms, deadline=deadline))

    return events()


def follow(
    ctx: Context,
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
    ``deadline`` (a monotonic instant), if the caller's wait began earlier, replaces
    ``max_wait_ms`` from now.
    """
    prediction_id = prediction_id_of(prediction)
    track = StreamTracker(prediction_id, prediction_dict(prediction))
    interval, budget = wait_limits(interval_ms, max_wait_ms, ctx.config.poll_interval_ms)
    if deadline is None:
        deadline = (yield from now()) + budget
    schedule = PollSchedule(interval, ctx.state.rate_limits)

    def timed_out() -> Op[WaitTimeoutError]:
        return wait_timeout(ctx, prediction_id, track.latest, max_wait_ms, cancel_on_timeout)

    streamed = checked = False
    while True:
        url = None if streamed or track.finished else stream_url(track.latest)
        if url is not None and ctx.state.streams.usable(url, (yield from now())):
            streamed = True
            try:
                end = yield from read_stream(ctx, url, track, deadline, sink)
            except APITimeoutError:
                if (yield from now()) < deadline:
                    raise
                end = None
            final = end.prediction if end is not None else None
            if final is not None:
                return final
            checked = False  # poll at once: the stream failed, or its end lacked the prediction
        current_time = yield from now()
        if checked:
            pause = min(schedule.next_delay(track.latest, current_time), deadline - current_time)
            if pause > 0:
                yield Sleep(pause)
                current_time = yield from now()
        if current_time >= deadline:
            raise (yield from timed_out()) from None
        try:
            current = yield from get_prediction(ctx, prediction_id, deadline=deadline)
        except APITimeoutError:
            if (yield from now()) < deadline:
                raise
            raise (yield from timed_out()) from None
        checked = True
        yield from sink(track.observe(current), current)
        if is_terminal(current.get("status")):
            return current


def wait_timeout(
    ctx: Context,
    prediction_id: str,
    current: PredictionResponse | None,
    max_wait_ms: float | None,
    cancel_on_timeout: bool,
) -> Op[WaitTimeoutError]:
    """The `WaitTimeoutError` to raise, after cancelling the prediction if asked to."""
    last: PredictionResponse = current or unknown_state(prediction_id)
    if cancel_on_timeout:
        # The timeout is what the caller needs to hear about, even if the cancel fails.
        with contextlib.suppress(SkytellsError):
            last = yield from cancel_prediction(ctx, prediction_id)
    return WaitTimeoutError(
        f"Prediction {prediction_id} did not finish within {max_wait_ms:g} ms",
        "WAIT_TIMEOUT",
        f"Last status: {last.get('status', 'unknown')}."
        + (" It was cancelled." if cancel_on_timeout else " It may still finish: fetch it later."),
        408,
        prediction=last,
    )


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


def progress_value(state: PredictionResponse) -> float | None:
    """The float ``metrics.progress`` of a state from `progress_state`, or None."""
    metrics = state.get("metrics")
    value = metrics.get("progress") if isinstance(metrics, Mapping) else None
    return value if isinstance(value, float) else None
