"""`client.models.list(type=...)` and `client.predictions.cancel()` / `.delete()` on the
resources, sync and async, against the emulator (with its default client and one built on an
``http_client`` of the test's)."""

from __future__ import annotations

from typing import Any

import pytest

from skytells import (
    AsyncSkytellsClient,
    ModelType,
    NotFoundError,
    SkytellsClient,
    ValidationError,
)

pytestmark = pytest.mark.both_clients

IMAGE = {"model": "flux-edge", "input": {"prompt": "a lighthouse"}}
IMAGE_MODELS = {
    "truefusion",
    "truefusion-pro",
    "truefusion-edge",
    "truefusion-ultra",
    "flux-pro",
    "flux-edge",
    "FLUX.2-pro",
}


def _slow(emu: Any) -> None:
    emu.configure(time_scale=1000.0)  # predictions stay pending: there is time to cancel them


# ── models.list(type=...) ───────────────────────────────────────────────────


def test_models_of_one_type(client: SkytellsClient) -> None:
    everything = client.models.list()
    assert [m["namespace"] for m in client.models.list(type="video")] == ["mera"]
    assert {m["namespace"] for m in client.models.list(type=ModelType.IMAGE)} == IMAGE_MODELS
    assert client.models.list(type="Music") == client.models.list(type="music") != []
    assert client.models.list(type="hologram") == []  # a type no model has: nothing, no error
    assert client.models.list(type=None) == everything
    # with the schemas asked for, filtered the same
    with_schemas = client.models.list(["input_schema"], type="audio")
    assert [m["namespace"] for m in with_schemas] == ["skytells-tts"]
    assert "properties" in (with_schemas[0].get("input_schema") or {})


@pytest.mark.parametrize("bad", [3, "", "  ", ["video"]])
def test_a_bad_model_type_is_refused_before_any_request(
    client: SkytellsClient, emu: Any, bad: Any
) -> None:
    before = emu.state()["requests"]
    with pytest.raises(ValidationError) as info:
        client.models.list(type=bad)
    assert info.value.error_id == "INVALID_PARAMETER" and "model type" in str(info.value)
    assert emu.state()["requests"] == before


@pytest.mark.anyio
async def test_async_models_of_one_type(aclient: AsyncSkytellsClient) -> None:
    assert [m["namespace"] for m in await aclient.models.list(type="video")] == ["mera"]
    images = await aclient.models.list(type=ModelType.IMAGE)
    assert {m["namespace"] for m in images} == IMAGE_MODELS
    with pytest.raises(ValidationError):
        await aclient.models.list(type=7)  # type: ignore[arg-type]


# ── predictions.cancel() and predictions.delete() ─────────────────────────────


def test_cancel_and_delete_on_the_resource(client: SkytellsClient, emu: Any) -> None:
    _slow(emu)
    created = client.predictions.create(IMAGE)
    cancelled = client.predictions.cancel(created["id"])
    assert cancelled["id"] == created["id"] and cancelled["status"] == "cancelled"
    assert emu.predictions()[0]["status"] == "cancelled"
    deleted = client.predictions.delete(created["id"])
    assert deleted.get("deleted") is True and emu.predictions() == []
    with pytest.raises(NotFoundError):
        client.predictions.get(created["id"])


def test_cancel_of_a_prediction_that_ended_raises_the_apis_error(client: SkytellsClient) -> None:
    done = client.run("flux-edge", input={"prompt": "x"})
    with pytest.raises(ValidationError) as info:
        client.predictions.cancel(done.id)
    assert info.value.http_status in (400, 409)
    with pytest.raises(NotFoundError):
        client.predictions.delete("no-such-prediction")


def test_the_client_level_names_stay(client: SkytellsClient, emu: Any) -> None:
    _slow(emu)
    created = client.predictions.create(IMAGE)
    assert client.cancel_prediction(created["id"])["status"] == "cancelled"
    assert client.delete_prediction(created["id"]).get("deleted") is True


@pytest.mark.anyio
async def test_async_cancel_and_delete_on_the_resource(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    _slow(emu)
    created = await aclient.predictions.create(IMAGE)
    cancelled = await aclient.predictions.cancel(created["id"])
    assert cancelled["id"] == created["id"] and cancelled["status"] == "cancelled"
    deleted = await aclient.predictions.delete(created["id"])
    assert deleted.get("deleted") is True and emu.predictions() == []
    with pytest.raises(NotFoundError):
        await aclient.predictions.delete(created["id"])
