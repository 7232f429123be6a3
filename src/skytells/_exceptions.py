"""The error hierarchy: every failure the SDK reports is a `SkytellsError`.

Subclasses let a program handle kinds differently (`except RateLimitError`), while
`except SkytellsError` and `e.error_id` always work, as with the official package.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._types import PredictionPayload, PredictionResponse

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AuthenticationError",
    "ContentPolicyError",
    "CreateOutcomeUnknownError",
    "DispatchError",
    "NotFoundError",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "PredictionCancelledError",
    "PredictionError",
    "PredictionFailedError",
    "RateLimitError",
    "ResponseTooLargeError",
    "ServerError",
    "SkytellsError",
    "ValidationError",
    "WaitTimeoutError",
]

SUMMARY_PARTS = 5
SUMMARY_PART_LENGTH = 200
_LIST_KEYS = ("fields", "errors", "invalid_fields", "field_errors")
_FIELD_KEYS = ("field", "loc", "path", "name", "parameter", "param")
_REASON_KEYS = ("message", "msg", "reason", "error", "detail")


class SkytellsError(Exception):
    """Raised for every Skytells API, network and prediction error.

    Attributes:
        error_id: machine-readable id, e.g. ``"UNAUTHORIZED"`` (see `ApiErrorId`).
        details: extra context from the server (a string, a dict or ``None``).
        http_status: the HTTP status; 408 for a client-side timeout (``REQUEST_TIMEOUT``), as
            the official packages; 0 when no response was received otherwise.
        request_id: the server's request id, when it sent one.
        headers: the response headers (empty when there was no response).
        body: the parsed response body (or the start of a non-JSON body).
    """

    def __init__(
        self,
        message: str,
        error_id: str = "UNKNOWN_ERROR",
        details: Any = None,
        http_status: int = 0,
        *,
        request_id: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_id = error_id
        self.details = details
        self.http_status = http_status
        self.request_id = request_id
        self.headers: dict[str, str] = dict(headers or {})
        self.body = body

    def __str__(self) -> str:
        text = self.message
        summary = self._summary()
        if summary:
            text += f" ({summary})"
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, error_id={self.error_id!r}, "
            f"http_status={self.http_status!r})"
        )

    def _summary(self) -> str | None:
        """What `str()` adds to the message (subclasses: the fields at fault)."""
        return None


class AuthenticationError(SkytellsError):
    """The API key is missing, invalid or its account is suspended (401)."""


class PermissionDeniedError(SkytellsError):
    """The key may not do this (403)."""


class PaymentRequiredError(SkytellsError):
    """The account has no credits or needs payment (402)."""


class NotFoundError(SkytellsError):
    """Unknown model, endpoint or prediction (404; 502 ``PREDICTION_FAILED`` for unknown ids)."""


class ValidationError(SkytellsError):
    """The request or the model input was rejected (400, 409, 422); ``details`` names the fields.

    ``str(error)`` adds each field and its reason to the message, e.g.
    ``Invalid input for model mera (seconds: 4 is not of type 'string')``.
    """

    def _summary(self) -> str | None:
        return details_summary(self.details, self.message)


class ContentPolicyError(SkytellsError):
    """The input or output violated the content policy (451)."""


class RateLimitError(SkytellsError):
    """Too many requests (429). ``retry_after`` is the server's wait in seconds, if it sent one."""

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.retry_after = retry_after


class ServerError(SkytellsError):
    """The service failed (5xx) or answered something that is not the API's JSON."""


class ResponseTooLargeError(SkytellsError):
    """A response (or one event of a stream) passed the client's ``max_response_bytes``, counted
    after decompression as it was read (``RESPONSE_TOO_LARGE``); ``details`` has the limit.
    Never retried: the same request would get the same answer."""


class APIConnectionError(SkytellsError):
    """No response was received: refused, reset or dropped connection (``NETWORK_ERROR``).

    ``request_sent`` is False when the connection could not even be made (refused, a name that
    does not resolve, a certificate refused): the server cannot have acted on the request.
    True or None (unknown) otherwise."""

    request_sent: bool | None = None


class APITimeoutError(APIConnectionError):
    """The request did not complete within its timeout (``REQUEST_TIMEOUT``, HTTP status 408)."""


class PredictionError(SkytellsError):
    """A prediction ended without output. ``prediction`` is its full dict, so nothing is lost."""

    def __init__(
        self, *args: Any, prediction: PredictionResponse | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.prediction = prediction

    @property
    def prediction_id(self) -> str | None:
        """The id of the prediction concerned."""
        return self.prediction.get("id") if self.prediction else None


class PredictionFailedError(PredictionError):
    """The prediction finished with ``status == "failed"`` (``PREDICTION_FAILED``)."""


class PredictionCancelledError(PredictionError):
    """The prediction was cancelled before it finished (``PREDICTION_CANCELLED``)."""


class WaitTimeoutError(PredictionError):
    """Waiting passed its deadline (``WAIT_TIMEOUT``); the prediction may still finish later."""


class CreateOutcomeUnknownError(SkytellsError):
    """A create got no clear answer: the prediction may or may not exist.

    Raised as ``CREATE_OUTCOME_UNKNOWN`` when a create got no answer and looking for it in the
    listing could not tell whether it was made (the listing kept failing, or too many
    predictions of the model appeared since), and for the server's 409
    ``IDEMPOTENCY_REQUEST_IN_PROGRESS`` (the first request with this key is still being
    handled). ``idempotency_key`` is the key the create was sent with: look for the prediction
    with ``client.predictions.list(model=...)``, or send the same create again with the key (a
    server that honours keys answers with that prediction instead of starting another).
    """

    def __init__(self, *args: Any, idempotency_key: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.idempotency_key = idempotency_key


class DispatchError(SkytellsError):
    """Some queued predictions could not be created.

    Attributes:
        created: the responses of the predictions that were created (queue order).
        failed: ``(payload, error)`` for each payload that was not; those stay queued.
    """

    def __init__(
        self,
        *args: Any,
        created: Sequence[PredictionResponse] = (),
        failed: Sequence[tuple[PredictionPayload, SkytellsError]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.created = list(created)
        self.failed = list(failed)


def details_summary(details: Any, message: str = "") -> str | None:
    """``field: reason; ...`` for the error details of any usual shape (a mapping of fields to
    reasons, ``{"fields": {...}}``, a list of ``{"field", "message"}`` or pydantic-style
    ``{"loc", "msg"}`` items, or text), leaving out what ``message`` already says; bounded."""
    parts = [
        f"{label}: {text}" if label else text
        for label, text in _detail_parts(details, "", 0)
        if text and not _says(message, text)
    ]
    if not parts:
        return None
    shown = [_clip(p) for p in dict.fromkeys(parts)]
    more = len(shown) - SUMMARY_PARTS
    text = "; ".join(shown[:SUMMARY_PARTS])
    return text + (f"; and {more} more" if more > 0 else "")


def _detail_parts(value: Any, label: str, depth: int) -> list[tuple[str, str]]:
    """``(field, reason)`` pairs found in ``value`` (``field`` may be empty)."""
    if value is None or value == "" or depth > 3:
        return []
    if isinstance(value, Mapping):
        field = next((value[k] for k in _FIELD_KEYS if k in value), None)
        reason = next((value[k] for k in _REASON_KEYS if k in value), None)
        if field is not None and isinstance(reason, str):
            return [(_scalar(field), reason)]
        parts: list[tuple[str, str]] = []
        for key, item in value.items():
            inner = label if key in _LIST_KEYS else (f"{label}.{key}" if label else str(key))
            parts.extend(_detail_parts(item, inner, depth + 1))
        return parts
    if isinstance(value, (list, tuple)):
        if all(not isinstance(item, (Mapping, list, tuple)) for item in value):
            return [(label, ", ".join(_scalar(item) for item in value))] if value else []
        return [part for item in value for part in _detail_parts(item, label, depth + 1)]
    return [(label, _scalar(value))]


def _says(message: str, text: str) -> bool:
    """Whether ``message`` already contains ``text`` as a whole word or phrase."""
    return re.search(rf"(?<!\w){re.escape(text)}(?!\w)", message) is not None


def _scalar(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ".".join(str(item) for item in value)  # a pydantic ``loc``
    return str(value)


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= SUMMARY_PART_LENGTH:
        return text
    return text[: SUMMARY_PART_LENGTH - 3] + "..."
