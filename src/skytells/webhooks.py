"""Receiving Skytells webhooks: verify the signature, parse the event, drop replays.

Skytells POSTs the prediction JSON to your webhook URL when a subscribed event happens, with
``X-Skytells-Signature``: the lowercase hex HMAC-SHA256 of the raw body, keyed by your API key
(or your account's webhook secret), and ``X-Skytells-Event``: the event name as subscribed.
The signature carries no timestamp, so replays are recognised by (prediction id, status), and a
delivery may be retried: make handlers idempotent. Framework-agnostic::

    from skytells.webhooks import WebhookDeduplicator, construct_event

    dedup = WebhookDeduplicator()

    def handle(body: bytes, headers) -> int:  # the raw body, never re-serialised JSON
        try:
            event = construct_event(body, headers, secret=API_KEY)
        except SkytellsError as error:
            return error.http_status  # 401: bad signature, 400: not a prediction
        if dedup.first_time(event):
            process(event.prediction)
        return 200

See ``examples/webhook_receiver_starlette.py`` and ``examples/webhook_receiver_flask.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from ._enums import normalize_status
from ._exceptions import SkytellsError, ValidationError
from ._types import PredictionResponse

__all__ = [
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "WebhookDeduplicator",
    "WebhookEvent",
    "construct_event",
    "parse_event",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Skytells-Signature"
EVENT_HEADER = "X-Skytells-Event"
_HEX = frozenset("0123456789abcdef")
_EVENT_OF_STATUS = {
    "starting": "prediction.started",
    "started": "prediction.started",
    "processing": "prediction.started",
    "succeeded": "prediction.succeeded",
    "failed": "prediction.failed",
    "cancelled": "prediction.cancelled",
}


def verify_signature(body: bytes | str, headers: Mapping[str, str], secret: str) -> None:
    """Check ``X-Skytells-Signature`` against the raw ``body``; return quietly if it matches.

    ``headers`` is any mapping (looked up case-insensitively); ``secret`` is your API key or
    webhook secret. The comparison takes constant time. Pass the body exactly as received: JSON
    parsed and dumped again does not have the same bytes.

    Raises:
        SkytellsError: ``error_id="WEBHOOK_SIGNATURE_INVALID"``, ``http_status=401``, when the
            signature is missing, malformed (not 64 hex digits) or wrong.
    """
    if not isinstance(secret, str) or not secret:
        raise ValidationError("The webhook secret must be a non-empty string", "INVALID_PARAMETER")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    given = _header(headers, SIGNATURE_HEADER)
    if given is None:
        raise _invalid(f"The {SIGNATURE_HEADER} header is missing")
    signature = given.strip().lower().removeprefix("sha256=")
    if len(signature) != 64 or not _HEX.issuperset(signature):
        raise _invalid(f"The {SIGNATURE_HEADER} header is malformed (expected 64 hex digits)")
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise _invalid("The webhook signature does not match the body")


@dataclass(frozen=True)
class WebhookEvent:
    """One webhook delivery, parsed.

    Attributes:
        event: the ``X-Skytells-Event`` header (the name as subscribed, in either vocabulary:
            ``completed`` or ``prediction.succeeded``...); without that header, the new
            vocabulary's name for the status (``prediction.succeeded``).
        prediction: the prediction dict (the body).
    """

    event: str
    prediction: PredictionResponse

    @property
    def prediction_id(self) -> str:
        """The prediction's id."""
        return str(self.prediction.get("id", ""))

    @property
    def status(self) -> str:
        """The prediction's status, spelled canonically (``canceled`` -> ``cancelled``)."""
        return normalize_status(self.prediction.get("status", ""))

    @property
    def key(self) -> tuple[str, str]:
        """``(prediction_id, status)``: what identifies a delivery, for de-duplication."""
        return self.prediction_id, self.status


def parse_event(body: bytes | str, headers: Mapping[str, str] | None = None) -> WebhookEvent:
    """The `WebhookEvent` of a delivery (no signature check: see `construct_event`).

    Raises:
        SkytellsError: ``error_id="INVALID_JSON"``, ``http_status=400``, when the body is not
            JSON or not a prediction object with an ``id`` and a ``status``.
    """
    try:
        data: Any = json.loads(body)
    except (ValueError, TypeError, RecursionError) as exc:
        raise SkytellsError(
            "The webhook body is not valid JSON", "INVALID_JSON", str(exc), 400
        ) from None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("id"), str)
        or not data["id"]
        or not isinstance(data.get("status"), str)
    ):
        raise SkytellsError(
            "The webhook body is not a prediction object with an 'id' and a 'status'",
            "INVALID_JSON",
            f"Received {type(data).__name__}",
            400,
        )
    prediction = cast(PredictionResponse, data)
    name = _header(headers or {}, EVENT_HEADER)
    status = normalize_status(data["status"])
    return WebhookEvent(name or _EVENT_OF_STATUS.get(status, f"prediction.{status}"), prediction)


def construct_event(body: bytes | str, headers: Mapping[str, str], secret: str) -> WebhookEvent:
    """Verify the signature, then parse: the one call a receiver needs.

    Raises:
        SkytellsError: ``WEBHOOK_SIGNATURE_INVALID`` (401) or ``INVALID_JSON`` (400).
    """
    verify_signature(body, headers, secret)
    return parse_event(body, headers)


class WebhookDeduplicator:
    """Remembers the (prediction id, status) pairs already handled, so that a retried or
    replayed delivery is handled once. Thread-safe; memory is bounded: the ``max_entries`` most
    recent pairs are kept (least recently seen dropped first), each for ``ttl`` seconds if given.
    """

    def __init__(self, max_entries: int = 10_000, ttl: float | None = None) -> None:
        if max_entries < 1:
            raise ValidationError("max_entries must be at least 1", "INVALID_PARAMETER")
        self.max_entries = max_entries
        self.ttl = ttl
        self._seen: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, event: WebhookEvent) -> bool:
        """True the first time this (prediction id, status) is offered (and remember it)."""
        with self._lock:
            if self._known(event.key):
                self._seen.move_to_end(event.key)
                return False
            self._seen[event.key] = time.monotonic()
            while len(self._seen) > self.max_entries:
                self._seen.popitem(last=False)
            return True

    def seen(self, event: WebhookEvent) -> bool:
        """Whether this (prediction id, status) was already offered (without remembering it)."""
        with self._lock:
            return self._known(event.key)

    def forget(self, event: WebhookEvent) -> None:
        """Forget it, e.g. when handling failed and the next delivery should be processed."""
        with self._lock:
            self._seen.pop(event.key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._seen)

    def _known(self, key: tuple[str, str]) -> bool:
        stamp = self._seen.get(key)
        if stamp is None:
            return False
        if self.ttl is not None and time.monotonic() - stamp > self.ttl:
            del self._seen[key]
            return False
        return True


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == wanted:
            return str(value)
    return None


def _invalid(message: str) -> SkytellsError:
    return SkytellsError(
        message,
        "WEBHOOK_SIGNATURE_INVALID",
        "Answer 401 and do not process the delivery.",
        401,
    )
