"""One API call as an operation: build the request, retry what is retryable, parse the answer."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .._exceptions import AuthenticationError, SkytellsError, ValidationError
from ._config import ClientConfig
from ._protocol import HttpRequest, Op, RawResponse, Sleep
from ._responses import parse_response

logger = logging.getLogger("skytells")

_NO_BODY: Any = object()


def call(
    config: ClientConfig,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    json_body: Any = _NO_BODY,
    idempotency_key: str | None = None,
    deadline: float = math.inf,
) -> Op[Any]:
    """Send ``method path`` and return the decoded JSON, retrying per the config's policy.

    Each attempt must finish within the config's timeout (a deadline on the whole exchange, not
    per socket read) and by ``deadline``. A create sends the same ``Idempotency-Key`` and the same
    body bytes on every attempt, so a retried create never starts a second prediction.
    """
    if not config.api_key:
        raise AuthenticationError(
            "No API key: pass api_key=... to the client or set SKYTELLS_API_KEY",
            "UNAUTHORIZED",
            "The request was not sent.",
        )
    body = None
    headers: dict[str, str] = {}
    if json_body is not _NO_BODY:
        try:
            body = json.dumps(json_body, separators=(",", ":"), ensure_ascii=False).encode()
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"The request body is not JSON-serialisable: {exc}", "INVALID_INPUT"
            ) from None
        headers["content-type"] = "application/json"
    if idempotency_key:
        headers["idempotency-key"] = idempotency_key
    policy = config.retry
    attempt = 0
    while True:
        attempt_deadline = min(deadline, time.monotonic() + config.timeout_ms / 1000)
        try:
            request = HttpRequest(method, path, params, body, headers, attempt_deadline)
            raw = yield from _attempt(request, attempt + 1)
            config.rate_limits.observe(raw.headers)
            return parse_response(raw)
        except SkytellsError as error:
            delay = policy.delay(error, attempt)
            if delay is None or time.monotonic() + delay >= deadline:
                raise
            attempt += 1
            logger.debug(
                "retrying %s %s in %.2fs after %s (HTTP %s), retry %d of %d",
                method,
                path,
                delay,
                error.error_id,
                error.http_status,
                attempt,
                policy.retries,
            )
            yield Sleep(delay)


def _attempt(request: HttpRequest, number: int) -> Op[RawResponse]:
    """Send one attempt and log it at debug level: method, path, status (or error id), time.
    Never headers or bodies: they carry the key and the user's data."""
    started = time.monotonic()
    outcome: object = "abandoned"
    try:
        raw: RawResponse = yield request
        outcome = raw.status
        return raw
    except SkytellsError as error:
        outcome = error.error_id
        raise
    finally:
        if logger.isEnabledFor(logging.DEBUG):
            elapsed = (time.monotonic() - started) * 1000
            line = "%s %s -> %s in %.1f ms (attempt %d)"
            logger.debug(line, request.method, request.path, outcome, elapsed, number)


def segment(value: object, what: str) -> str:
    """A path segment, percent-encoded (``/``, ``&``, spaces and all); empty values and the dot
    segments ``.`` and ``..`` are refused: URLs resolve those (``%2E`` is the same character),
    so ``get("..")`` would otherwise reach another endpoint."""
    text = "" if value is None else str(value)
    if not text.strip():
        raise ValidationError(
            f"{what} must be a non-empty string, got {value!r}", "INVALID_PARAMETER"
        )
    if text in (".", ".."):
        raise ValidationError(
            f"{what} {text!r} is not valid: '.' and '..' cannot be an id or a slug",
            "INVALID_PARAMETER",
        )
    return quote(text, safe="")
