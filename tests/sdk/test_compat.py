"""Code written for the official `skytells` 1.0.0 package keeps working."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import skytells
from skytells import SkytellsClient

OFFICIAL_NAMES = [
    "Skytells",
    "create_client",
    "SkytellsClient",
    "AsyncSkytellsClient",
    "PredictionsAPI",
    "ModelsAPI",
    "Prediction",
    "AsyncPrediction",
    "SkytellsError",
    "API_BASE_URL",
    "ApiErrorId",
    "ModelPrivacy",
    "ModelType",
    "PredictionSource",
    "PredictionStatus",
    "PredictionType",
    "PricingOperator",
    "PricingUnit",
    "ClientOptions",
    "ModelFieldsOptions",
    "OnProgressCallback",
    "PaginatedResponse",
    "Pagination",
    "PredictionRequest",
    "PredictionsListOptions",
    "QueueItem",
    "RetryOptions",
    "RunOptions",
    "WaitOptions",
    "__version__",
]


@pytest.mark.parametrize("name", OFFICIAL_NAMES)
def test_official_names_are_importable(name: str) -> None:
    assert hasattr(skytells, name)
    assert name in skytells.__all__


def test_official_error_signature() -> None:
    error = skytells.SkytellsError("msg", "UNAUTHORIZED", "details", 401)
    assert (str(error), error.error_id, error.details, error.http_status) == (
        "msg",
        "UNAUTHORIZED",
        "details",
        401,
    )
    assert skytells.ApiErrorId.UNAUTHORIZED == "UNAUTHORIZED"
    assert skytells.PredictionStatus.SUCCEEDED == "succeeded"


def test_official_option_objects_are_accepted(client: SkytellsClient, emu: Any) -> None:
    prediction = client.run("flux-pro", options=skytells.RunOptions(input={"prompt": "x"}))
    assert prediction.status == "succeeded"
    bg = client.predictions.create(skytells.PredictionRequest("flux-pro", {"prompt": "y"}))
    done = client.wait(bg, skytells.WaitOptions(interval=100, max_wait=30_000))
    assert done["status"] == "succeeded"
    page = client.predictions.list(options=skytells.PredictionsListOptions(model="flux-pro"))
    assert len(page) == 2
    model = client.models.get("flux-pro", options=skytells.ModelFieldsOptions(["input_schema"]))
    assert "input_schema" in model
    client.queue(skytells.PredictionRequest("flux-pro", {"prompt": "z"}))
    assert len(client.dispatch()) == 1


def test_deprecated_aliases_warn_and_work(client: SkytellsClient) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = client.list_models()
        model = client.get_model("mera")
        page = client.list_predictions()
    assert models and model["namespace"] == "mera" and len(page) == 0
    assert len([w for w in caught if issubclass(w.category, DeprecationWarning)]) == 3


def test_typed_dicts_are_plain_dicts_at_run_time(client: SkytellsClient) -> None:
    prediction = client.run("flux-pro", input={"prompt": "x"})
    assert type(prediction.response) is dict
    assert type(client.models.list()[0]) is dict
