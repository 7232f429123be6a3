"""The async client over aiohttp, end to end: by default directly (`AiohttpHttp`), and as a
caller's ``httpx.AsyncClient`` over `AiohttpTransport`.

Against the emulator and real sockets: every operation, held creates, deadlines, cancellation,
refused and dropped connections, compressed bodies, a client reused across event loops.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import skytells
from skytells import AsyncSkytellsClient
from skytells._io.aiohttp_transport import (
    ENV_VAR,
    AiohttpHttp,
    AiohttpTransport,
    async_backend,
    default_async_http,
)
from skytells._io.httpx_adapter import HttpxHttp
from tests.scripted_server import Reply, ScriptedServer, prediction
from tests.sdk.pool_state import async_pool_is_clean

pytestmark = pytest.mark.anyio


def _client(emu: Any, *, connections: int = 8, **options: Any) -> AsyncSkytellsClient:
    """A client over its own `AiohttpTransport` pool of ``connections``."""
    limits = httpx.Limits(max_connections=connections)
    http = httpx.AsyncClient(transport=AiohttpTransport(limits=limits), timeout=None)
    return AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http, **options)


@pytest.fixture
async def over_aiohttp(emu: Any) -> AsyncIterator[AsyncSkytellsClient]:
    """An `AsyncSkytellsClient` on the emulator over an `AiohttpTransport` of one connection."""
    client = _client(emu, connections=1)
    yield client
    await client._http.aclose()


async def test_the_default_transport_is_aiohttp_unless_the_environment_says_httpx(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert async_backend() == "aiohttp"  # the dev extras install aiohttp
    async with AsyncSkytellsClient("sk-test") as client:
        assert isinstance(client._http, AiohttpHttp)  # aiohttp directly, no httpx objects
    monkeypatch.setenv(ENV_VAR, "httpx")
    assert async_backend() == "httpx"
    adapter = default_async_http()
    assert isinstance(adapter, HttpxHttp)
    http = adapter.client
    assert isinstance(http._transport, httpx.AsyncHTTPTransport)  # type: ignore[attr-defined]
    assert http.timeout == httpx.Timeout(None)  # the driver's deadlines bound every exchange
    await http.aclose()


async def test_every_kind_of_call_works_over_aiohttp(
    over_aiohttp: AsyncSkytellsClient, emu: Any, tmp_path: Path
) -> None:
    client = over_aiohttp
    done = await client.run("flux-edge", input={"prompt": "a lighthouse", "num_outputs": 2})
    assert done.status == "succeeded"
    assert len(done.outputs() or []) == 2
    background = await client.predictions.create(
        {"model": "skytells-chat", "input": {"prompt": "hi"}}
    )
    final = await client.wait(background, {"interval": 50, "max_wait": 10_000})
    assert final["status"] == "succeeded" and isinstance(final["output"], str)
    assert (await client.predictions.get(done.id))["id"] == done.id
    assert len(await client.predictions.list()) == 2
    assert (await client.models.get("mera"))["type"] == "video"
    paths = await client.save_outputs(done.response, tmp_path)
    async with httpx.AsyncClient() as plain:
        for path, url in zip(paths, done.outputs() or [], strict=True):
            assert path.read_bytes() == (await plain.get(url)).content  # streamed whole
    with pytest.raises(skytells.NotFoundError):
        await client.models.get("no-such-model")
    intruder = AsyncSkytellsClient(
        "sk-wrong", base_url=emu.base_url, http_client=client._http.client
    )  # type: ignore[attr-defined]
    with pytest.raises(skytells.AuthenticationError):
        await intruder.models.list()
    assert emu.state()["errors"] == 2


async def test_a_held_create_is_not_cut_by_the_http_clients_own_timeout(emu: Any) -> None:
    # The caller's httpx client times out reads after 0.1 s; the create is held about 0.6 s.
    # The SDK's deadline (its `timeout`, 60 s here) is what bounds the exchange.
    emu.configure(time_scale=0.5)
    for transport in (AiohttpTransport(), None):
        async with httpx.AsyncClient(transport=transport, timeout=0.1) as http:
            client = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http)
            done = await client.run("flux-edge", input={"prompt": "x"})
            assert done.status == "succeeded"
    assert emu.state()["requests_by_endpoint"]["create"] == 2  # one request each, no retry


async def test_the_sdk_deadline_cuts_a_held_create_and_frees_the_connection(
    emu: Any,
) -> None:
    emu.configure(time_scale=1.0)
    # No hold allowance: the held create's deadline is the 300 ms timeout.
    client = _client(emu, connections=1, timeout=300, max_retries=0, await_hold=0)
    with pytest.raises(skytells.CreateOutcomeUnknownError) as caught:
        await client.run("flux-pro", input={"prompt": "x"})
    assert isinstance(caught.value.__cause__, skytells.APITimeoutError)
    (held,) = emu.predictions()
    assert async_pool_is_clean(client._http)
    with anyio.fail_after(10):  # a leaked connection would block this forever: one connection
        assert (await client.predictions.get(held["id"]))["id"] == held["id"]
    await client._http.aclose()


async def test_cancelling_a_task_frees_its_connection(
    over_aiohttp: AsyncSkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=1.0)
    for created in range(1, 4):  # more cancellations than the pool has connections
        task = asyncio.create_task(over_aiohttp.run("flux-pro", input={"prompt": "x"}))
        with anyio.fail_after(10):
            while emu.state()["predictions_created"] < created:
                await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert async_pool_is_clean(over_aiohttp._http)
    with anyio.fail_after(10):
        assert len(await over_aiohttp.models.list()) > 0


async def test_a_refused_connection_is_a_connection_error(emu: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    http = httpx.AsyncClient(transport=AiohttpTransport())
    client = AsyncSkytellsClient(
        "sk-x", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, http_client=http
    )
    with pytest.raises(skytells.APIConnectionError) as info:
        await client.models.list()
    assert not isinstance(info.value, skytells.APITimeoutError)
    assert "ConnectError" in str(info.value)
    await http.aclose()


async def test_a_dropped_response_is_a_connection_error_not_a_timeout() -> None:
    async def truncate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b'content-length: 500\r\n\r\n{"id": "trunc')
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(truncate, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, httpx.AsyncClient(transport=AiohttpTransport()) as http:
        client = AsyncSkytellsClient(
            "sk-x", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, http_client=http
        )
        with pytest.raises(skytells.APIConnectionError) as info:
            await client.predictions.get("trunc")
        assert not isinstance(info.value, skytells.APITimeoutError)
        assert "RemoteProtocolError" in str(info.value)


async def test_httpx_timeouts_and_compressed_bodies(scripted: ScriptedServer) -> None:
    body = gzip.compress(json.dumps(prediction(id="p-gz")).encode())
    scripted.script(Reply(body=body, headers={"content-encoding": "gzip"}), Reply(delay=1.0))
    async with httpx.AsyncClient(transport=AiohttpTransport()) as http:
        client = AsyncSkytellsClient("sk-x", base_url=scripted.base_url, http_client=http)
        assert (await client.predictions.get("p-gz"))["id"] == "p-gz"  # httpx decodes it
        with pytest.raises(httpx.ReadTimeout):  # the transport maps aiohttp's read timeout
            await http.get(f"{scripted.base_url}/models", timeout=0.1)
    assert scripted.requests[0].headers["x-api-key"] == "sk-x"
    assert scripted.requests[0].headers["user-agent"].startswith("skytells-python/")


def test_one_client_serves_several_event_loops(emu: Any) -> None:
    client = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url)

    async def models() -> int:
        return len(await client.models.list())

    first = asyncio.run(models())
    assert asyncio.run(models()) == first > 0  # a new aiohttp session in the new loop
    asyncio.run(client.aclose())
