"""A Skytells webhook receiver with Flask (documentation: Flask is not a dependency).

    pip install flask
    SKYTELLS_WEBHOOK_SECRET=sk-... flask --app examples/webhook_receiver_flask.py run --port 8000

then create predictions with
``webhook={"url": "http://127.0.0.1:8000/skytells-webhook", "events": ["completed", "failed"]}``.
The same logic as ``webhook_receiver_starlette.py`` (which is tested): verify the signature over
the raw body, handle each (prediction id, status) once, answer 500 if handling failed so that
Skytells retries.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request

from skytells import SkytellsError
from skytells.webhooks import WebhookDeduplicator, WebhookEvent, construct_event

SECRET = os.environ.get("SKYTELLS_WEBHOOK_SECRET") or os.environ.get("SKYTELLS_API_KEY", "")

app = Flask(__name__)
dedup = WebhookDeduplicator()


def handle(event: WebhookEvent) -> None:
    """Your code: called once per (prediction id, status)."""
    print(f"{event.event}: prediction {event.prediction_id} is {event.status}", flush=True)


@app.post("/skytells-webhook")
def skytells_webhook() -> tuple[dict[str, Any], int]:
    body = request.get_data()  # the raw bytes (not request.json): the signature is over them
    try:
        event = construct_event(body, request.headers, SECRET)
    except SkytellsError as error:
        return {"error": error.error_id}, error.http_status
    if not dedup.first_time(event):
        return {"ok": True, "duplicate": True}, 200
    try:
        handle(event)
    except Exception:
        dedup.forget(event)  # let the retry be handled
        return {"error": "HANDLER_FAILED"}, 500
    return {"ok": True}, 200
