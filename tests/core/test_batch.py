"""`batch`: `wait_many` over a scripted listing, and `run_many`'s bookkeeping, in memory."""

from __future__ import annotations

from typing import Any

import pytest

import skytells
from skytells._core.batch import Lost, RunMany, wait_many

from .driver import Driver, context, json_reply, paths, prediction


def listing(states: dict[str, str], page: int = 1, last: int = 1) -> Any:
    data = [prediction(status, pid) for pid, status in states.items()]
    return json_reply(200, {"data": data, "pagination": {"current_page": page, "last_page": last}})


def test_many_pending_predictions_are_checked_on_the_listing() -> None:
    ids = [f"p{i}" for i in range(10)]
    driver = Driver().script(
        listing({pid: "processing" for pid in ids}),
        listing({pid: "succeeded" for pid in ids}),
    )
    states = driver.run(wait_many(context(), ids))
    assert set(states) == set(ids) and all(s["status"] == "succeeded" for s in states.values())
    assert paths(driver.requests) == ["GET /predictions", "GET /predictions"]  # not 20 lookups
    assert driver.requests[0].params == {"page": "1", "per_page": "50"}
    assert driver.sleeps == [0.25]


def test_what_the_listing_did_not_show_is_fetched_by_id() -> None:
    ids = [f"p{i}" for i in range(8)]
    driver = Driver().script(
        listing({pid: "succeeded" for pid in ids[:7]}),
        json_reply(200, prediction("failed", "p7")),
    )
    states = driver.run(wait_many(context(), ids))
    assert states["p7"]["status"] == "failed"
    assert paths(driver.requests) == ["GET /predictions", "GET /predictions/p7"]


def test_few_predictions_are_fetched_by_id_and_terminal_ones_not_at_all() -> None:
    driver = Driver().script(json_reply(200, prediction("succeeded", "p2")))
    states = driver.run(wait_many(context(), [prediction("succeeded", "p1"), "p2"], emit=True))
    assert paths(driver.requests) == ["GET /predictions/p2"]
    assert [s["id"] for s in driver.emitted] == ["p1", "p2"] and set(states) == {"p1", "p2"}


def test_a_lost_prediction_is_emitted_while_the_others_go_on() -> None:
    gone = json_reply(404, {"error_id": "NOT_FOUND", "message": "gone"})
    driver = Driver().script(gone, json_reply(200, prediction("succeeded", "p2")))
    driver.run(wait_many(context(), ["p1", "p2"], emit=True))
    lost, done = driver.emitted
    assert isinstance(lost, Lost) and lost.prediction_id == "p1"
    assert done["id"] == "p2"


def test_max_wait_ends_the_wait_by_the_fake_clock_with_the_pending_ids() -> None:
    driver = Driver().script(*[json_reply(200, prediction("processing", "p1"))] * 20)
    start = driver.now
    with pytest.raises(skytells.WaitTimeoutError) as info:
        driver.run(wait_many(context(), ["p1"], interval_ms=1000, max_wait_ms=3000))
    assert info.value.details == {"pending": ["p1"]}
    assert driver.now - start == pytest.approx(3.0)


def test_run_many_bookkeeping() -> None:
    many = RunMany([{"model": "a"}, {"model": "b"}])
    error = skytells.ValidationError("bad", "VALIDATION_ERROR")
    failures, created = many.created([error, prediction("pending", "p9")])
    assert [(r.index, r.error) for r in failures] == [(0, error)]
    assert [c["id"] for c in created] == ["p9"]
    result = many.result(prediction("succeeded", "p9", output="x"))
    assert (result.index, result.ok, result.output, result.id) == (1, True, "x", "p9")
    with pytest.raises(skytells.ServerError):
        many.result(prediction("succeeded", "other"))
