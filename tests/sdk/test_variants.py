"""The SDK against the emulator switched to each documented response variant (spec sections 3-4):
a queued envelope from create, a bare-array list, `model` as a string, `{"success": true}` from
cancel and delete, the `canceled` and `queued` spellings. Sync and async, over real sockets."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest

import skytells
from skytells import AsyncSkytellsClient, SkytellsClient
from skytells._enums import normalize_status
from skytells.emulator import Emulator
from skytells.emulator._config import VARIANTS

IMAGE = {"model": "flux-edge", "input": {"prompt": "a lighthouse"}}


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest, emu: Emulator) -> str:
    """The emulator answering in one variant (the usual shapes are tested everywhere else)."""
    name = str(request.param)
    emu.configure(variants=[name])
    return name


def _slow(emu: Emulator) -> None:
    emu.configure(time_scale=1000.0)  # predictions stay pending: there is time to cancel them


@pytest.fixture
def canceller(emu: Emulator) -> Iterator[threading.Thread]:
    """A thread that cancels the first prediction as soon as it exists (over HTTP)."""

    def cancel() -> None:
        with httpx.Client(base_url=emu.base_url, headers={"x-api-key": emu.api_key}) as http:
            for _ in range(2000):
                predictions = emu.predictions()
                if predictions:
                    http.post(f"/predictions/{predictions[0]['id']}/cancel")
                    return
                threading.Event().wait(0.005)

    thread = threading.Thread(target=cancel, daemon=True)
    yield thread
    thread.join(10)


# ── sync ──────────────────────────────────────────────────────────────────────


def test_create_then_wait(client: SkytellsClient, emu: Emulator, variant: str) -> None:
    created = client.predictions.create(IMAGE)
    if variant == "queued_envelope":  # the queued answer: its `status: false` means pending
        assert created["status"] == "pending" and created.get("response") == "Prediction queued."
    result = client.wait(created, {"interval": 10})
    assert result["id"] == created["id"] and result["status"] == "succeeded"
    assert [p["id"] for p in emu.predictions()] == [created["id"]]


def test_run_gives_outputs(client: SkytellsClient, variant: str) -> None:
    prediction = client.run("flux-edge", input={"prompt": "x"})
    assert prediction.status == "succeeded"
    assert prediction.outputs() == prediction.output[0]
    assert isinstance(prediction.outputs(), str) and prediction.outputs().startswith("http")
    model = prediction.raw()["model"]
    assert model == (
        "flux-edge" if variant == "model_string" else {"name": "flux-edge", "type": "image"}
    )


def test_list(client: SkytellsClient, variant: str) -> None:
    ids = [client.predictions.create(IMAGE)["id"] for _ in range(3)]
    page = client.predictions.list(per_page=2)
    assert [p["id"] for p in page] == ids[::-1][:2] and len(page) == 2
    assert page[0]["id"] == ids[-1]  # indexable whatever the shape
    assert [p["id"] for p in client.predictions.list(page=2, per_page=2)] == ids[:1]


def test_cancel_wait_and_delete(client: SkytellsClient, emu: Emulator, variant: str) -> None:
    _slow(emu)
    created = client.predictions.create(IMAGE)
    cancelled = client.cancel_prediction(created["id"])
    assert cancelled["id"] == created["id"]  # a prediction, even when the answer was a flag
    assert normalize_status(cancelled["status"]) == "cancelled"
    assert client.wait(created["id"])["status"] == cancelled["status"]  # it ends at once
    deleted = client.delete_prediction(created["id"])
    assert isinstance(deleted, dict) and emu.predictions() == []


def test_stream_and_progress_end_whatever_the_shape(
    client: SkytellsClient, emu: Emulator, variant: str
) -> None:
    seen: list[str] = []
    done = client.run(
        "flux-edge", input={"prompt": "x"}, on_progress=lambda p: seen.append(p["status"])
    )
    assert done.status == "succeeded" and seen[-1] == "succeeded"
    _slow(emu)
    created = client.predictions.create(IMAGE)
    client.cancel_prediction(created["id"])
    events = list(client.stream(created["id"]))
    assert events[-1].terminal and events[-1].status == "cancelled"  # spelled canonically
    assert [e.status for e in events if e.event == "status"] == ["pending", "cancelled"]


def test_run_of_a_cancelled_prediction_raises(
    client: SkytellsClient, emu: Emulator, variant: str, canceller: threading.Thread
) -> None:
    _slow(emu)
    canceller.start()
    with pytest.raises(skytells.PredictionCancelledError) as info:
        client.run("flux-edge", input={"prompt": "x"})
    assert info.value.prediction_id == emu.predictions()[0]["id"]


def test_file_outputs_are_arrays_and_outputs_unwraps_them(client: SkytellsClient) -> None:
    """The seed's `outputs()` table: `["https://..."]` gives the URL, several stay a list."""
    for model, input in (
        ("mera", {"prompt": "waves", "seconds": "4", "size": "640x360"}),
        ("beatfusion-2.0", {"prompt": "lofi", "lyrics": "la", "duration": 5}),
        ("skytells-tts", {"text": "hello"}),
    ):
        prediction = client.run(model, input=input)
        assert isinstance(prediction.output, list) and len(prediction.output) == 1, model
        assert prediction.outputs() == prediction.output[0]
        (stored,) = prediction.raw()["metadata"]["storage"]["files"]
        assert type(stored["size"]) is int and stored["size"] > 0
    several = client.run("flux-edge", input={"prompt": "x", "num_outputs": 2})
    assert several.outputs() == several.output and len(several.output) == 2


# ── async ─────────────────────────────────────────────────────────────────────


@pytest.mark.anyio
async def test_async_create_wait_list(
    aclient: AsyncSkytellsClient, emu: Emulator, variant: str
) -> None:
    created = await aclient.predictions.create(IMAGE)
    result = await aclient.wait(created, {"interval": 10})
    assert result["id"] == created["id"] and result["status"] == "succeeded"
    again = await aclient.run("flux-edge", input={"prompt": "x"})
    assert again.status == "succeeded" and isinstance(again.outputs(), str)
    page = await aclient.predictions.list()
    assert [p["id"] for p in page] == [again.id, created["id"]]


@pytest.mark.anyio
async def test_async_cancel_and_delete(
    aclient: AsyncSkytellsClient, emu: Emulator, variant: str
) -> None:
    _slow(emu)
    created = await aclient.predictions.create(IMAGE)
    cancelled = await aclient.cancel_prediction(created["id"])
    assert cancelled["id"] == created["id"]
    assert normalize_status(cancelled["status"]) == "cancelled"
    assert (await aclient.wait(created["id"]))["status"] == cancelled["status"]
    await aclient.delete_prediction(created["id"])
    assert emu.predictions() == []


@pytest.mark.anyio
async def test_async_run_of_a_cancelled_prediction_raises(
    aclient: AsyncSkytellsClient, emu: Emulator, variant: str
) -> None:
    _slow(emu)

    async def cancel_when_created() -> None:
        for _ in range(2000):
            predictions = emu.predictions()
            if predictions:
                await aclient.cancel_prediction(predictions[0]["id"])
                return
            await asyncio.sleep(0.005)

    canceller = asyncio.create_task(cancel_when_created())
    with pytest.raises(skytells.PredictionCancelledError) as info:
        await aclient.run("flux-edge", input={"prompt": "x"})
    await canceller
    assert info.value.prediction_id == emu.predictions()[0]["id"]
