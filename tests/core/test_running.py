"""`running`: run a model (held create, then wait), outcomes and interrupts, in memory."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import skytells
from skytells._core.protocol import HttpRequest
from skytells._core.running import check_outcome, held_create, is_interrupt, run_prediction

from .driver import Driver, context, json_reply, paths, prediction

PAYLOAD = {"model": "m", "input": {"prompt": "x"}}


def test_a_held_create_deadline_is_the_timeout_plus_the_hold() -> None:
    driver = Driver().script(json_reply(200, prediction("succeeded")))
    ctx = context(timeout_ms=2000, await_hold_ms=3000)
    driver.run(held_create(ctx, {**PAYLOAD, "await": True}, "key-1"))
    (request,) = driver.requests
    assert request.deadline == pytest.approx(1000.0 + 5.0)
    assert request.headers["idempotency-key"] == "key-1"


def test_a_create_still_in_progress_is_asked_again_until_the_budget_ends() -> None:
    busy = json_reply(
        409,
        {"error_id": "IDEMPOTENCY_REQUEST_IN_PROGRESS", "message": "in progress"},
        {"retry-after": "2"},
    )
    driver = Driver().script(*[busy] * 10)
    ctx = context(timeout_ms=2000, await_hold_ms=3000)
    with pytest.raises(skytells.CreateOutcomeUnknownError) as info:
        driver.run(held_create(ctx, {**PAYLOAD, "await": True}, "key-1"))
    assert info.value.idempotency_key == "key-1"
    assert driver.sleeps == [2.0, 2.0]  # a third pause would pass the 5 s budget
    assert {r.headers["idempotency-key"] for r in driver.requests} == {"key-1"}


def test_run_waits_when_the_server_answers_early_and_reports_failure() -> None:
    driver = Driver().script(
        json_reply(200, prediction("processing")),
        json_reply(200, prediction("failed", error="boom")),
    )
    with pytest.raises(skytells.PredictionFailedError, match="boom"):
        driver.run(run_prediction(context(), PAYLOAD))
    assert paths(driver.requests) == ["POST /predict", "GET /predictions/p1"]


def test_check_outcome() -> None:
    assert check_outcome(prediction("succeeded"))["status"] == "succeeded"
    with pytest.raises(skytells.PredictionCancelledError):
        check_outcome(prediction("canceled"))


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), asyncio.CancelledError()])
def test_an_interrupted_run_says_how_to_recover(interrupt: BaseException) -> None:
    class Interrupting(Driver):
        def perform(self, action: Any) -> Any:
            if isinstance(action, HttpRequest) and action.method == "GET":
                raise interrupt  # type: ignore[misc]
            return super().perform(action)

    driver = Interrupting().script(json_reply(200, prediction("processing")))
    op = run_prediction(context(), PAYLOAD, on_progress=lambda _: None, idempotency_key="k9")
    value: Any = None
    error: BaseException | None = None
    with pytest.raises(type(interrupt)):
        while True:  # the driver helper throws only `Exception`s: drive by hand
            action = op.send(value) if error is None else op.throw(error)
            value, error = None, None
            try:
                value = driver.perform(action)
            except BaseException as exc:
                error = exc
    assert getattr(interrupt, "skytells_prediction_id", None) == "p1"


def test_what_counts_as_an_interrupt() -> None:
    assert is_interrupt(KeyboardInterrupt()) and is_interrupt(asyncio.CancelledError())
    assert not is_interrupt(ValueError()) and not is_interrupt(GeneratorExit())
    assert not is_interrupt(SystemExit())
