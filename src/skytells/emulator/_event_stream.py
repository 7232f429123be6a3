"""Server-Sent Events at a prediction's `urls.stream` (`GET /v1/predictions/{id}/stream` when the
request's `Accept` asks for `text/event-stream`, see `wants_event_stream`; also at the alias
`GET /v1/predictions/{id}/events`, whatever the `Accept`).

Every prediction is served, whether it was created with `stream: true` or not (the service only
advertises `urls.stream` for the former; serving all is friendlier and costs nothing here).
Each entry of the prediction's `EventLog` becomes one event, with the log's id, its type as the
event name and its data as compact JSON: `status`, `progress`, `log`, `output`. After the
terminal status comes a last event, id = last log id + 1: `done` (succeeded or cancelled) or
`error` (failed), whose data is the prediction JSON exactly as `GET /v1/predictions/{id}` gives
it then; the stream then ends. Statuses are spelled as the configured variants say (`canceled`,
`queued`), in `status` events as in the final prediction. A `Last-Event-ID` header resumes after that id (a value that is
not a whole number is ignored). A quiet stream gets a `: keep-alive` comment every
`config.sse_keepalive` wall seconds. A client that disconnects ends its stream at once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ._errors import dump_json
from ._record import PredictionRecord, spelled
from ._store import Store

KEEPALIVE = b": keep-alive\n\n"
HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def event_stream_response(store: Store, record: PredictionRecord, request: Request) -> Any:
    """The streaming response for `record`, resuming after the request's `Last-Event-ID`
    (for HEAD, the headers alone: no stream is opened)."""
    if request.method == "HEAD":
        head = Response(media_type="text/event-stream", headers=HEADERS)
        del head.headers["content-length"]  # as for GET: a stream has no length
        return head
    return StreamingResponse(
        _events(store, record, _last_event_id(request)),
        media_type="text/event-stream",
        headers=HEADERS,
    )


def wants_event_stream(accept: str) -> bool:
    """Whether an `Accept` header asks for `text/event-stream`: named explicitly (wildcards do
    not count) with a quality above 0 and not below that of `application/json`."""
    qualities: dict[str, float] = {}
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        qualities[media] = max(quality, qualities.get(media, 0.0))
    wanted = qualities.get("text/event-stream", 0.0)
    return wanted > 0 and wanted >= qualities.get("application/json", 0.0)


def encode(event_id: int, name: str, data: Any) -> bytes:
    """One event in the text/event-stream format."""
    payload = dump_json(data)
    return f"id: {event_id}\nevent: {name}\ndata: ".encode() + payload + b"\n\n"


async def _events(store: Store, record: PredictionRecord, after: int) -> AsyncIterator[bytes]:
    log = record.log
    store.open_streams += 1
    try:
        while True:
            events = await log.wait(after, timeout=store.config.sse_keepalive)
            variants = store.config.variants
            for event in events:
                data = event.data
                if variants and isinstance(data.get("status"), str):
                    data = {**data, "status": spelled(data["status"], variants)}
                yield encode(event.id, event.type, data)
                after = event.id
            if not events:
                if log.closed:
                    break
                yield KEEPALIVE
        final_id = log.last_id + 1
        if record.terminal and after < final_id:
            name = "error" if record.status == "failed" else "done"
            yield encode(final_id, name, record.to_json(store.config.variants))
    finally:
        store.open_streams -= 1


def _last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else 0
