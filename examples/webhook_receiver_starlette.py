"""A Skytells webhook receiver with Starlette: verify the signature, drop replays, handle once.

Run it (Starlette and uvicorn come with ``pip install 'skytells[emulator]'``)::

    SKYTELLS_WEBHOOK_SECRET=sk-... python examples/webhook_receiver_starlette.py

then create predictions with
``webhook={"url": "http://127.0.0.1:8000/skytells-webhook", "events": ["completed", "failed"]}``.
The secret is your API key, unless your account has a dedicated webhook secret.

Answers: 200 once handled (or for a replay already handled), 401 for a bad signature, 400 for
a body that is not a prediction, 500 when the handler raised (Skytells then retries, and the
retry is handled again because the failed attempt was forgotten).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from skytells import SkytellsError
from skytells.webhooks import WebhookDeduplicator, WebhookEvent, construct_event

PATH = "/skytells-webhook"


def create_app(secret: str, handle: Callable[[WebhookEvent], Any]) -> Starlette:
    """A Starlette app that calls ``handle(event)`` once per (prediction id, status)."""
    dedup = WebhookDeduplicator()

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()  # the raw bytes: the signature is over them
        try:
            event = construct_event(body, request.headers, secret)
        except SkytellsError as error:
            return JSONResponse({"error": error.error_id}, status_code=error.http_status)
        if not dedup.first_time(event):
            return JSONResponse({"ok": True, "duplicate": True})
        try:
            handle(event)
        except Exception:
            dedup.forget(event)  # let the retry be handled
            return JSONResponse({"error": "HANDLER_FAILED"}, status_code=500)
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(PATH, receive, methods=["POST"])])


def print_event(event: WebhookEvent) -> None:
    """The example handler: one line per event."""
    print(f"{event.event}: prediction {event.prediction_id} is {event.status}", flush=True)


if __name__ == "__main__":
    import uvicorn

    secret = os.environ.get("SKYTELLS_WEBHOOK_SECRET") or os.environ["SKYTELLS_API_KEY"]
    uvicorn.run(create_app(secret, print_event), host="127.0.0.1", port=8000)
