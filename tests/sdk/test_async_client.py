"""The async client: same surface, native asyncio, clean cancellation (against the emulator)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import skytells
from skytells import AsyncPrediction, AsyncSkytellsClient
from tests.conftest import apoll
from tests.sdk.pool_state import async_pool_is_clean

pytestmark = [pytest.mark.anyio, pytest.mark.both_clients]


async def test_run_predict_wait(aclient: AsyncSkytellsClient) -> None:
    prediction = await aclient.run("flux-pro", input={"prompt": "A cat"})
    assert isinstance(prediction, AsyncPrediction) and prediction.status == "succeeded"
    response = await aclient.predict({"model": "flux-pro", "input": {"prompt": "x"}})
    assert response["status"] == "pending"
    assert (await aclient.wait(response))["status"] == "succeeded"


async def test_async_and_plain_progress_callbacks(aclient: AsyncSkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=0.05)
    seen: list[str] = []

    async def on_progress(p: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        seen.append(p["status"])

    await aclient.run("flux-pro", input={"prompt": "x"}, on_progress=on_progress)
    plain: list[str] = []
    await aclient.run(
        "flux-pro", input={"prompt": "y"}, on_progress=lambda p: plain.append(p["status"])
    )
    assert seen[-1] == "succeeded" and plain[-1] == "succeeded"


async def test_prediction_methods_are_awaitable(aclient: AsyncSkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    bg = await aclient.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    p = AsyncPrediction(aclient, bg)
    assert (await p.refresh()) is p
    await p.cancel()
    assert p.status == "cancelled"
    assert (await p.wait()).status == "cancelled"
    await p.delete()
    with pytest.raises(skytells.NotFoundError):
        await aclient.predictions.get(p.id)


async def test_dispatch_concurrently_in_order(aclient: AsyncSkytellsClient) -> None:
    for i in range(30):
        aclient.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
    aclient.queue({"model": "nope", "input": {}})
    with pytest.raises(skytells.DispatchError) as info:
        await aclient.dispatch(concurrency=10)
    assert [p["input"]["prompt"] for p in info.value.created] == [f"n{i}" for i in range(30)]
    assert aclient.queued == 1


async def test_models_and_listing(aclient: AsyncSkytellsClient) -> None:
    models = await aclient.models.list(fields=["input_schema"])
    assert all("input_schema" in m for m in models)
    assert (await aclient.models.get("mera"))["type"] == "video"
    await aclient.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    page = await aclient.predictions.list()
    assert len(page) == 1
    items = [p async for p in aclient.predictions.iter_all(per_page=1)]
    assert len(items) == 1
    stream = await aclient.stream_prediction(page[0]["id"])
    assert stream["id"] == page[0]["id"]


async def test_cancelling_the_task_stops_waiting_and_frees_the_connection(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=1.0)
    bg = await aclient.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    emu.add_fault("hang", method="GET", path="/v1/predictions/*", count=1)
    task = asyncio.create_task(aclient.wait(bg, {"interval": 50}))
    # The wait's first check is held by the server: the task is cancelled in mid-request.
    await apoll(emu.faults, lambda faults: faults[0]["fired"] == 1)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert async_pool_is_clean(aclient._http)
    # the client is still usable afterwards
    assert (await aclient.predictions.get(bg["id"]))["id"] == bg["id"]


async def test_errors_are_the_same(aclient: AsyncSkytellsClient, emu: Any) -> None:
    emu.fail_next(count=1, message="Failed to generate image.")
    with pytest.raises(skytells.PredictionFailedError, match="Failed to generate image"):
        await aclient.run("flux-pro", input={"prompt": "x"})
    with pytest.raises(skytells.NotFoundError):
        await aclient.models.get("nope")
