"""`calls`: one API call, its retries, their deadlines and the settle hook (fake clock)."""

from __future__ import annotations

import email.utils
import logging
from typing import Any

import pytest

import skytells
from skytells._core.calls import call, segment
from skytells._core.protocol import Now, Op
from skytells._core.retry import RetryPolicy

from .driver import WALL_OFFSET, Driver, context, json_reply

OK = json_reply(200, {"ok": True})


def unavailable(**headers: str) -> Any:
    return json_reply(503, {"error_id": "SERVICE_UNAVAILABLE", "message": "busy"}, headers)


def test_a_503_is_retried_with_backoff_then_succeeds() -> None:
    driver = Driver().script(unavailable(), unavailable(), OK)
    assert driver.run(call(context(), "GET", "/models")) == {"ok": True}
    assert driver.sleeps == [0.5, 1.0]  # the policy's backoff, no jitter
    assert len(driver.requests) == 3


def test_each_attempt_gets_its_own_deadline_from_the_clock() -> None:
    driver = Driver().script(unavailable(), OK)
    driver.run(call(context(timeout_ms=2000), "GET", "/models"))
    first, second = driver.requests
    assert first.deadline == pytest.approx(1000.0 + 2.0)
    assert second.deadline == pytest.approx(1000.0 + 0.5 + 2.0)  # after the backoff's sleep


def test_retry_after_is_honoured_in_seconds_and_as_a_date() -> None:
    driver = Driver().script(unavailable(**{"retry-after": "3"}), OK)
    driver.run(call(context(), "GET", "/models"))
    assert driver.sleeps == [3.0]
    driver = Driver()
    date = email.utils.formatdate(driver.now + WALL_OFFSET + 7, usegmt=True)  # 7 s from now
    driver.script(unavailable(**{"retry-after": date}), OK)
    driver.run(call(context(), "GET", "/models"))
    assert driver.sleeps == [pytest.approx(7.0)]


def test_a_retry_after_past_the_cap_is_not_waited_for() -> None:
    driver = Driver().script(unavailable(**{"retry-after": "3600"}))
    with pytest.raises(skytells.ServerError):
        driver.run(call(context(), "GET", "/models"))
    assert driver.sleeps == []


def test_the_deadline_stops_retries() -> None:
    driver = Driver().script(unavailable(), unavailable())
    with pytest.raises(skytells.ServerError):
        driver.run(call(context(), "GET", "/models", deadline=1000.0 + 0.9))
    assert driver.sleeps == [0.5]  # the second backoff (1 s) would pass the deadline
    assert all(r.deadline <= 1000.9 for r in driver.requests)


def test_connection_errors_are_retried_but_not_definitive_answers() -> None:
    reset = skytells.APIConnectionError("reset", "NETWORK_ERROR")
    driver = Driver().script(reset, OK)
    assert driver.run(call(context(), "GET", "/models")) == {"ok": True}
    driver = Driver().script(json_reply(404, {"error_id": "MODEL_NOT_FOUND", "message": "no"}))
    with pytest.raises(skytells.NotFoundError):
        driver.run(call(context(), "GET", "/model/x"))
    assert driver.sleeps == []


def test_settle_decides_when_a_retry_fails_for_good() -> None:
    settled: list[str] = []

    def settle(error: skytells.SkytellsError) -> Op[Any]:
        settled.append(error.error_id)
        yield from ()
        return {"settled": True}

    conflict = json_reply(400, {"error_id": "INVALID_REQUEST", "message": "already"})
    driver = Driver().script(unavailable(), conflict)
    assert driver.run(call(context(), "POST", "/x", settle=settle)) == {"settled": True}
    assert settled == ["INVALID_REQUEST"]
    driver = Driver().script(conflict)  # a first attempt's own failure is not settled
    with pytest.raises(skytells.SkytellsError):
        driver.run(call(context(), "POST", "/x", settle=settle))
    assert settled == ["INVALID_REQUEST"]


def test_a_create_sends_the_same_key_and_bytes_on_every_attempt() -> None:
    driver = Driver().script(unavailable(), OK)
    driver.run(call(context(), "POST", "/predict", json_body={"a": "é"}, idempotency_key="k1"))
    first, second = driver.requests
    assert first.body == second.body == '{"a":"é"}'.encode()
    assert first.headers == second.headers
    assert first.headers["idempotency-key"] == "k1"


def test_no_key_and_unserialisable_bodies_fail_before_anything_is_sent() -> None:
    driver = Driver()
    with pytest.raises(skytells.AuthenticationError):
        driver.run(call(context(api_key=None), "GET", "/models"))
    with pytest.raises(skytells.ValidationError):
        driver.run(call(context(), "POST", "/predict", json_body={"x": object()}))
    assert driver.actions == []


def test_the_rate_limit_headers_are_recorded_in_the_clients_state() -> None:
    ctx = context()
    headers = {
        "x-skytells-ratelimit-limit-requests": "10",
        "x-skytells-ratelimit-remaining-requests": "1",
        "x-skytells-ratelimit-window": "60s",
    }
    Driver().script(json_reply(200, {}, headers)).run(call(ctx, "GET", "/models"))
    assert ctx.state.rate_limits.remaining == 1


def test_debug_logging_times_an_attempt_by_the_fake_clock(caplog: Any) -> None:
    class Slow(Driver):
        def perform(self, action: object) -> object:
            if not isinstance(action, Now) and not hasattr(action, "seconds"):
                self.now += 0.25  # each exchange takes 250 ms
            return super().perform(action)

    with caplog.at_level(logging.DEBUG, logger="skytells"):
        Slow().script(OK).run(call(context(), "GET", "/models"))
    assert "GET /models -> 200 in 250.0 ms (attempt 1)" in caplog.text


@pytest.mark.parametrize("bad", ["", " ", ".", "..", None])
def test_bad_path_segments_are_refused(bad: Any) -> None:
    with pytest.raises(skytells.ValidationError):
        segment(bad, "prediction id")


def test_path_segments_are_percent_encoded() -> None:
    assert segment("a/b c&d", "id") == "a%2Fb%20c%26d"


def test_policy_without_retries_gives_up_at_once() -> None:
    driver = Driver().script(unavailable())
    with pytest.raises(skytells.ServerError):
        driver.run(call(context(retry=RetryPolicy(retries=0)), "GET", "/models"))
    assert driver.sleeps == []


def test_a_429s_retry_after_date_is_read_against_the_clients_clock() -> None:
    driver = Driver()
    date = email.utils.formatdate(driver.now + WALL_OFFSET + 4, usegmt=True)
    limited = json_reply(
        429, {"error_id": "RATE_LIMIT_EXCEEDED", "message": "slow"}, {"retry-after": date}
    )
    driver.script(limited)
    with pytest.raises(skytells.RateLimitError) as info:
        driver.run(call(context(retry=RetryPolicy(retries=0)), "GET", "/models"))
    assert info.value.retry_after == pytest.approx(4.0)
