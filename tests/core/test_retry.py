"""The retry policy, exactly: backoff with jitter fixed, and `Retry-After` parsing."""

from __future__ import annotations

import email.utils

import pytest

from skytells import APIConnectionError, APITimeoutError, RateLimitError, ServerError, SkytellsError
from skytells._core.retry import RetryPolicy, retry_after_seconds


def error(status: int, error_id: str = "X", headers: dict[str, str] | None = None) -> SkytellsError:
    return ServerError("e", error_id, None, status, headers=headers)


def test_backoff_sequence_without_jitter() -> None:
    policy = RetryPolicy(retries=10, base_delay=0.5, max_delay=8.0, jitter=0.25, random=lambda: 0.0)
    assert [policy.delay(error(503), n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_sequence_with_fixed_jitter() -> None:
    policy = RetryPolicy(retries=3, base_delay=0.5, jitter=0.25, random=lambda: 1.0)
    assert [policy.delay(error(503), n) for n in range(4)] == [0.375, 0.75, 1.5, None]


def test_retry_after_overrides_backoff_and_is_capped() -> None:
    policy = RetryPolicy(retries=2, max_retry_after=10, random=lambda: 0.0)
    assert policy.delay(error(429, headers={"Retry-After": "3"}), 0) == 3.0
    assert policy.delay(error(429, headers={"Retry-After": "11"}), 0) is None


def test_connection_errors_and_timeouts_are_retried() -> None:
    policy = RetryPolicy(retries=1, random=lambda: 0.0)
    assert policy.delay(APIConnectionError("reset", "NETWORK_ERROR"), 0) == 0.5
    assert policy.delay(APITimeoutError("slow", "REQUEST_TIMEOUT"), 0) == 0.5
    assert policy.delay(APITimeoutError("slow", "REQUEST_TIMEOUT"), 1) is None


def test_definitive_error_ids_are_not_retried() -> None:
    policy = RetryPolicy()
    assert policy.delay(error(502, "PREDICTION_FAILED"), 0) is None
    assert policy.delay(error(409, "INVALID_REQUEST"), 0) is None
    assert policy.delay(RateLimitError("x", "RATE_LIMIT_EXCEEDED", None, 429), 0) is not None


NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"Retry-After": "-3"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": ""}, None),
        ({"Retry-After": "nan"}, None),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "junk", "Retry-After": "2"}, 2.0),
        ({"Retry-After": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"Retry-After": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == expected
