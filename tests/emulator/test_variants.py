"""Every documented response variant, on demand: the constructor, the control API and `configure`
switch the emulator to it, and every answer is validated against the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator
from skytells.emulator._config import VARIANTS
from tests.openapi_hook import response_validator_hooks

Wait = Callable[..., dict[str, Any]]
IMAGE = {"model": "truefusion", "input": {"prompt": "x"}}


def _slow(emu: Emulator, *variants: str) -> None:
    """The variants, with predictions that stay pending long enough to be cancelled."""
    emu.configure(variants=list(variants), time_scale=1000.0)


def test_the_default_is_the_usual_shape(http: httpx.Client, emu: Emulator) -> None:
    assert emu.config.variants == ()
    created = http.post("/predict", json=IMAGE).json()
    assert created["status"] == "pending" and created["model"] == {
        "name": "truefusion",
        "type": "image",
    }
    assert set(http.get("/predictions").json()) == {"data", "pagination"}


def test_queued_envelope(http: httpx.Client, emu: Emulator, wait_for: Wait) -> None:
    emu.configure(variants=["queued_envelope"])
    created = http.post("/predict", json=IMAGE)
    assert created.status_code == 200  # a 2xx with status false and an id: queued, not an error
    body = created.json()
    assert body["status"] is False and body["id"] and isinstance(body["response"], str)
    assert "error" not in body
    assert wait_for(body["id"])["status"] == "succeeded"  # the prediction exists
    held = http.post("/predict", json={**IMAGE, "await": True}).json()
    assert held["status"] == "succeeded"  # a create held to the end answers the prediction


def test_bare_list(http: httpx.Client, emu: Emulator) -> None:
    emu.configure(variants=["bare_list"])
    ids = [http.post("/predict", json=IMAGE).json()["id"] for _ in range(3)]
    listed = http.get("/predictions", params={"per_page": 2}).json()
    assert isinstance(listed, list) and [p["id"] for p in listed] == ids[::-1][:2]
    assert [
        p["id"] for p in http.get("/predictions", params={"page": 2, "per_page": 2}).json()
    ] == [ids[0]]


def test_model_string(http: httpx.Client, emu: Emulator) -> None:
    emu.configure(variants=["model_string"])
    created = http.post("/predict", json=IMAGE).json()
    assert created["model"] == "truefusion"
    assert http.get(f"/predictions/{created['id']}").json()["model"] == "truefusion"
    assert http.get("/predictions").json()["data"][0]["model"] == "truefusion"


def test_success_flag_from_cancel_and_delete(http: httpx.Client, emu: Emulator) -> None:
    _slow(emu, "success_flag")
    first, second = (http.post("/predict", json=IMAGE).json() for _ in range(2))
    cancelled = http.post(f"/predictions/{first['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json() == {"success": True}
    assert http.get(f"/predictions/{first['id']}").json()["status"] == "cancelled"
    for path in (f"/predictions/{first['id']}/delete", f"/predictions/{second['id']}"):
        deleted = http.delete(path)
        assert deleted.status_code == 200 and deleted.json() == {"success": True}
    assert http.get("/predictions").json()["pagination"]["total"] == 0


def test_canceled_and_queued_spellings(http: httpx.Client, emu: Emulator) -> None:
    _slow(emu, "canceled", "queued")
    created = http.post("/predict", json=IMAGE).json()
    assert created["status"] == "queued"
    assert http.get("/predictions", params={"status": "queued"}).json()["pagination"]["total"] == 1
    cancelled = http.post(f"/predictions/{created['id']}/cancel").json()
    assert cancelled["status"] == "canceled"
    assert http.get(f"/predictions/{created['id']}").json()["status"] == "canceled"
    for spelling in ("canceled", "cancelled"):  # the filter takes either spelling
        listed = http.get("/predictions", params={"status": spelling}).json()
        assert [p["status"] for p in listed["data"]] == ["canceled"]


def test_a_client_that_only_knows_canceled_ends(http: httpx.Client, emu: Emulator) -> None:
    """The official CLI's loop: poll until the status is `succeeded`, `failed` or `canceled`.

    With the usual spelling it never sees `canceled` and polls until its timeout; with the
    `canceled` variant it ends on its first poll after the cancel.
    """
    emu.configure(time_scale=1000.0)
    usual = http.post("/predict", json=IMAGE).json()
    http.post(f"/predictions/{usual['id']}/cancel")
    assert http.get(f"/predictions/{usual['id']}").json()["status"] not in (
        "succeeded",
        "failed",
        "canceled",
    )  # what keeps that loop going
    _slow(emu, "canceled")
    created = http.post("/predict", json=IMAGE).json()
    http.post(f"/predictions/{created['id']}/cancel")
    polls = 0
    status = created["status"]
    while status not in ("succeeded", "failed", "canceled"):
        assert polls < 50, f"still {status!r} after {polls} polls"
        status = http.get(f"/predictions/{created['id']}").json()["status"]
        polls += 1
    assert status == "canceled" and polls == 1


def test_variants_by_constructor_and_by_control_api(anon: httpx.Client, emu: Emulator) -> None:
    with (
        Emulator(time_scale=0, variants=["model_string", "bare_list"]) as own,
        httpx.Client(
            base_url=own.base_url,
            headers={"x-api-key": own.api_key},
            event_hooks=response_validator_hooks(),
        ) as client,
    ):
        created = client.post("/predict", json=IMAGE).json()
        assert created["model"] == "truefusion" and isinstance(
            client.get("/predictions").json(), list
        )
        own.reset()  # the constructor's variants are the initial settings: reset keeps them
        assert own.config.variants == ("bare_list", "model_string")
    headers = {"x-api-key": emu.api_key}
    patched = anon.patch("/_emulator/config", json={"variants": list(VARIANTS)}, headers=headers)
    assert patched.status_code == 200 and sorted(patched.json()["variants"]) == sorted(VARIANTS)
    assert anon.get("/_emulator/config", headers=headers).json()["variants"] == sorted(VARIANTS)
    assert anon.post("/_emulator/reset", headers=headers).json()["config"]["variants"] == []


@pytest.mark.parametrize("variants", [["nope"], "canceled", [1], {"canceled": True}])
def test_bad_variants_are_refused(anon: httpx.Client, emu: Emulator, variants: Any) -> None:
    refused = anon.patch(
        "/_emulator/config", json={"variants": variants}, headers={"x-api-key": emu.api_key}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["error_id"] == "INVALID_PARAMETER"
    with pytest.raises(ValueError, match="unknown variant"):
        Emulator(variants=["cancelled"])
