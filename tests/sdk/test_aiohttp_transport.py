"""The async client end to end on the paths users have: by default aiohttp directly
(`AiohttpHttp`), and a caller's own ``httpx.AsyncClient`` (`HttpxHttp`).

Against the emulator and real sockets: every operation, held creates, deadlines, cancellation,
compressed bodies, slow answers, a client reused across event loops. Refused and dropped
connections on both paths: ``test_async_http.py``.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import skytells
from skytells import AsyncSkytellsClient
from skytells._clients import async_ as async_client_module
from skytells._io.aiohttp_transport import (
    ENV_VAR,
    AiohttpHttp,
    async_backend,
    default_async_http,
)
from skytells._io.httpx_adapter import HttpxHttp
from tests.scripted_server import Reply, ScriptedServer, prediction
from tests.sdk.pool_state import async_pool_is_clean

pytestmark = pytest.mark.anyio

BACKENDS = ["aiohttp", "httpx"]


def _client(
    backend: str, base_url: str, api_key: str, *, connections: int = 8, **options: Any
) -> AsyncSkytellsClient:
    """A client whose pool holds at most ``connections``: the default one (aiohttp directly,
    its pool's size set through the client module's limits), or one over a caller's
    ``httpx.AsyncClient`` with no timeout of its own."""
    limits = httpx.Limits(max_connections=connections)
    if backend == "aiohttp":
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(async_client_module, "POOL_LIMITS", limits)
            client = AsyncSkytellsClient(api_key, base_url=base_url, **options)
        assert isinstance(client._http, AiohttpHttp)
        return client
    http = httpx.AsyncClient(limits=limits, timeout=None)
    client = AsyncSkytellsClient(api_key, base_url=base_url, http_client=http, **options)
    assert isinstance(client._http, HttpxHttp)
    return client


async def _close(client: AsyncSkytellsClient) -> None:
    """Close the client, and the caller's ``httpx.AsyncClient`` (the SDK leaves that open)."""
    await client.aclose()
    http = client._http
    if isinstance(http, HttpxHttp):
        await http.aclose()


def _pool_limit(client: AsyncSkytellsClient) -> int | None:
    """The most connections the client's pool opens (after its first request)."""
    http = client._http
    if isinstance(http, AiohttpHttp):
        assert http.session is not None and http.session.connector is not None
        return http.session.connector.limit
    assert isinstance(http, HttpxHttp)
    return http.client._transport._pool._max_connections  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(params=BACKENDS)
async def one_connection(request: pytest.FixtureRequest, emu: Any) -> AsyncIterator[Any]:
    """An `AsyncSkytellsClient` on the emulator over a pool of one connection: the default
    (aiohttp) or a caller's ``httpx.AsyncClient``."""
    client = _client(request.param, emu.base_url, emu.api_key, connections=1)
    yield client
    await _close(client)


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
    assert isinstance(http._transport, httpx.AsyncHTTPTransport)
    assert http.timeout == httpx.Timeout(None)  # the driver's deadlines bound every exchange
    await http.aclose()


async def test_every_kind_of_call_works_over_one_connection(
    one_connection: AsyncSkytellsClient, emu: Any, tmp_path: Path
) -> None:
    client = one_connection
    done = await client.run("flux-edge", input={"prompt": "a lighthouse", "num_outputs": 2})
    assert done.status == "succeeded"
    assert len(done.outputs() or []) == 2
    assert _pool_limit(client) == 1  # every call below reuses the one connection
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
    http = client._http
    # Another key: on the same httpx client when it is the caller's, else a default client.
    shared = http.client if isinstance(http, HttpxHttp) else None
    async with AsyncSkytellsClient("sk-wrong", base_url=emu.base_url, http_client=shared) as bad:
        with pytest.raises(skytells.AuthenticationError):
            await bad.models.list()
    assert emu.state()["errors"] == 2
    assert async_pool_is_clean(http)


async def test_a_held_create_is_not_cut_by_the_http_clients_own_timeout(emu: Any) -> None:
    # The caller's httpx client times out reads after 0.1 s; the create is held about 0.6 s.
    # The SDK's deadline (its `timeout`, 60 s here) is what bounds the exchange, on the
    # caller's httpx client as on the default one (aiohttp).
    emu.configure(time_scale=0.5)
    async with httpx.AsyncClient(timeout=0.1) as http:
        client = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http)
        assert (await client.run("flux-edge", input={"prompt": "x"})).status == "succeeded"
    async with AsyncSkytellsClient(emu.api_key, base_url=emu.base_url) as client:
        assert isinstance(client._http, AiohttpHttp)
        assert (await client.run("flux-edge", input={"prompt": "x"})).status == "succeeded"
    assert emu.state()["requests_by_endpoint"]["create"] == 2  # one request each, no retry


@pytest.mark.parametrize("backend", BACKENDS)
async def test_the_sdk_deadline_cuts_a_held_create_and_frees_the_connection(
    backend: str, emu: Any
) -> None:
    emu.configure(time_scale=1.0)
    # No hold allowance: the held create's deadline is the 300 ms timeout.
    client = _client(
        backend, emu.base_url, emu.api_key, connections=1, timeout=300, max_retries=0, await_hold=0
    )
    with anyio.fail_after(10):  # a leaked connection would block the look-up: one connection
        # Cut at its deadline, the held create is then found in the listing and adopted.
        adopted = await client.predict(
            {"model": "flux-pro", "input": {"prompt": "x"}, "await": True}
        )
    (held,) = emu.predictions()
    assert adopted["id"] == held["id"] and adopted["status"] not in ("succeeded", "failed")
    assert emu.state()["requests_by_endpoint"]["create"] == 1
    assert _pool_limit(client) == 1
    assert async_pool_is_clean(client._http)
    with anyio.fail_after(10):
        assert (await client.predictions.get(held["id"]))["id"] == held["id"]
    await _close(client)


async def test_cancelling_a_task_frees_its_connection(
    one_connection: AsyncSkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=1.0)
    for created in range(1, 4):  # more cancellations than the pool has connections
        task = asyncio.create_task(one_connection.run("flux-pro", input={"prompt": "x"}))
        with anyio.fail_after(10):
            while emu.state()["predictions_created"] < created:
                await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert async_pool_is_clean(one_connection._http)
    with anyio.fail_after(10):
        assert len(await one_connection.models.list()) > 0


@pytest.mark.parametrize("backend", BACKENDS)
async def test_compressed_bodies_are_decoded_and_a_slow_answer_is_a_timeout(
    backend: str, scripted: ScriptedServer
) -> None:
    body = gzip.compress(json.dumps(prediction(id="p-gz")).encode())
    scripted.script(Reply(body=body, headers={"content-encoding": "gzip"}), Reply(delay=1.0))
    client = _client(backend, scripted.base_url, "sk-x", timeout=100, max_retries=0)
    assert (await client.predictions.get("p-gz"))["id"] == "p-gz"  # the driver decodes it
    with pytest.raises(skytells.APITimeoutError):  # the backend's read timeout, by its meaning
        await client.models.list()
    assert async_pool_is_clean(client._http)
    await _close(client)
    assert scripted.requests[0].headers["x-api-key"] == "sk-x"
    assert scripted.requests[0].headers["user-agent"].startswith("skytells-python/")
    assert scripted.requests[0].headers["accept-encoding"]  # compressed bodies are welcome


def test_one_client_serves_several_event_loops(emu: Any) -> None:
    client = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url)
    sessions: list[Any] = []

    async def models() -> int:
        count = len(await client.models.list())
        assert isinstance(client._http, AiohttpHttp)
        sessions.append(client._http.session)
        return count

    first = asyncio.run(models())
    assert asyncio.run(models()) == first > 0
    assert sessions[0] is not sessions[1]  # a new aiohttp session in the new loop
    assert sessions[0].closed  # the first loop's, with its sockets, closed without that loop
    asyncio.run(client.aclose())


# An async client that is never closed: its sockets are closed with its event loop, so a user
# who forgets `aclose()` (or a notebook cell, or a script ending in asyncio.run) sees no
# ResourceWarning under `-W error` and leaks no connection. Run in a child interpreter with
# warnings as errors and dev mode, where the leak would be reported.
_UNCLOSED = """
import asyncio, gc, sys, warnings
from skytells import AsyncSkytellsClient

key, url, case = sys.argv[1], sys.argv[2], sys.argv[3]
unraisable = []
sys.unraisablehook = unraisable.append
warnings.simplefilter("error")

async def use(client):
    prediction = await client.run("truefusion", input={"prompt": "never closed"})
    assert prediction.status == "succeeded"

if case == "one-loop":
    client = AsyncSkytellsClient(key, base_url=url)
    asyncio.run(use(client))
elif case == "two-loops":
    client = AsyncSkytellsClient(key, base_url=url)
    asyncio.run(use(client))
    asyncio.run(use(client))
elif case == "dropped-in-the-loop":
    async def main():
        client = AsyncSkytellsClient(key, base_url=url)
        await use(client)
        del client
        gc.collect()
        await asyncio.sleep(0)  # the loop closes a dropped client's session on its next turn
        await asyncio.sleep(0)
    asyncio.run(main())
elif case == "closed":
    async def main():
        client = AsyncSkytellsClient(key, base_url=url)
        await use(client)
        await client.aclose()
    asyncio.run(main())
client = None
gc.collect()
gc.collect()
assert not unraisable, [str(u.exc_value) for u in unraisable]
print("clean")
"""


@pytest.mark.parametrize("case", ["one-loop", "two-loops", "dropped-in-the-loop", "closed"])
def test_an_async_client_never_closed_leaves_no_socket_open(emu: Any, case: str) -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "dev",
            "-W",
            "error",
            "-c",
            _UNCLOSED,
            emu.api_key,
            emu.base_url,
            case,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "clean"
    assert "ResourceWarning" not in result.stderr


def test_timeouts_cached_for_an_aiohttp_module_imported_anew_are_not_reused() -> None:
    # pytest's pytester (and any tool that drops modules from sys.modules) can make aiohttp be
    # imported again: its ClientTimeout is then another class, and aiohttp would take a cached
    # object of the old one for a number (TypeError deep in its timer).
    import aiohttp

    from skytells._io import aiohttp_transport

    class OldClientTimeout:  # what the dropped module's class looks like to the new one
        total = 1.0

    key = (1234, None)
    aiohttp_transport._timeouts[key] = OldClientTimeout()  # type: ignore[assignment]
    timeout = aiohttp_transport._timeout(1.234, None)
    assert type(timeout) is aiohttp.ClientTimeout and timeout.total == 1.234
