"""`predictions`: the prediction endpoints' requests and answers, in memory."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import skytells
from skytells._core.predictions import (
    cancel_prediction,
    create_prediction,
    delete_prediction,
    get_prediction,
    held_create_ms,
    list_predictions,
    stream_prediction,
)

from .driver import Driver, context, json_reply, paths, prediction


def test_create_runs_in_the_background_with_a_fresh_key() -> None:
    driver = Driver().script(json_reply(201, prediction("pending")))
    with pytest.warns(UserWarning, match="ignores 'await'"):
        op = create_prediction(context(), {"model": "m", "await": True}, background=True)
    assert driver.run(op)["id"] == "p1"
    (request,) = driver.requests
    assert json.loads(request.body or b"") == {"model": "m", "await": False}
    assert len(request.headers["idempotency-key"]) == 36


def test_a_held_create_gets_the_timeout_plus_the_hold() -> None:
    ctx = context(timeout_ms=2000, await_hold_ms=50_000)
    assert held_create_ms(ctx) == 52_000
    driver = Driver().script(json_reply(200, prediction("succeeded")))
    driver.run(create_prediction(ctx, {"model": "m", "await": True}, background=False))
    assert driver.requests[0].deadline == pytest.approx(driver.now + 52.0)


def test_get_and_stream_encode_the_id() -> None:
    driver = Driver().script(
        json_reply(200, prediction("pending", "a/b")), json_reply(200, prediction("x"))
    )
    driver.run(get_prediction(context(), "a/b"))
    driver.run(stream_prediction(context(), "p1"))
    assert paths(driver.requests) == ["GET /predictions/a%2Fb", "GET /predictions/p1/stream"]


def test_an_answer_that_is_no_prediction_is_a_server_error() -> None:
    driver = Driver().script(json_reply(200, {"nope": 1}))
    with pytest.raises(skytells.ServerError, match="prediction object"):
        driver.run(get_prediction(context(), "p1"))


def test_list_sends_the_filters_as_the_api_names_them() -> None:
    page = {"data": [prediction("succeeded")], "pagination": {"current_page": 1, "last_page": 1}}
    driver = Driver().script(json_reply(200, page))
    result = driver.run(
        list_predictions(
            context(), page=2, since=dt.date(2026, 1, 2), until="2026-02-01", status="canceled"
        )
    )
    assert result.data[0]["id"] == "p1"
    assert dict(driver.requests[0].params or {}) == {
        "page": "2",
        "from": "2026-01-02",
        "to": "2026-02-01",
        "status": "cancelled",
    }
    with pytest.raises(skytells.ValidationError):
        driver.run(list_predictions(context(), page=True))  # type: ignore[arg-type]


def test_a_cancel_whose_answer_was_lost_settles_on_the_cancelled_prediction() -> None:
    driver = Driver().script(
        json_reply(503, {"error_id": "SERVICE_UNAVAILABLE", "message": "busy"}),
        json_reply(409, {"error_id": "INVALID_REQUEST", "message": "already cancelled"}),
        json_reply(200, prediction("cancelled")),
    )
    assert driver.run(cancel_prediction(context(), "p1"))["status"] == "cancelled"
    assert paths(driver.requests)[-1] == "GET /predictions/p1"


def test_a_cancel_answered_with_success_only_fetches_the_prediction() -> None:
    driver = Driver().script(
        json_reply(200, {"success": True}), json_reply(200, prediction("cancelled"))
    )
    assert driver.run(cancel_prediction(context(), "p1"))["status"] == "cancelled"


def test_a_delete_retried_into_not_found_succeeds() -> None:
    driver = Driver().script(
        skytells.APIConnectionError("reset", "NETWORK_ERROR"),
        json_reply(404, {"error_id": "NOT_FOUND", "message": "gone"}),
    )
    assert driver.run(delete_prediction(context(), "p1")) == {"id": "p1", "deleted": True}
    assert paths(driver.requests) == ["DELETE /predictions/p1/delete"] * 2
