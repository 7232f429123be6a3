"""`payloads`: the shapes operations accept (payloads, predictions, ids, options)."""

from __future__ import annotations

import pytest

import skytells
from skytells._core.payloads import (
    expect_prediction,
    payload_dict,
    prediction_dict,
    prediction_id_of,
    run_payload,
    wait_options,
)
from skytells._options import PredictionRequest


def test_payloads_and_predictions_in_every_accepted_shape() -> None:
    assert payload_dict(PredictionRequest(model="m", input={"a": 1}))["model"] == "m"
    with pytest.raises(skytells.ValidationError):
        payload_dict(["not", "a", "dict"])  # type: ignore[arg-type]
    assert prediction_dict("p1") is None and prediction_id_of("p1") == "p1"
    assert prediction_id_of({"id": "p2"}) == "p2"
    with pytest.raises(skytells.ValidationError):
        prediction_id_of({"status": "x"})


def test_run_payload_and_wait_options() -> None:
    assert run_payload("m", {"p": 1}, "https://hook", True, None) == {
        "model": "m",
        "input": {"p": 1},
        "webhook": "https://hook",
        "stream": True,
    }
    assert run_payload("m", None, None, False, {"input": {"q": 2}})["input"] == {"q": 2}
    with pytest.raises(skytells.ValidationError):
        run_payload(" ", None, None, False, None)
    assert wait_options({"interval": 10, "max_wait": 20}) == (10, 20)
    assert wait_options(None) == (None, None)


def test_a_prediction_always_has_an_id_and_a_string_status() -> None:
    """What `PredictionResponse` declares required holds after `expect_prediction`."""
    queued = {"status": False, "id": "p1", "response": "Prediction queued."}
    assert expect_prediction(queued) == {**queued, "status": "pending"}  # what it means
    assert expect_prediction({"id": "p2"}) == {"id": "p2", "status": "unknown"}
    assert expect_prediction({"id": "p3", "status": None})["status"] == "unknown"
    odd = {"id": "p4", "status": "hibernating", "new_field": [1]}
    assert expect_prediction(dict(odd)) == odd  # unknown statuses and fields kept as they came
    for junk in ({"status": "succeeded"}, {"id": ""}, {"id": 5}, ["p1"], "p1"):
        with pytest.raises(skytells.ServerError):
            expect_prediction(junk)
