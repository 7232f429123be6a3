"""Get, stream, cancel and delete a prediction; unknown ids answer 502 PREDICTION_FAILED."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator

UNKNOWN_IDS = ["00000000-0000-4000-8000-000000000000", "a%20b", "a%26b", "a%2Fb", "..%2F..%2Fx"]


def start(http: httpx.Client, model: str = "truefusion") -> dict[str, Any]:
    response = http.post("/predictions", json={"model": model, "input": {"prompt": "x"}})
    assert response.status_code == 200
    return dict(response.json())


def assert_prediction_failed(response: httpx.Response) -> None:
    assert response.status_code == 502, response.text
    body = response.json()
    assert body["status"] is False
    assert body["error"]["error_id"] == "PREDICTION_FAILED"
    assert body["error"]["message"] == "Error fetching prediction"


def test_get_and_stream_return_the_prediction(
    http: httpx.Client, emu: Emulator, wait_for: Callable[..., dict[str, Any]]
) -> None:
    created = start(http)
    done = wait_for(created["id"])
    assert done["id"] == created["id"] and done["status"] == "succeeded"
    streamed = http.get(f"/predictions/{created['id']}/stream")
    assert streamed.status_code == 200
    assert streamed.json() == http.get(f"/predictions/{created['id']}").json()
    assert streamed.json()["urls"]["stream"] == f"{emu.base_url}/predictions/{created['id']}/stream"


def test_cancel_a_running_prediction(http: httpx.Client, emu: Emulator) -> None:
    emu.configure(time_scale=1.0)
    created = start(http, "mera")
    response = http.post(f"/predictions/{created['id']}/cancel")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled" and body["completed_at"] and body["output"] is None
    assert http.get(f"/predictions/{created['id']}").json()["status"] == "cancelled"


def test_cancel_a_terminal_prediction_is_400_invalid_request(
    http: httpx.Client, wait_for: Callable[..., dict[str, Any]]
) -> None:
    created = start(http)
    wait_for(created["id"])
    response = http.post(f"/predictions/{created['id']}/cancel")
    assert response.status_code == 400  # the spec's table: INVALID_REQUEST is a 400
    error = response.json()["error"]
    assert error["error_id"] == "INVALID_REQUEST" and error["http_status"] == 400
    assert error["message"] == (
        f"Prediction {created['id']} is already succeeded and cannot be cancelled"
    )


@pytest.mark.parametrize("suffix", ["", "/delete"])
def test_delete_then_everything_answers_502(
    http: httpx.Client, wait_for: Callable[..., dict[str, Any]], suffix: str
) -> None:
    created = start(http)
    wait_for(created["id"])
    response = http.delete(f"/predictions/{created['id']}{suffix}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == created["id"] and body["deleted"] is True
    assert body["data_removed"] is True and body["metadata"]["data_available"] is False
    prediction = f"/predictions/{created['id']}"
    assert_prediction_failed(http.get(prediction))
    assert_prediction_failed(http.get(f"{prediction}/stream"))
    assert_prediction_failed(http.post(f"{prediction}/cancel"))
    assert_prediction_failed(http.delete(f"{prediction}{suffix}"))
    assert http.get("/predictions").json()["pagination"]["total"] == 0


def test_delete_a_running_prediction_cancels_it(http: httpx.Client, emu: Emulator) -> None:
    emu.configure(time_scale=1.0)
    created = start(http, "mera")
    body = http.delete(f"/predictions/{created['id']}").json()
    assert body["status"] == "cancelled" and body["deleted"] is True
    assert emu.state()["active"] == 0


@pytest.mark.parametrize("prediction_id", UNKNOWN_IDS)
def test_unknown_ids_are_prediction_failed_everywhere(
    http: httpx.Client, prediction_id: str
) -> None:
    path = f"/predictions/{prediction_id}"
    assert_prediction_failed(http.get(path))
    assert_prediction_failed(http.get(f"{path}/stream"))
    assert_prediction_failed(http.post(f"{path}/cancel"))
    assert_prediction_failed(http.delete(path))
    assert_prediction_failed(http.delete(f"{path}/delete"))


def test_an_encoded_slash_does_not_reach_another_route(http: httpx.Client) -> None:
    created = start(http)
    response = http.delete(f"/predictions/{created['id']}%2Fdelete")
    assert_prediction_failed(response)
    assert http.get(f"/predictions/{created['id']}").status_code == 200
