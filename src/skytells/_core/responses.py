"""Turning a `RawResponse` into data, or into the right `SkytellsError`.

Every body variant the spec lists is handled: the error envelope, ``{"status": false,
"response": ...}`` alone, a flat ``{"error_id", "message"}``, and non-JSON bodies from gateways.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from .._enums import STATUS_ERROR_IDS
from .._exceptions import (
    APITimeoutError,
    AuthenticationError,
    ContentPolicyError,
    CreateOutcomeUnknownError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    SkytellsError,
    ValidationError,
)
from .protocol import RawResponse
from .retry import retry_after_seconds

SNIPPET_LENGTH = 500
REQUEST_ID_HEADERS = ("x-request-id", "x-skytells-request-id", "request-id", "cf-ray")


_CLASS_BY_ID: dict[str, type[SkytellsError]] = {
    "UNAUTHORIZED": AuthenticationError,
    "ACCOUNT_SUSPENDED": AuthenticationError,
    "FORBIDDEN": PermissionDeniedError,
    "SECURITY_VIOLATION": PermissionDeniedError,
    "PAYMENT_REQUIRED": PaymentRequiredError,
    "INSUFFICIENT_CREDITS": PaymentRequiredError,
    "MODEL_NOT_FOUND": NotFoundError,
    "ENDPOINT_NOT_FOUND": NotFoundError,
    "PREDICTION_FAILED": NotFoundError,  # the API's answer to an unknown prediction id
    "VALIDATION_ERROR": ValidationError,
    "INVALID_INPUT": ValidationError,
    "INVALID_PARAMETER": ValidationError,
    "INVALID_DATE_FORMAT": ValidationError,
    "INVALID_DATE_RANGE": ValidationError,
    "INVALID_PARAMETER_COMBINATION": ValidationError,
    "INVALID_REQUEST": ValidationError,
    "CONTENT_POLICY_VIOLATION": ContentPolicyError,
    "RATE_LIMIT_EXCEEDED": RateLimitError,
    # A retried create whose first attempt is still being handled: not invalid input.
    "IDEMPOTENCY_REQUEST_IN_PROGRESS": CreateOutcomeUnknownError,
}

_CLASS_BY_STATUS: dict[int, type[SkytellsError]] = {
    400: ValidationError,
    401: AuthenticationError,
    402: PaymentRequiredError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ValidationError,
    422: ValidationError,
    429: RateLimitError,
    451: ContentPolicyError,
}


def parse_response(raw: RawResponse) -> Any:
    """The decoded JSON of a successful response; raises the mapped error otherwise."""
    if 200 <= raw.status < 300:
        if not raw.content.strip():
            return {}
        body = _decode(raw)
        # A 2xx with status false is an error, unless it carries an id: then it is a queued prediction.
        if isinstance(body, dict) and body.get("status") is False and not body.get("id"):
            raise error_from_body(body, raw)
        return body
    if 300 <= raw.status < 400:
        location = _without_userinfo(text_of(raw.headers.get("location")) or "nowhere")[:300]
        error = build_error(
            raw,
            f"The API answered with a redirect (HTTP {raw.status} to {location}); redirects are "
            "not followed, so that the API key never goes to another host: check base_url",
            "HTTP_ERROR",
            {"location": location},
            snippet(raw.content),
        )
        error.headers["location"] = location  # credentials and query never kept in it
        raise error
    if not raw.content.strip():
        raise build_error(raw, f"HTTP {raw.status} with an empty body", None, None, None)
    try:
        body = _decode(raw)
    except SkytellsError as exc:
        # Gateways answer with HTML or text: keep the status's meaning, show the body's start.
        raise build_error(
            raw, f"HTTP {raw.status}: {exc.message}", "SERVER_ERROR", exc.details, exc.body
        ) from None
    raise error_from_body(body, raw)


def error_from_body(body: Any, raw: RawResponse) -> SkytellsError:
    """The error described by a decoded error body of any known variant."""
    if not isinstance(body, dict):
        return build_error(raw, f"HTTP {raw.status}", None, body, body)
    envelope = body.get("error")
    if isinstance(envelope, dict):
        message = _text(envelope.get("message")) or _text(body.get("response"))
        return build_error(
            raw,
            message or f"HTTP {raw.status}",
            _identifier(envelope.get("error_id")),
            envelope.get("details"),
            body,
            status=_status(envelope.get("http_status"), raw.status),
        )
    message = _text(body.get("message")) or _text(body.get("response")) or _text(envelope)
    error_id = _identifier(body.get("error_id")) or _identifier(body.get("code"))
    if error_id is None and body.get("response") is not None and raw.status < 300:
        error_id = "API_ERROR"
    return build_error(raw, message or f"HTTP {raw.status}", error_id, body.get("details"), body)


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """The server's request id header, if any (as text that can always be encoded)."""
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return (text_of(value) or "")[:200]
    return None


def text_of(value: str | None) -> str | None:
    """A header value as text that encodes anywhere: bytes that were not UTF-8 (kept as lone
    surrogates by some clients) read as Latin-1, as the other HTTP clients read them."""
    if value is None:
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("latin-1")
    return value


def _without_userinfo(url: str) -> str:
    """``url`` without its ``user:password@`` part, query and fragment (a redirect's credentials
    and tokens stay out of errors)."""
    url = url.partition("#")[0].partition("?")[0]
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def snippet(content: bytes) -> str:
    """The start of a body, for error details."""
    text = content[: SNIPPET_LENGTH + 1].decode("utf-8", errors="replace")
    return text if len(text) <= SNIPPET_LENGTH else text[:SNIPPET_LENGTH] + "... [truncated]"


def _decode(raw: RawResponse) -> Any:
    content_type = raw.headers.get("content-type", "").lower()
    is_json = "json" in content_type
    try:
        return json.loads(raw.content)
    except RecursionError:
        raise SkytellsError(
            "The server returned JSON nested too deeply to decode",
            "INVALID_JSON",
            f"HTTP {raw.status}, content-type {content_type or 'none'}: {snippet(raw.content)}",
            raw.status,
            request_id=request_id_of(raw.headers),
            headers=raw.headers,
            body=snippet(raw.content),
        ) from None
    except (ValueError, UnicodeDecodeError):
        details = (
            f"HTTP {raw.status}, content-type {content_type or 'none'}: {snippet(raw.content)}"
        )
        error, message, error_id = (
            (SkytellsError, "The server returned invalid JSON", "INVALID_JSON")
            if is_json
            else (
                ServerError,
                f"The server returned a non-JSON response ({content_type or 'no content type'})",
                "SERVER_ERROR",
            )
        )
        raise error(
            message,
            error_id,
            details,
            raw.status,
            request_id=request_id_of(raw.headers),
            headers=raw.headers,
            body=snippet(raw.content),
        ) from None


def build_error(
    raw: RawResponse,
    message: str,
    error_id: str | None,
    details: Any,
    body: Any,
    *,
    status: int | None = None,
) -> SkytellsError:
    http_status = status or raw.status
    error_id = error_id or STATUS_ERROR_IDS.get(http_status) or _fallback_id(http_status)
    cls = _CLASS_BY_ID.get(error_id) or _CLASS_BY_STATUS.get(http_status)
    if cls is None:
        cls = ServerError if http_status >= 500 or error_id == "SERVER_ERROR" else SkytellsError
    kwargs: dict[str, Any] = {
        "request_id": request_id_of(raw.headers),
        "headers": raw.headers,
        "body": body,
    }
    if cls is RateLimitError:
        kwargs["retry_after"] = retry_after_seconds(raw.headers)
    return cls(message, error_id, details, http_status, **kwargs)


def _fallback_id(status: int) -> str:
    if status >= 500:
        return "SERVER_ERROR"
    return "HTTP_ERROR" if status >= 300 else "API_ERROR"


def _identifier(value: Any) -> str | None:
    """A server's error id if it looks like one (``RATE_LIMIT_EXCEEDED``); anything else (a
    dict, a list, a paragraph, control characters) is no id, and the status decides."""
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if 0 < len(text) <= 64 and _ID.fullmatch(text) else None


_ID = re.compile(r"[A-Za-z0-9_.:-]+")


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else str(value)


def _status(value: Any, default: int) -> int:
    return value if isinstance(value, int) and 100 <= value <= 599 else default


def timeout_error(method: str, target: str, timeout_ms: float) -> APITimeoutError:
    """The exchange missed its deadline: ``REQUEST_TIMEOUT``, ``http_status`` 408 (no response
    in time: raised by the drivers, and by an operation whose own deadline passed)."""
    when = f"after {timeout_ms:g} ms" if timeout_ms > 0 else "(its deadline had passed)"
    return APITimeoutError(
        f"{method} {target} timed out {when}",
        "REQUEST_TIMEOUT",
        "No complete response arrived before the request's deadline.",
        408,  # as the official Python and TypeScript packages report a client-side timeout
    )
