"""Every error-body variant of the spec maps to a meaningful `SkytellsError` (scripted server)."""

from __future__ import annotations

import pytest

import skytells
from skytells import SkytellsClient
from tests.scripted_server import Reply, ScriptedServer, prediction


def envelope(status: int, error_id: str, message: str = "nope", details: object = None) -> Reply:
    return Reply(
        status,
        {
            "status": False,
            "response": message,
            "error": {
                "http_status": status,
                "message": message,
                "details": details,
                "error_id": error_id,
            },
        },
        headers={"x-request-id": "req_42"},
    )


@pytest.mark.parametrize(
    ("status", "error_id", "cls"),
    [
        (401, "UNAUTHORIZED", skytells.AuthenticationError),
        (401, "ACCOUNT_SUSPENDED", skytells.AuthenticationError),
        (403, "ACCOUNT_SUSPENDED", skytells.AuthenticationError),
        (403, "FORBIDDEN", skytells.PermissionDeniedError),
        (403, "SECURITY_VIOLATION", skytells.PermissionDeniedError),
        (400, "INVALID_PARAMETER", skytells.ValidationError),
        (400, "INVALID_DATE_FORMAT", skytells.ValidationError),
        (400, "INVALID_DATE_RANGE", skytells.ValidationError),
        (400, "INVALID_PARAMETER_COMBINATION", skytells.ValidationError),
        (400, "INVALID_REQUEST", skytells.ValidationError),
        (402, "PAYMENT_REQUIRED", skytells.PaymentRequiredError),
        (402, "INSUFFICIENT_CREDITS", skytells.PaymentRequiredError),
        (404, "MODEL_NOT_FOUND", skytells.NotFoundError),
        (404, "ENDPOINT_NOT_FOUND", skytells.NotFoundError),
        (422, "VALIDATION_ERROR", skytells.ValidationError),
        (422, "INVALID_INPUT", skytells.ValidationError),
        (451, "CONTENT_POLICY_VIOLATION", skytells.ContentPolicyError),
        (429, "RATE_LIMIT_EXCEEDED", skytells.RateLimitError),
        (500, "INTERNAL_ERROR", skytells.ServerError),
        (500, "INFERENCE_ERROR", skytells.ServerError),
        (500, "INFRASTRUCTURE_ERROR", skytells.ServerError),
        (502, "PREDICTION_FAILED", skytells.NotFoundError),
        (503, "SERVICE_UNAVAILABLE", skytells.ServerError),
        (504, "INFERENCE_TIMEOUT", skytells.ServerError),
    ],
)
def test_error_envelope_maps_to_class_and_fields(
    scripted: ScriptedServer,
    scripted_client: SkytellsClient,
    status: int,
    error_id: str,
    cls: type[skytells.SkytellsError],
) -> None:
    scripted.script(envelope(status, error_id, "Something is off", {"field": "x"}))
    with pytest.raises(cls) as info:
        scripted_client.with_options(max_retries=0).predictions.get("pred_1")
    error = info.value
    assert isinstance(error, skytells.SkytellsError)
    assert error.error_id == error_id
    assert error.http_status == status
    assert error.details == {"field": "x"}
    assert error.message == "Something is off"
    assert error.request_id == "req_42"
    assert error.body["error"]["error_id"] == error_id


def test_status_false_with_response_only(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(400, {"status": False, "response": "Bad page number"}))
    with pytest.raises(skytells.ValidationError) as info:
        scripted_client.predictions.list(page=1)
    assert info.value.message == "Bad page number"
    assert info.value.error_id == "INVALID_REQUEST"
    assert info.value.http_status == 400


def test_flat_error_body(scripted: ScriptedServer, scripted_client: SkytellsClient) -> None:
    scripted.script(Reply(404, {"error_id": "MODEL_NOT_FOUND", "message": "No such model"}))
    with pytest.raises(skytells.NotFoundError) as info:
        scripted_client.models.get("nope")
    assert (info.value.error_id, info.value.message) == ("MODEL_NOT_FOUND", "No such model")


def test_gateway_html_is_server_error_with_body_start(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    html = "<html><body>502 Bad Gateway" + "x" * 2000 + "</body></html>"
    scripted.script(Reply(502, html, content_type="text/html"))
    with pytest.raises(skytells.ServerError) as info:
        scripted_client.with_options(max_retries=0).predictions.get("pred_1")
    assert info.value.error_id == "SERVER_ERROR"
    assert info.value.http_status == 502
    assert "502 Bad Gateway" in info.value.details
    assert len(info.value.details) < 700


def test_non_json_success_is_server_error(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, "OK", content_type="text/plain"))
    with pytest.raises(skytells.ServerError) as info:
        scripted_client.predictions.get("pred_1")
    assert info.value.error_id == "SERVER_ERROR"
    assert "OK" in info.value.details


def test_truncated_json_is_invalid_json(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, b'{"id": "pred_1", "stat'))
    with pytest.raises(skytells.SkytellsError) as info:
        scripted_client.predictions.get("pred_1")
    assert info.value.error_id == "INVALID_JSON"
    assert '{"id": "pred_1"' in info.value.details


def test_status_false_with_id_is_a_queued_prediction(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, {"status": False, "id": "pred_q", "response": "Queued"}))
    assert scripted_client.predict({"model": "flux-pro", "input": {}})["id"] == "pred_q"


def test_status_false_without_id_is_an_error(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, {"status": False, "response": "Insufficient credits"}))
    with pytest.raises(skytells.SkytellsError) as info:
        scripted_client.predict({"model": "flux-pro", "input": {}})
    assert info.value.message == "Insufficient credits"
    assert info.value.error_id == "API_ERROR"


def test_unexpected_shape_is_a_clear_error(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, ["not", "a", "prediction"]))
    with pytest.raises(skytells.ServerError, match="expected a prediction"):
        scripted_client.predictions.get("pred_1")


def test_unknown_fields_and_statuses_never_break_parsing(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(
        Reply(200, prediction("warming_up", model="flux-pro", brand_new_field={"x": 1})),
        Reply(200, prediction("succeeded", output=["https://cdn/x.png"], model="flux-pro")),
    )
    result = scripted_client.wait({"id": "pred_abc123", "status": "warming_up"}, {"interval": 10})
    assert result["status"] == "succeeded"
    assert len(scripted.requests) == 2  # the unknown status was not treated as terminal


def test_cancel_answered_with_success_flag_returns_the_prediction(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, {"success": True}), Reply(200, prediction("cancelled")))
    result = scripted_client.cancel_prediction("pred_abc123")
    assert result["status"] == "cancelled"
    assert [r.method for r in scripted.requests] == ["POST", "GET"]


def test_wait_ends_on_the_canceled_spelling(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, prediction("canceled")))
    assert scripted_client.wait("pred_abc123")["status"] == "canceled"
    assert len(scripted.requests) == 1


def test_run_raises_cancelled_for_the_canceled_spelling(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, prediction("canceled")))
    with pytest.raises(skytells.PredictionCancelledError) as info:
        scripted_client.run("flux-pro", input={"prompt": "x"})
    assert info.value.error_id == "PREDICTION_CANCELLED"
    assert info.value.prediction_id == "pred_abc123"


def test_model_as_bare_string_is_accepted(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(
        Reply(200, prediction("succeeded", model="flux-pro", output="https://cdn/x.png"))
    )
    assert scripted_client.run("flux-pro", input={}).outputs() == "https://cdn/x.png"


def test_bare_array_prediction_list(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, [prediction("succeeded"), prediction("failed", id="pred_2")]))
    page = scripted_client.predictions.list()
    assert [p["id"] for p in page] == ["pred_abc123", "pred_2"]
    assert page.pagination.total == 2
