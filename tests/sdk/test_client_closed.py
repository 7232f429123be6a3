"""A closed client: every request after ``close()``/``aclose()`` (of the client, of the clients
`with_options` made from it, of its predictions and output files) raises `SkytellsError`
``CLIENT_CLOSED`` and sends nothing; an async client used in another event loop is not closed;
a user's ``http_client`` closed under the client says so; and what the default client made
before `set_default_client` replaced it points at the current one. Against the emulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import skytells
from skytells import AsyncSkytellsClient, SkytellsClient, SkytellsError

IMAGE = {"prompt": "a lighthouse"}


def assert_closed(call: Callable[[], Any], *, says: str = "close()") -> None:
    with pytest.raises(SkytellsError) as info:
        call()
    assert info.value.error_id == "CLIENT_CLOSED", info.value
    assert says in str(info.value)


def test_every_use_of_a_closed_client_is_client_closed(emu: Any, tmp_path: Path) -> None:
    client = SkytellsClient(emu.api_key, base_url=emu.base_url)
    derived = client.with_options(max_retries=0)
    prediction = client.run("flux-edge", input=IMAGE)
    (file,) = prediction.files()
    client.close()
    sent = emu.state()["requests"]
    for call in [
        lambda: client.predictions.get(prediction.id),
        lambda: client.predictions.list(),
        lambda: client.models.list(),
        lambda: client.run("flux-edge", input=IMAGE),
        lambda: client.wait(prediction.id),
        lambda: derived.models.get("flux-edge"),  # its pool is the closed one
        prediction.refresh,
        prediction.cancel,
        lambda: prediction.save(tmp_path),
        file.read,
        lambda: list(file.iter_bytes()),
        file.open,
        lambda: file.save(tmp_path),
    ]:
        assert_closed(call, says="prediction.bind(client)")
    client.close()  # closing again is fine
    assert emu.state()["requests"] == sent and list(tmp_path.iterdir()) == []
    assert len(emu.predictions()) == 1
    with SkytellsClient(emu.api_key, base_url=emu.base_url) as fresh:
        assert prediction.bind(fresh).refresh().status == "succeeded"
        assert prediction.files()[0].read()  # its files come from the new client


@pytest.mark.anyio
async def test_every_use_of_a_closed_async_client_is_client_closed(emu: Any) -> None:
    client = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url)
    derived = client.with_options(max_retries=0)
    prediction = await client.run("flux-edge", input=IMAGE)
    (file,) = prediction.files()
    await client.aclose()
    sent = emu.state()["requests"]

    async def chunks() -> None:
        async for _chunk in file.aiter_bytes():
            pass

    async def opened() -> None:
        async with file.open():
            pass

    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: client.predictions.get(prediction.id),
        lambda: client.models.list(),
        lambda: client.run("flux-edge", input=IMAGE),
        lambda: derived.models.get("flux-edge"),
        prediction.refresh,
        file.read,
        chunks,
        opened,
    ]
    for call in calls:
        with pytest.raises(SkytellsError) as info:
            await call()
        assert info.value.error_id == "CLIENT_CLOSED" and "aclose()" in str(info.value)
    assert emu.state()["requests"] == sent  # never a new session behind the caller's back
    assert len(emu.predictions()) == 1


def test_an_async_client_in_another_event_loop_is_not_closed(emu: Any) -> None:
    client = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url)
    first = asyncio.run(client.run("flux-edge", input=IMAGE))  # its session ends with the loop
    second = asyncio.run(client.predictions.get(first.id))  # a new loop: a new session
    assert second["status"] == "succeeded"
    asyncio.run(client.aclose())
    with pytest.raises(SkytellsError) as info:
        asyncio.run(client.predictions.get(first.id))
    assert info.value.error_id == "CLIENT_CLOSED"


def test_your_closed_http_client_is_named(emu: Any) -> None:
    http = httpx.Client()
    client = SkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http)
    assert client.models.list()
    http.close()
    assert_closed(client.models.list, says="the http_client you gave")

    async def main() -> None:
        ahttp = httpx.AsyncClient()
        aclient = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, http_client=ahttp)
        assert await aclient.models.list()
        await ahttp.aclose()
        with pytest.raises(SkytellsError) as info:
            await aclient.models.list()
        assert info.value.error_id == "CLIENT_CLOSED" and "http_client you gave" in str(info.value)

    asyncio.run(main())


def test_what_the_replaced_default_client_made_points_at_the_current_one(
    emu: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYTELLS_API_KEY", emu.api_key)
    monkeypatch.setenv("SKYTELLS_BASE_URL", emu.base_url)
    skytells.set_default_client(None)
    held = skytells.predictions
    prediction = skytells.run("flux-edge", input=IMAGE)
    (file,) = prediction.files()
    skytells.set_default_client(None)  # closes the default client it built
    for call in (prediction.refresh, file.read):
        assert_closed(call, says="prediction.bind(skytells.default_client())")
    assert held.get(prediction.id)["status"] == "succeeded"  # the current default client
    rebound = prediction.bind(skytells.default_client())
    assert rebound.refresh().status == "succeeded"
    assert rebound.files()[0].read()
    skytells.set_default_client(None)
