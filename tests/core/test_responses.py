"""`responses`: a `RawResponse` into data or the right `SkytellsError` (the end-to-end variants
are in tests/sdk/test_responses.py)."""

from __future__ import annotations

import pytest

import skytells
from skytells._core.protocol import RawResponse
from skytells._core.responses import parse_response, timeout_error

from .driver import json_reply


def test_success_bodies() -> None:
    assert parse_response(json_reply(200, {"id": "p1"})) == {"id": "p1"}
    assert parse_response(RawResponse(204, {}, b"")) == {}
    queued = {"status": False, "id": "p1"}  # a queued prediction, not an error
    assert parse_response(json_reply(200, queued)) == queued


@pytest.mark.parametrize(
    ("raw", "kind", "error_id"),
    [
        (
            json_reply(401, {"error_id": "UNAUTHORIZED", "message": "no"}),
            skytells.AuthenticationError,
            "UNAUTHORIZED",
        ),
        (json_reply(200, {"status": False, "response": "bad page"}), skytells.SkytellsError, None),
        (
            RawResponse(302, {"location": "https://elsewhere"}, b""),
            skytells.SkytellsError,
            "HTTP_ERROR",
        ),
        (
            RawResponse(502, {"content-type": "text/html"}, b"<html>bad gateway"),
            skytells.ServerError,
            "SERVER_ERROR",
        ),
        (RawResponse(500, {}, b""), skytells.ServerError, "INTERNAL_ERROR"),
    ],
)
def test_error_answers_map_to_errors(raw: RawResponse, kind: type, error_id: str | None) -> None:
    with pytest.raises(kind) as info:
        parse_response(raw)
    if error_id is not None:
        assert info.value.error_id == error_id
    assert isinstance(info.value.http_status, int)


def test_a_429_carries_retry_after_read_against_the_servers_date() -> None:
    raw = json_reply(
        429,
        {"error_id": "RATE_LIMIT_EXCEEDED", "message": "slow down"},
        {"retry-after": "Thu, 01 Jan 2026 00:00:30 GMT", "date": "Thu, 01 Jan 2026 00:00:00 GMT"},
    )
    with pytest.raises(skytells.RateLimitError) as info:
        parse_response(raw)
    assert info.value.retry_after == 30.0


def test_the_timeout_error() -> None:
    error = timeout_error("GET", "/x", 1500)
    assert (error.error_id, error.http_status) == ("REQUEST_TIMEOUT", 408)
    assert "1500 ms" in error.message


def test_a_timeout_says_how_long_or_that_the_deadline_had_passed() -> None:
    from skytells._core.responses import timeout_error

    assert "after 2000 ms" in str(timeout_error("GET", "/x", 2000))
    passed = str(timeout_error("GET", "/x", 0))
    assert "0 ms" not in passed and "deadline had passed" in passed
