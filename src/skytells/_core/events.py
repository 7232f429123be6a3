"""Following a prediction's event stream: typed events, resumption after a drop, and the events
a poll stands in for.

A prediction's ``urls.stream`` (``/v1/predictions/{id}/stream``) answers Server-Sent Events when
asked with ``Accept: text/event-stream`` (``status``, ``progress``, ``log``, ``output``, then
``done`` or ``error``, each with an ``id``), and the prediction JSON otherwise (spec section 6).
`read_stream` asks for events and follows them; when the connection drops it reconnects with
``Last-Event-ID`` (events already seen are dropped, so none is lost or repeated), a bounded number
of times with the client's retry backoff; when the server does not answer with an event stream
(the JSON answer included), or keeps failing, it gives up and the caller polls.
`StreamTracker` keeps what the events told so far, and turns polled states into the same kinds
of events, so a consumer cannot tell (apart from missing ids and log lines) which path was used.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from .._enums import is_terminal, normalize_status
from .._exceptions import APIConnectionError, ResponseTooLargeError, SkytellsError
from .._types import PredictionResponse
from .context import Context
from .logs import LongRequest, loggable_url
from .payloads import unknown_state
from .protocol import CloseStream, Op, OpenStream, ReadStream, Sleep, now
from .responses import timeout_error
from .saving import is_url
from .sse import ServerSentEvent, SSEDecoder
from .stream_support import origin

logger = logging.getLogger("skytells")

TERMINAL_EVENTS = frozenset({"done", "error"})
PROGRESS_EVENTS = frozenset({"status", "progress", "done", "error"})
"""The events that change what ``on_progress`` would be told."""


@dataclass(frozen=True)
class StreamEvent:
    """One event of a prediction's stream.

    Attributes:
        event: its type: ``status``, ``progress``, ``log``, ``output``, then ``done`` (the
            prediction succeeded or was cancelled) or ``error`` (it failed); other types a
            server may add are passed through.
        data: the event's JSON (a dict; the raw text if it was not JSON). ``done`` and
            ``error`` carry the final prediction dict.
        id: the server's event id; None for events made from a poll (see `SkytellsClient.stream`).
    """

    event: str
    data: Any
    id: str | None = None

    @property
    def status(self) -> str | None:
        """The status this event reports (``status``, ``done``, ``error``), spelled canonically."""
        value = self.data.get("status") if isinstance(self.data, Mapping) else None
        return normalize_status(value) if isinstance(value, str) else None

    @property
    def progress(self) -> float | None:
        """Percent done (``progress`` events; ``done`` and ``error`` via the final metrics)."""
        if not isinstance(self.data, Mapping):
            return None
        value = self.data.get("progress")
        if value is None and self.prediction is not None:
            metrics = self.prediction.get("metrics")
            value = metrics.get("progress") if isinstance(metrics, Mapping) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return None

    @property
    def text(self) -> str | None:
        """A piece of a text model's output (``output``), a log line (``log``), the failure
        text (``error``), or the raw data of an event that was not JSON."""
        if not isinstance(self.data, Mapping):
            return self.data if isinstance(self.data, str) else None
        key = {"output": "text", "log": "message", "error": "error"}.get(self.event)
        value = self.data.get(key) if key else None
        return value if isinstance(value, str) else None

    @property
    def prediction(self) -> PredictionResponse | None:
        """The final prediction dict carried by ``done`` and ``error`` events."""
        data = self.data if self.event in TERMINAL_EVENTS else None
        if (
            isinstance(data, Mapping)
            and isinstance(data.get("id"), str)
            and isinstance(data.get("status"), str)
            and data["status"]
        ):
            return cast(PredictionResponse, data)
        return None

    @property
    def terminal(self) -> bool:
        """True for the last event of a stream (``done`` or ``error``)."""
        return self.event in TERMINAL_EVENTS


Sink = Callable[[list[StreamEvent], PredictionResponse], Op[None]]
"""Receives each batch of new events with the prediction's latest known state."""


class StreamTracker:
    """What is known of one prediction from its events and polls; turns polls into events."""

    def __init__(self, prediction_id: str, known: PredictionResponse | None) -> None:
        self.prediction_id = prediction_id
        self.latest = cast(PredictionResponse, dict(known)) if known else None
        self.last_event_id: str | None = None
        self.retry_hint: float | None = None
        self.accepted = 0
        self.finished = False
        self._seen: set[str] = set()
        self._status: str | None = None  # what the events told so far: nothing yet
        self._progress: float | None = None
        self._text = ""

    def snapshot(self) -> PredictionResponse:
        """A copy of the latest known state."""
        return cast(PredictionResponse, dict(self.latest or unknown_state(self.prediction_id)))

    def accept(self, raw: list[ServerSentEvent]) -> list[StreamEvent]:
        """The new events among ``raw`` (ids already seen are dropped), applied in order."""
        events: list[StreamEvent] = []
        for item in raw:
            if item.retry is not None:
                self.retry_hint = item.retry / 1000
            if item.id is not None:
                self.last_event_id = item.id
            if item.own_id and item.id is not None:
                if item.id in self._seen:
                    continue
                self._seen.add(item.id)
            try:
                data: Any = json.loads(item.data)
            except (ValueError, RecursionError):  # not JSON, or nested too deeply: the text
                data = item.data
            event = StreamEvent(item.event, data, item.id)
            self._apply(event)
            events.append(event)
        self.accepted += len(events)
        return events

    def observe(self, polled: PredictionResponse) -> list[StreamEvent]:
        """The events a poll showing ``polled`` stands for (none once the end was seen)."""
        if self.finished:
            self.latest = polled
            return []
        status = normalize_status(polled.get("status"))
        terminal = is_terminal(status)
        events: list[StreamEvent] = []
        output = polled.get("output")
        text = output if isinstance(output, str) and not is_url(output) else ""
        if text.startswith(self._text) and len(text) > len(self._text):
            events.append(StreamEvent("output", {"text": text[len(self._text) :]}))
        progress = _progress_of(polled)
        if progress is not None and progress != self._progress:
            events.append(StreamEvent("progress", {"progress": progress}))
        if status != self._status:
            change: dict[str, Any] = {"status": status}
            if status == "failed" and polled.get("error"):
                change["error"] = polled.get("error")
            # A new running status comes before its progress; a final one after the last output.
            events.insert(len(events) if terminal else 0, StreamEvent("status", change))
        if terminal:
            events.append(StreamEvent("error" if status == "failed" else "done", dict(polled)))
        for event in events:
            self._apply(event)
        self.latest = polled
        return events

    def _apply(self, event: StreamEvent) -> None:
        state = self.snapshot()
        if event.terminal:
            self.finished = True
            final = event.prediction
            if final is not None:
                state = final
            elif event.status:
                state["status"] = event.status
        elif event.event == "status" and event.status:
            # A stream opened late replays the history: the state never goes back.
            if _rank(event.status) >= _rank(state.get("status")):
                state["status"] = event.status
            if isinstance(event.data, Mapping) and event.data.get("error"):
                state["error"] = event.data["error"]
        elif event.event == "progress" and event.progress is not None:
            self._progress = event.progress
            metrics = dict(state.get("metrics") or {})
            if event.progress >= (_progress_of(state) or 0):
                metrics["progress"] = event.progress
            state["metrics"] = cast(Any, metrics)
        elif event.event == "output" and event.text is not None:
            self._text += event.text
        if event.status:
            self._status = event.status
        self.latest = state


def stream_url(prediction: Mapping[str, Any] | None) -> str | None:
    """The absolute http(s) ``urls.stream`` of a prediction, if it has one."""
    urls = prediction.get("urls") if prediction else None
    url = urls.get("stream") if isinstance(urls, Mapping) else None
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a malformed IPv6 host: poll instead
        return None
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` is on the API's own origin (scheme, host and port), where the key may go."""
    return origin(url) == origin(base_url)


def read_stream(
    ctx: Context, url: str, track: StreamTracker, deadline: float, sink: Sink
) -> Op[StreamEvent | None]:
    """Follow the event stream at ``url`` to its terminal event, which is returned.

    Returns None when the stream cannot be used (the answer is not an event stream, or the
    connection kept failing past the retry policy): the caller polls instead, having lost
    nothing. Raises `APITimeoutError` once ``deadline`` has passed.
    """
    config = ctx.config
    policy = config.retry
    authenticated = same_origin(url, config.base_url)
    failures = 0
    while True:
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if track.last_event_id is not None:
            headers["last-event-id"] = track.last_event_id
        before = track.accepted
        log = LongRequest("event stream", url)
        status: int | None = None
        yield from log.start()
        try:
            opened = yield OpenStream(
                url, headers, authenticated, deadline, config.timeout_ms / 1000
            )
            status = opened.status
            if opened.stream is None:
                yield from log.end("not an event stream: polling", status)
                ctx.state.streams.answered(url, opened.status, (yield from now()))
                return None
            ctx.state.streams.served(url)
            try:
                end = yield from _consume(
                    opened.stream, track, sink, config.max_response_bytes, log
                )
            except ResponseTooLargeError as error:
                # Resuming would meet the same event: the prediction is polled instead (its
                # state is the same, and that answer has the same bound).
                yield CloseStream(opened.stream)
                yield from log.end(f"{error.error_id}: polling", status)
                logger.warning("the stream of %s: %s; polling", track.prediction_id, error)
                return None
            if end is not None:
                yield CloseStream(opened.stream)
                yield from log.end(f"{end.event} event, prediction {end.status}", status)
                return end
            reason = "the stream ended before the prediction did"
            yield from log.end(reason, status)
        except APIConnectionError as error:
            reason = error.message
            yield from log.end(f"{error.error_id}: {reason}", status)
        except SkytellsError as error:  # a timeout past the deadline, an error answer
            yield from log.end(
                error.error_id, status if error.http_status is None else error.http_status
            )
            raise
        except BaseException:  # closed or interrupted: no clock to ask any more
            log.abandoned()
            raise
        current_time = yield from now()
        if current_time >= deadline:
            raise timeout_error("GET", url, config.timeout_ms)
        if track.accepted > before:
            failures = 0
        if track.accepted and track.last_event_id is None:
            logger.debug(
                "the stream of %s has no event ids to resume from: polling", loggable_url(url)
            )
            return None  # a reconnect would repeat what was already handed out
        if failures >= policy.retries:
            logger.debug("giving up on the stream of %s (%s): polling", track.prediction_id, reason)
            return None
        delay = track.retry_hint if track.retry_hint is not None else policy.backoff(failures)
        delay = min(delay, policy.max_delay, max(0.0, deadline - current_time))
        failures += 1
        logger.debug(
            "stream of %s interrupted (%s): resuming after event %s in %.2fs",
            track.prediction_id,
            reason,
            track.last_event_id,
            delay,
        )
        yield Sleep(delay)


def _consume(
    stream: Any, track: StreamTracker, sink: Sink, max_event_size: int, log: LongRequest
) -> Op[StreamEvent | None]:
    """Read events until the terminal one (returned) or the end of the stream (None)."""
    decoder = SSEDecoder(track.last_event_id, max_event_size)
    while True:
        chunk = yield ReadStream(stream)
        if not chunk:
            return None
        log.received += len(chunk)
        events = track.accept(decoder.feed(chunk))
        log.events += len(events)
        if not events:
            continue
        yield from sink(events, track.snapshot())
        for event in events:
            if event.terminal:
                return event


_RANKS = {"pending": 0, "starting": 1, "started": 1, "processing": 2}


def _rank(status: object) -> int:
    """Lifecycle order of a status; unknown ones rank with the running ones."""
    text = normalize_status(status) if status is not None else "pending"
    return 3 if is_terminal(text) else _RANKS.get(text, 2)


def _progress_of(state: Mapping[str, Any] | None) -> float | None:
    metrics = state.get("metrics") if state else None
    return progress_number(metrics.get("progress")) if isinstance(metrics, Mapping) else None


def progress_number(value: object) -> float | None:
    """A server's ``metrics.progress`` as a finite float, or None (a string, a bool, NaN, or an
    integer too large for a float is no progress)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
