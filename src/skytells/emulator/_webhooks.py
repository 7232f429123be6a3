"""Webhook deliveries: a signed POST of the prediction JSON on each subscribed status change.

A prediction created with `webhook: {"url", "events"}` (or a bare URL: `completed` and
`failed`) is delivered, for each status change one of its events names, in either vocabulary:

| status change | event names |
|---|---|
| starting (the prediction started) | `started`, `prediction.started` |
| succeeded | `completed`, `prediction.succeeded` |
| failed | `failed`, `prediction.failed` |
| cancelled | `canceled`, `cancelled`, `prediction.cancelled`, `prediction.canceled` |

The body is the prediction JSON as `GET /v1/predictions/{id}` gives it at that moment (compact,
UTF-8). Headers: `X-Skytells-Signature` (lowercase hex HMAC-SHA256 of the raw body, keyed by the
emulator's `webhook_secret` when set, else by the API key that created the prediction) and
`X-Skytells-Event` (the event name as subscribed). A non-2xx answer or a failed connection is
retried: `MAX_ATTEMPTS` attempts in all, the n-th retry after `BACKOFF_SECONDS * 2**(n-1)`
scaled by `time_scale`, never less than `MIN_BACKOFF_SECONDS` of wall time. Deliveries of one
prediction go out in order; none of them delays the lifecycle.

Only loopback receivers are contacted (a literal loopback IP, or `localhost`; no other name is
resolved) unless the emulator was started with `allow_remote_webhooks`: any other URL is logged
as skipped. Every attempt (and every skip) is logged, see `Webhooks.to_json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._config import EmulatorConfig
from ._errors import dump_json
from ._record import PredictionRecord, utc_now

SIGNATURE_HEADER = "X-Skytells-Signature"
EVENT_HEADER = "X-Skytells-Event"
MAX_ATTEMPTS = 4
BACKOFF_SECONDS = 1.0
MIN_BACKOFF_SECONDS = 0.05
ATTEMPT_TIMEOUT_SECONDS = 10.0
LOG_SIZE = 1000
"""The delivery log keeps the newest this many entries."""

EVENT_NAMES: dict[str, tuple[str, ...]] = {
    "starting": ("started", "prediction.started"),
    "succeeded": ("completed", "prediction.succeeded"),
    "failed": ("failed", "prediction.failed"),
    "cancelled": ("canceled", "cancelled", "prediction.cancelled", "prediction.canceled"),
}
"""The event names that subscribe to each status change."""


def subscribed_event(status: str, events: Sequence[str]) -> str | None:
    """The first of `events` naming this status change, or None."""
    names = EVENT_NAMES.get(status, ())
    return next((event for event in events if event in names), None)


def sign(body: bytes, secret: str) -> str:
    """Lowercase hex HMAC-SHA256 of `body` keyed by `secret`."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_loopback_url(url: str) -> bool:
    """Whether the URL's host is `localhost` or a literal loopback address (no DNS lookup)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Delivery:
    """One delivery attempt (or a skipped delivery) in the log."""

    prediction_id: str
    event: str
    url: str
    attempt: int
    outcome: str  # "delivered", "retrying", "failed" or "skipped"
    started_at: str
    finished_at: str
    status_code: int | None = None
    error: str | None = None
    skipped: str | None = None


class Webhooks:
    """Delivers webhooks on the server's event loop and keeps the delivery log."""

    def __init__(self, config: Callable[[], EmulatorConfig]) -> None:
        self._config = config
        self.log: deque[Delivery] = deque(maxlen=LOG_SIZE)
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, asyncio.Task[None]] = {}

    def notify(self, record: PredictionRecord) -> None:
        """Schedule the delivery of `record`'s current status, if its webhook subscribes to it."""
        url = record.webhook.get("url")
        event = subscribed_event(record.status, record.webhook.get("events") or ())
        if not isinstance(url, str) or event is None:
            return
        config = self._config()
        if not config.allow_remote_webhooks and not is_loopback_url(url):
            _, now = utc_now()
            reason = "not a loopback address (start the emulator with allow_remote_webhooks)"
            self.log.append(Delivery(record.id, event, url, 0, "skipped", now, now, skipped=reason))
            return
        prediction = record.to_json(config.variants)  # as GET answers it (spellings, model)
        body = dump_json(prediction)
        secret = config.webhook_secret or record.api_key or config.api_keys[0]
        headers = {
            "content-type": "application/json",
            "user-agent": "skytells-emulator-webhooks",
            SIGNATURE_HEADER: sign(body, secret),
            EVENT_HEADER: event,
        }
        previous = self._last.get(record.id)
        task = asyncio.get_running_loop().create_task(
            self._deliver(record.id, event, url, body, headers, previous)
        )
        self._tasks.add(task)
        self._last[record.id] = task
        task.add_done_callback(lambda done: self._forget(record.id, done))

    def _forget(self, prediction_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last.get(prediction_id) is task:
            del self._last[prediction_id]

    async def _deliver(
        self,
        prediction_id: str,
        event: str,
        url: str,
        body: bytes,
        headers: dict[str, str],
        previous: asyncio.Task[None] | None,
    ) -> None:
        if previous is not None:  # deliveries of one prediction go out in order
            with contextlib.suppress(Exception):
                await asyncio.shield(previous)
        async with httpx.AsyncClient(
            trust_env=False, follow_redirects=False, timeout=ATTEMPT_TIMEOUT_SECONDS
        ) as client:
            for attempt in range(1, MAX_ATTEMPTS + 1):
                _, started = utc_now()
                status_code: int | None = None
                error: str | None = None
                try:
                    response = await client.post(url, content=body, headers=headers)
                    status_code = response.status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                delivered = status_code is not None and 200 <= status_code < 300
                last = delivered or attempt == MAX_ATTEMPTS
                outcome = "delivered" if delivered else ("failed" if last else "retrying")
                self.log.append(
                    Delivery(
                        prediction_id,
                        event,
                        url,
                        attempt,
                        outcome,
                        started,
                        utc_now()[1],
                        status_code,
                        error,
                    )
                )
                if last:
                    return
                scaled = BACKOFF_SECONDS * 2 ** (attempt - 1) * self._config().time_scale
                await asyncio.sleep(max(MIN_BACKOFF_SECONDS, scaled))

    @property
    def pending(self) -> int:
        """Deliveries in progress (sending, or waiting to retry or for an earlier one)."""
        return len(self._tasks)

    def reset(self) -> None:
        """Stop every delivery in progress and clear the log."""
        self.stop()
        self.log.clear()

    def stop(self) -> None:
        """Stop every delivery in progress (server shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        self._last.clear()

    def to_json(self, prediction_id: str | None = None) -> list[dict[str, Any]]:
        """The delivery log, oldest first (only one prediction's entries when given its id)."""
        return [
            asdict(entry)
            for entry in self.log
            if prediction_id is None or entry.prediction_id == prediction_id
        ]
