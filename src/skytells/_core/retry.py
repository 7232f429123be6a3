"""When to retry a failed request, and how long to wait first."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .._exceptions import APIConnectionError, SkytellsError
from .._options import DEFAULT_RETRY_ON, RetryOptions

# Error ids that are a definitive answer even when their HTTP status is one we retry
# (the API answers an unknown prediction id with 502 PREDICTION_FAILED, for example).
DEFINITIVE_ERROR_IDS = frozenset(
    {
        "PREDICTION_FAILED",
        "INVALID_REQUEST",
        "INVALID_PARAMETER",
        "INVALID_INPUT",
        "VALIDATION_ERROR",
        "MODEL_NOT_FOUND",
        "ENDPOINT_NOT_FOUND",
        "INFERENCE_ERROR",
        "CONTENT_POLICY_VIOLATION",
        "IDEMPOTENCY_KEY_REUSED",
        "RESPONSE_TOO_LARGE",  # the same request would get the same oversized answer
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, honouring ``Retry-After``; times in seconds."""

    retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0
    jitter: float = 0.25
    retry_on: frozenset[int] = frozenset(DEFAULT_RETRY_ON)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    @classmethod
    def from_options(cls, options: RetryOptions) -> RetryPolicy:
        """Translate the official-style `RetryOptions` (milliseconds)."""
        return cls(
            retries=options.retries,
            base_delay=options.retry_delay / 1000,
            max_delay=options.max_delay / 1000,
            max_retry_after=options.max_retry_after / 1000,
            jitter=options.jitter,
            retry_on=frozenset(options.retry_on),
        )

    def is_retryable(self, error: SkytellsError) -> bool:
        """Connection errors and timeouts, and the retryable statuses without a definitive id."""
        if isinstance(error, APIConnectionError):
            return True
        return error.http_status in self.retry_on and error.error_id not in DEFINITIVE_ERROR_IDS

    def backoff(self, attempt: int) -> float:
        """The delay before retry number ``attempt + 1`` when the server gave no hint."""
        delay = min(self.max_delay, self.base_delay * (2**attempt))
        return float(delay * (1 - self.jitter * self.random()))

    def delay(self, error: SkytellsError, attempt: int, now: float | None = None) -> float | None:
        """Seconds to wait before retrying after ``error`` on ``attempt`` (0-based); None: give up.
        ``now`` (the wall clock, `Instant.wall`) reads a ``Retry-After`` given as a date."""
        if attempt >= self.retries or not self.is_retryable(error):
            return None
        hint = retry_after_seconds(error.headers, now)
        if hint is None:
            return self.backoff(attempt)
        if hint > self.max_retry_after:
            return None
        return hint


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The server's requested wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an
    HTTP date), never negative; None when absent or unreadable. A date is read against ``now``
    (seconds since the epoch) or, without it, against the response's own ``Date`` (the server's
    clock, which the date was written by); with neither it is unreadable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        value = _number(millis)
        if value is not None:
            return max(0.0, value / 1000)
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    value = _number(raw)
    if value is not None:
        return max(0.0, value)
    import email.utils  # an HTTP date: rare, so not at import time

    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    current = now if now is not None else _http_date(lowered.get("date"))
    if current is None:
        return None
    return max(0.0, when.timestamp() - current)


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    import email.utils

    try:
        return email.utils.parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _number(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
