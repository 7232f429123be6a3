"""`protocol`: the actions and the clock helper every operation uses."""

from __future__ import annotations

from skytells import SkytellsError, ValidationError
from skytells._core.protocol import (
    FILE_ACTIONS,
    LOCAL_ACTIONS,
    STREAM_ACTIONS,
    HttpRequest,
    Instant,
    Now,
    failed_op,
    now,
)


def test_now_asks_the_driver_and_returns_the_monotonic_time() -> None:
    op = now()
    assert op.send(None) == Now()
    try:
        op.send(Instant(12.5, 1_800_000_000.0))
    except StopIteration as stop:
        assert stop.value == 12.5
    else:  # pragma: no cover
        raise AssertionError("now() asked twice")


def test_the_action_families_do_not_overlap() -> None:
    assert Now in LOCAL_ACTIONS and set(FILE_ACTIONS) <= set(LOCAL_ACTIONS)
    assert not set(LOCAL_ACTIONS) & set(STREAM_ACTIONS)
    assert HttpRequest("GET", "/x").deadline == float("inf")


def test_a_failed_operation_of_a_batch_is_a_skytells_error_with_its_cause() -> None:
    original = LookupError("broken")
    wrapped = failed_op(original)
    assert isinstance(wrapped, SkytellsError) and wrapped.error_id == "UNKNOWN_ERROR"
    assert wrapped.__cause__ is original and "LookupError: broken" in wrapped.message
    already = ValidationError("bad", "INVALID_INPUT")
    assert failed_op(already) is already
