"""One API call as an operation: build the request, retry what is retryable, parse the answer."""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from .._exceptions import (
    AuthenticationError,
    CreateOutcomeUnknownError,
    RateLimitError,
    SkytellsError,
    ValidationError,
)
from .context import Context
from .file_inputs import json_bytes
from .protocol import HttpRequest, Instant, Now, Op, RawResponse, Sleep, now
from .responses import parse_response
from .retry import retry_after_seconds

logger = logging.getLogger("skytells")

_NO_BODY: Any = object()


def missing_key_error() -> AuthenticationError:
    """The error of a request a client without an API key was asked to send."""
    return AuthenticationError(
        "No API key: pass api_key=... to the client or set SKYTELLS_API_KEY",
        "UNAUTHORIZED",
        "The request was not sent.",
    )


def call(
    ctx: Context,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None = None,
    json_body: Any = _NO_BODY,
    idempotency_key: str | None = None,
    deadline: float = math.inf,
    attempt_ms: float | None = None,
    settle: Callable[[SkytellsError], Op[Any]] | None = None,
    resolve: Callable[[SkytellsError], Op[Any]] | None = None,
) -> Op[Any]:
    """Send ``method path`` and return the decoded JSON, retrying per the config's policy.

    Each attempt must finish within the config's timeout (``attempt_ms`` instead, if given: a
    create the server holds) as a deadline on the whole exchange, not per socket read, and by
    ``deadline``. A create sends the same ``Idempotency-Key`` and the same body bytes on every
    attempt, so a server that honours the key never starts a second prediction.

    ``settle``: when a *retry* fails for good, an earlier attempt whose answer was lost may have
    done the work (a cancel retried gets 409 "already cancelled"); ``settle(error)`` then
    decides: it returns the result of the work already done, or raises.

    ``resolve``: after *any* failed attempt, before it is retried (after the pause before the
    retry) or reported, ``resolve(error)`` may find that the attempt did its work all the same
    (a create whose answer was lost): it returns that result, or None to go on as usual, or
    raises.
    """
    config = ctx.config
    if not config.api_key:
        raise missing_key_error()
    body = None
    headers: dict[str, str] = {}
    if json_body is not _NO_BODY:
        try:
            body = json_bytes(json_body)  # local files inline (data: URIs) without a copy
        except (TypeError, ValueError) as exc:
            raise ValidationError(
                f"The request body is not JSON-serialisable: {exc}", "INVALID_INPUT"
            ) from None
        except RecursionError:
            raise ValidationError(
                "The request body is nested too deeply to be sent as JSON", "INVALID_INPUT"
            ) from None
        headers["content-type"] = "application/json"
    if idempotency_key:
        headers["idempotency-key"] = idempotency_key
    policy = config.retry
    per_attempt = (config.timeout_ms if attempt_ms is None else attempt_ms) / 1000
    attempt = 0
    while True:
        sent: Instant = yield Now()
        attempt_deadline = min(deadline, sent.monotonic + per_attempt)
        try:
            request = HttpRequest(method, path, params, body, headers, attempt_deadline)
            raw = yield from _attempt(request, attempt + 1)
            ctx.state.rate_limits.observe(raw.headers)
            if "date" in raw.headers:  # the server's clock, for the reconcile's window
                received: Instant = yield Now()
                ctx.state.server_clock.observe(raw.headers, sent.wall, received.wall)
            return parse_response(raw)
        except SkytellsError as error:
            _without_key(error, config.api_key)
            if isinstance(error, CreateOutcomeUnknownError) and error.idempotency_key is None:
                error.idempotency_key = idempotency_key
            clock: Instant = yield Now()
            if isinstance(error, RateLimitError):  # a date is read against this client's clock
                error.retry_after = retry_after_seconds(error.headers, clock.wall)
            delay = policy.delay(error, attempt, clock.wall)
            retrying = delay is not None and clock.monotonic + delay < deadline
            if resolve is not None:
                if retrying and delay:  # the pause first: a slow server may still be at work
                    yield Sleep(delay)
                    delay = 0.0
                done = yield from resolve(error)
                if done is not None:
                    return done
            if not retrying or delay is None:
                if attempt == 0 or settle is None:
                    raise
                logger.debug(
                    "%s %s: retry %d got %s; checking whether an earlier attempt did the work",
                    method,
                    path,
                    attempt,
                    error.error_id,
                )
                return (yield from settle(error))
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
            if delay:
                yield Sleep(delay)


def _without_key(error: SkytellsError, key: str | None) -> None:
    """Take the API key out of what a server said (a 401 "bad key sk-..." echoes it), so that an
    error the application prints or logs never shows it: message, details, body, error id."""
    if not key or len(key) < 8:  # no real key is that short; a toy one would mangle the text
        return

    def clean(value: Any, depth: int = 0) -> Any:
        if isinstance(value, str):
            return value.replace(key, "sk-***")
        if depth > 50:
            return value
        if isinstance(value, dict):
            return {clean(k, depth + 1): clean(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(item, depth + 1) for item in value]
        return value

    error.message = clean(error.message)
    error.args = tuple(clean(arg) for arg in error.args)
    error.details = clean(error.details)
    error.body = clean(error.body)
    error.error_id = clean(error.error_id)


def _attempt(request: HttpRequest, number: int) -> Op[RawResponse]:
    """Send one attempt and log it at debug level: method, path, status (or error id), time.
    Never headers or bodies: they carry the key and the user's data."""
    if not logger.isEnabledFor(logging.DEBUG):
        raw: RawResponse = yield request
        return raw
    started = yield from now()
    line = "%s %s -> %s in %.1f ms (attempt %d)"
    try:
        raw = yield request
    except SkytellsError as error:
        elapsed = ((yield from now()) - started) * 1000
        logger.debug(line, request.method, request.path, error.error_id, elapsed, number)
        raise
    except BaseException:  # closed or interrupted: no clock to ask any more
        logger.debug("%s %s -> abandoned (attempt %d)", request.method, request.path, number)
        raise
    elapsed = ((yield from now()) - started) * 1000
    logger.debug(line, request.method, request.path, raw.status, elapsed, number)
    return raw


_PLAIN_SEGMENT = re.compile(r"[A-Za-z0-9_.~-]+")
"""What ``quote(text, safe="")`` leaves as it is."""


def segment(value: object, what: str) -> str:
    """A path segment, percent-encoded (``/``, ``&``, spaces and all); empty values and the dot
    segments ``.`` and ``..`` are refused: URLs resolve those (``%2E`` is the same character),
    so ``get("..")`` would otherwise reach another endpoint."""
    text = "" if value is None else str(value)
    if _PLAIN_SEGMENT.fullmatch(text) and text not in (".", ".."):
        return text  # nothing to escape (the common case: ids and slugs); quote() is slower
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
