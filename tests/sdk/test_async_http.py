"""The async driver's two HTTP backends, end to end over real sockets: aiohttp used directly
(`AiohttpHttp`, the default) and a caller's ``httpx.AsyncClient`` (`HttpxHttp`).

Each guarantee is checked on both: no redirect followed on API calls (the key stays on the API's
origin), downloads follow redirects without any key, the whole-exchange deadline against a body
that keeps arriving, the decoded-size cap, failures mapped by meaning, and no silent resend of a
request whose connection dropped.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import skytells
from skytells import AsyncSkytellsClient
from skytells._io.aiohttp_transport import AiohttpHttp
from skytells._io.httpx_adapter import HttpxHttp
from tests.scripted_server import Reply, ScriptedServer, prediction
from tests.sdk.pool_state import async_pool_is_clean

pytestmark = pytest.mark.anyio

SECRET = "sk-secret-for-the-api-only"
BACKENDS = ["aiohttp", "httpx"]


def _client(backend: str, base_url: str, **options: Any) -> AsyncSkytellsClient:
    """The default client (aiohttp directly), or one over an ``httpx.AsyncClient`` that would
    follow redirects itself if asked (the SDK must not let it)."""
    if backend == "aiohttp":
        client = AsyncSkytellsClient(SECRET, base_url=base_url, **options)
        assert isinstance(client._http, AiohttpHttp)
        return client
    http = httpx.AsyncClient(follow_redirects=True)
    client = AsyncSkytellsClient(SECRET, base_url=base_url, http_client=http, **options)
    assert isinstance(client._http, HttpxHttp)
    return client


async def _close(client: AsyncSkytellsClient) -> None:
    http = client._http  # (a closed client gives it no more)
    await client.aclose()
    if isinstance(http, HttpxHttp):
        await http.aclose()


@pytest.fixture
def other_host() -> Any:
    """A second scripted server: "another host" that redirects may point at."""
    with ScriptedServer().running() as server:
        yield server


@pytest.mark.parametrize("backend", BACKENDS)
async def test_api_redirects_are_not_followed_and_the_key_stays_home(
    backend: str, scripted: ScriptedServer, other_host: ScriptedServer
) -> None:
    other_host.script(Reply(200, prediction()))
    target = f"{other_host.base_url}/predictions/pred_abc123"
    scripted.script(Reply(302, {"moved": True}, headers={"location": target}))
    client = _client(backend, scripted.base_url)
    with pytest.raises(skytells.SkytellsError) as caught:
        await client.predictions.get("pred_abc123")
    await _close(client)
    assert caught.value.http_status == 302 and "redirect" in caught.value.message
    assert len(scripted.requests) == 1
    assert scripted.requests[0].headers["x-api-key"] == SECRET
    assert other_host.requests == []


@pytest.mark.parametrize("backend", BACKENDS)
async def test_downloads_follow_redirects_without_any_key(
    backend: str, scripted: ScriptedServer, other_host: ScriptedServer, tmp_path: Path
) -> None:
    other_host.script(Reply(200, b"\x89PNG moved bytes", content_type="image/png"))
    moved = other_host.base_url.replace("/v1", "/cdn/abc/render.png")
    scripted.script(Reply(302, b"", headers={"location": moved}))
    url = scripted.base_url.replace("/v1", "/files/abc/render.png")
    client = _client(backend, scripted.base_url)
    (path,) = await client.save_outputs(
        {"id": "abcdef123", "status": "succeeded", "output": [url]}, tmp_path
    )
    await _close(client)
    assert path.read_bytes() == b"\x89PNG moved bytes"
    seen = scripted.requests + other_host.requests
    assert [r.path for r in seen] == ["/files/abc/render.png", "/cdn/abc/render.png"]
    assert all("x-api-key" not in r.headers for r in seen)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_body_that_keeps_arriving_is_cut_at_the_deadline(
    backend: str, scripted: ScriptedServer
) -> None:
    # 4 KiB dripped a byte every 10 ms: about 40 s, against a 500 ms timeout.
    scripted.script(Reply(200, b" " * 4096, drip=0.01))
    client = _client(backend, scripted.base_url, timeout=500, max_retries=0)
    with pytest.raises(skytells.APITimeoutError):  # whole, the body would be INVALID_JSON
        await client.predictions.get("pred_abc123")
    assert async_pool_is_clean(client._http)
    await _close(client)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_decoded_size_is_capped(backend: str, scripted: ScriptedServer) -> None:
    bomb = gzip.compress(b"[" + b" " * (8 * 1024 * 1024) + b"]")  # ~8 KiB on the wire
    scripted.script(Reply(200, bomb, headers={"content-encoding": "gzip"}))
    client = _client(backend, scripted.base_url, max_response_bytes=1024 * 1024, max_retries=0)
    with pytest.raises(skytells.ResponseTooLargeError):
        await client.predictions.get("pred_abc123")
    scripted.script(Reply(200, prediction(id="p-big", extra="x" * 4096)))
    small = _client(backend, scripted.base_url, max_response_bytes=1024, max_retries=0)
    with pytest.raises(skytells.ResponseTooLargeError):  # declared too large: not read
        await small.predictions.get("p-big")
    await _close(client)
    await _close(small)


async def _serve(handler: Callable[..., Any]) -> AsyncIterator[str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_a_dropped_connection_is_not_silently_sent_again(backend: str) -> None:
    # The first GET is answered (keep-alive); the second, on the same connection, is dropped
    # unanswered. aiohttp on its own would send it again on a new connection: the SDK's retry
    # policy (no retries here) alone decides, so the server sees exactly two requests.
    seen: list[bytes] = []
    body = b'{"id": "p1", "status": "starting"}'

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            seen.append(head.split(b"\r\n")[0])
            if len(seen) > 1:
                break  # close without answering
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
            writer.write(b"content-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        writer.close()

    async for base_url in _serve(handle):
        client = _client(backend, base_url, max_retries=0)
        assert (await client.predictions.get("p1"))["id"] == "p1"
        with pytest.raises(skytells.APIConnectionError) as caught:
            await client.predictions.get("p1")
        await _close(client)
    assert not isinstance(caught.value, skytells.APITimeoutError)
    assert len(seen) == 2


@pytest.mark.parametrize("backend", BACKENDS)
async def test_failures_are_named_alike_on_both_backends(backend: str) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = _client(backend, f"http://127.0.0.1:{port}/v1", max_retries=0)
    with pytest.raises(skytells.APIConnectionError) as refused:
        await client.models.list()
    await _close(client)
    assert not isinstance(refused.value, skytells.APITimeoutError)
    assert "ConnectError" in str(refused.value)

    async def truncate(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n")
        writer.write(b'content-length: 500\r\n\r\n{"id": "trunc')
        await writer.drain()
        writer.close()

    async for base_url in _serve(truncate):
        client = _client(backend, base_url, max_retries=0)
        with pytest.raises(skytells.APIConnectionError) as dropped:
            await client.predictions.get("trunc")
        await _close(client)
    assert not isinstance(dropped.value, skytells.APITimeoutError)
    assert "RemoteProtocolError" in str(dropped.value)
    assert SECRET not in str(dropped.value)


async def test_no_proxy_sends_the_async_client_directly(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    scripted.script(Reply(200, prediction()))
    async with AsyncSkytellsClient(SECRET, base_url=scripted.base_url, max_retries=0) as client:
        assert isinstance(client._http, AiohttpHttp)
        assert (await client.predictions.get("pred_abc123"))["id"]
    assert len(scripted.requests) == 1
