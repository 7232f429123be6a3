"""The control API over HTTP (/_emulator/...) and its Python twin on `Emulator`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from skytells.emulator import ApiError, Emulator

Wait = Callable[..., dict[str, Any]]


def create(http: httpx.Client, model: str = "flux-edge") -> dict[str, Any]:
    return dict(http.post("/predict", json={"model": model, "input": {"prompt": "x"}}).json())


def test_config_get_patch_and_reset(control: httpx.Client, emu: Emulator) -> None:
    config = control.get("/_emulator/config").json()
    assert config["time_scale"] == 0.0 and config["rate_limit"] is None
    patched = control.patch(
        "/_emulator/config", json={"time_scale": 0.5, "rate_limit": 10, "await_limit": 2}
    )
    assert patched.status_code == 200
    assert patched.json()["time_scale"] == 0.5 and emu.config.rate_limit == 10
    reset = control.post("/_emulator/reset").json()
    assert reset["ok"] is True and reset["config"]["time_scale"] == 0.0
    assert emu.config.rate_limit is None


@pytest.mark.parametrize(
    "body", [{"time_scale": -1}, {"rate_limit": 0}, {"api_keys": ["x"]}, {"speed": 2}, [1]]
)
def test_bad_config_is_400(control: httpx.Client, body: Any) -> None:
    response = control.patch("/_emulator/config", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["error_id"] in ("INVALID_PARAMETER", "INVALID_REQUEST")


def test_failures_over_http(http: httpx.Client, control: httpx.Client, wait_for: Wait) -> None:
    response = control.post(
        "/_emulator/failures", json={"count": 1, "model": "flux-edge", "message": "Custom."}
    )
    assert response.status_code == 200
    assert response.json()["rule"] == {"remaining": 1, "model": "flux-edge", "message": "Custom."}
    failed = wait_for(create(http)["id"])
    assert failed["status"] == "failed" and failed["error"] == "Custom."
    assert control.get("/_emulator/state").json()["failure_rules"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [({"count": 0}, 400), ({"count": "2"}, 400), ({"model": "nope"}, 404), ({"message": 3}, 400)],
)
def test_bad_failure_rules(control: httpx.Client, body: dict[str, Any], status: int) -> None:
    assert control.post("/_emulator/failures", json=body).status_code == status


def test_fail_a_running_prediction_over_http(
    http: httpx.Client, control: httpx.Client, emu: Emulator
) -> None:
    emu.configure(time_scale=1.0)
    created = create(http, "mera")
    response = control.post(f"/_emulator/predictions/{created['id']}/fail", json={})
    assert response.status_code == 200
    assert response.json()["error"] == "Failed to generate image."
    again = control.post(f"/_emulator/predictions/{created['id']}/fail")
    assert again.status_code == 400 and again.json()["error"]["error_id"] == "INVALID_REQUEST"
    assert control.post("/_emulator/predictions/nope/fail").status_code == 502


def test_state_counts_requests_and_predictions(
    http: httpx.Client, control: httpx.Client, emu: Emulator, wait_for: Wait
) -> None:
    created = create(http)
    wait_for(created["id"])
    http.get("/models/nope")
    state = control.get("/_emulator/state").json()
    assert state["predictions_created"] == 1 and state["errors"] == 1
    assert state["requests"] == sum(state["requests_by_endpoint"].values())
    assert state["requests_by_endpoint"]["create"] == 1
    assert state["requests_by_endpoint"]["model"] == 1
    entry = state["predictions"][0]
    assert entry["id"] == created["id"] and entry["status"] == "succeeded"
    assert entry["events"] > 10 and entry["running"] is False
    assert emu.state()["requests"] == state["requests"]
    listed = control.get("/_emulator/predictions").json()
    assert [p["id"] for p in listed] == [p["id"] for p in emu.predictions()] == [created["id"]]


def test_python_control_methods(http: httpx.Client, emu: Emulator) -> None:
    assert emu.configure(time_scale=0.25).time_scale == 0.25
    with pytest.raises(ValueError):
        emu.configure(time_scale=-1)
    with pytest.raises(ValueError):
        emu.configure(colour="blue")
    emu.fail_next(count=3, model="truefusion")
    assert emu.state()["failure_rules"][0]["remaining"] == 3
    with pytest.raises(ApiError) as raised:
        emu.fail_prediction("nope")
    assert raised.value.error_id == "PREDICTION_FAILED"
    create(http)
    emu.reset()
    assert emu.predictions() == [] and emu.state()["failure_rules"] == []
    assert emu.config.time_scale == 0.0
