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
from collections.abc import Iterable, Mapping
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


Headers = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""A mapping (any case), or ``(name, value)`` pairs of str or bytes (ASGI's ``scope["headers"]``)."""


def verify_signature(body: bytes | str, headers: Headers | None, secret: str) -> None:
    """Check ``X-Skytells-Signature`` against the raw ``body``; return quietly if it matches.

    ``headers`` is any mapping or a list of ``(name, value)`` pairs (looked up
    case-insensitively); ``secret`` is your API key or webhook secret. The comparison takes
    constant time. Pass the body exactly as received: JSON parsed and dumped again does not have
    the same bytes.

    Raises:
        SkytellsError: ``error_id="WEBHOOK_SIGNATURE_INVALID"``, ``http_status=401``, when the
            signature is missing, malformed (not 64 hex digits) or wrong;
            ``error_id="INVALID_PARAMETER"``, ``http_status=400``, when ``body`` is not bytes or
            text that can be the bytes received, or ``headers`` are neither a mapping nor pairs.
    """
    if not isinstance(secret, str) or not secret:
        raise ValidationError("The webhook secret must be a non-empty string", "INVALID_PARAMETER")
    try:
        key = secret.encode()
    except UnicodeEncodeError:
        raise ValidationError(
            "The webhook secret is not valid text (it holds a lone surrogate)", "INVALID_PARAMETER"
        ) from None
    raw = _body_bytes(body)
    given = _header(headers, SIGNATURE_HEADER)
    if given is None:
        raise _invalid(f"The {SIGNATURE_HEADER} header is missing")
    signature = given.strip().lower().removeprefix("sha256=")
    if len(signature) != 64 or not _HEX.issuperset(signature):
        raise _invalid(f"The {SIGNATURE_HEADER} header is malformed (expected 64 hex digits)")
    expected = hmac.new(key, raw, hashlib.sha256).hexdigest()
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


def parse_event(body: bytes | str, headers: Headers | None = None) -> WebhookEvent:
    """The `WebhookEvent` of a delivery (no signature check: see `construct_event`).

    Raises:
        SkytellsError: ``error_id="INVALID_JSON"``, ``http_status=400``, when the body is not
            JSON (or nested too deeply) or not a prediction object with an ``id`` and a
            ``status``; ``INVALID_PARAMETER`` (400) as `verify_signature`.
    """
    raw = _body_bytes(body)
    try:
        data: Any = json.loads(raw)
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
    name = _header(headers, EVENT_HEADER)
    status = normalize_status(data["status"])
    return WebhookEvent(name or _EVENT_OF_STATUS.get(status, f"prediction.{status}"), prediction)


def construct_event(body: bytes | str, headers: Headers | None, secret: str) -> WebhookEvent:
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
        if not isinstance(max_entries, int) or isinstance(max_entries, bool) or max_entries < 1:
            raise ValidationError(
                f"max_entries must be an integer >= 1, got {max_entries!r}", "INVALID_PARAMETER"
            )
        if ttl is not None and (
            not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or not ttl > 0
        ):
            raise ValidationError(
                f"ttl must be a positive number of seconds or None, got {ttl!r}",
                "INVALID_PARAMETER",
            )
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


def _body_bytes(body: object) -> bytes:
    """The raw body: bytes as given; text as UTF-8 (or, for text decoded with
    ``surrogateescape``, the original bytes); anything else is refused."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if not isinstance(body, str):
        raise _bad_input(
            f"The webhook body must be the raw request body (bytes or str), "
            f"got {type(body).__name__}"
        )
    try:
        return body.encode()
    except UnicodeEncodeError:
        pass
    try:
        return body.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:
        raise _bad_input(
            f"The webhook body is not text that was received (a lone surrogate at position "
            f"{exc.start}): pass the raw bytes"
        ) from None


def _header(headers: object, name: str) -> str | None:
    """The value of header ``name`` (any case) in a mapping or in ``(name, value)`` pairs."""
    if headers is None:
        return None
    items = getattr(headers, "items", None)
    if callable(items):
        pairs: Any = items()
    elif isinstance(headers, Iterable) and not isinstance(headers, (str, bytes, bytearray)):
        pairs = headers
    else:
        raise _bad_input(
            f"The webhook headers must be a mapping or (name, value) pairs, "
            f"got {type(headers).__name__}"
        )
    wanted = name.lower()
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise _bad_input(
                f"The webhook headers must be (name, value) pairs, got {type(pair).__name__}"
            )
        key, value = pair
        if isinstance(key, (bytes, bytearray)):
            key = bytes(key).decode("latin-1")  # HTTP header bytes, as ASGI gives them
        if isinstance(key, str) and key.lower() == wanted:
            if isinstance(value, (bytes, bytearray)):
                return bytes(value).decode("latin-1")
            return str(value)
    return None


def _bad_input(message: str) -> ValidationError:
    return ValidationError(message, "INVALID_PARAMETER", "Answer 400 and do not process it.", 400)


def _invalid(message: str) -> SkytellsError:
    return SkytellsError(
        message,
        "WEBHOOK_SIGNATURE_INVALID",
        "Answer 401 and do not process the delivery.",
        401,
    )
