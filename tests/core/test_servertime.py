"""`servertime`: the server clock's offset, bounded by the ``Date`` of each answer."""

from __future__ import annotations

import email.utils

import pytest

from skytells import NotFoundError
from skytells._core.calls import call
from skytells._core.servertime import MAX_OFFSET, ServerClock, http_date

from .driver import WALL_OFFSET, Driver, context, json_reply


def date(seconds: float) -> dict[str, str]:
    return {"date": email.utils.formatdate(seconds, usegmt=True)}


def test_an_http_date_is_read_and_junk_is_not() -> None:
    assert http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777.0
    for junk in (None, "", "yesterday", "Sun, 99 Nov 1994 08:49:37 GMT", "x" * 500, "0"):
        assert http_date(junk) is None


def test_answers_narrow_the_offset_and_a_stepped_clock_starts_again() -> None:
    clock = ServerClock()
    assert clock.lower() is None and clock.bounds is None
    clock.observe(date(1_000_000.0), sent=1_000_119.8, received=1_000_120.1)  # 2 min ahead
    assert clock.bounds == pytest.approx((-120.1, -118.8))
    clock.observe(date(1_000_010.0), sent=1_000_130.4, received=1_000_130.5)
    assert clock.bounds == pytest.approx((-120.1, -119.4))  # intersected
    clock.observe({"date": "garbage"}, sent=0.0, received=0.0)
    clock.observe({}, sent=0.0, received=0.0)
    assert clock.bounds == pytest.approx((-120.1, -119.4))
    clock.observe(date(1_000_020.0), sent=1_000_020.0, received=1_000_020.2)  # NTP fixed it
    assert clock.bounds == pytest.approx((-0.2, 1.0))


def test_answers_that_bound_nothing_or_say_a_far_date_are_ignored() -> None:
    clock = ServerClock()
    clock.observe(date(1_000_000.0), sent=1_000_000.0, received=1_000_030.0)  # 30 s exchange
    clock.observe(date(1_000_000.0 + 2 * MAX_OFFSET), sent=1_000_000.0, received=1_000_000.1)
    clock.observe(date(1_000.0), sent=1_000_000.0, received=1_000_000.1)
    assert clock.lower() is None


def test_every_answer_of_a_call_is_measured_even_an_error() -> None:
    ctx = context()
    server = 1000.0 + WALL_OFFSET + 300.0  # the server's clock is 5 minutes ahead
    driver = Driver().script(json_reply(404, {"error": {"message": "no"}}, date(server)))
    with pytest.raises(NotFoundError):
        driver.run(call(ctx, "GET", "/predictions/x"))
    bounds = ctx.state.server_clock.bounds
    assert bounds is not None and bounds[0] <= 300.0 < bounds[1]
