"""Fixtures of the SDK tests: clients pointed at the session's emulator, and a scripted server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from skytells import AsyncSkytellsClient, SkytellsClient
from tests.openapi_hook import async_response_validator_hooks, response_validator_hooks
from tests.scripted_server import ScriptedServer

CLIENT_KINDS = ("default", "http_client")
"""`default`: the client as users build it (its own httpx pool with the deadline backend, aiohttp
for large dispatches and async calls); `http_client`: an httpx client of the caller's, which
carries the client-side OpenAPI hooks."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_clients` run with each kind of `client` and `aclient` they use."""
    if metafunc.definition.get_closest_marker("both_clients") is None:
        return
    for name in ("client", "aclient"):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, CLIENT_KINDS, indirect=True)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "both_clients: run with the default `client`/`aclient` and with one built on an "
        "`http_client=` of the test's",
    )


@pytest.fixture
def client(request: pytest.FixtureRequest, emu: Any) -> Iterator[SkytellsClient]:
    """A `SkytellsClient` on the emulator in its default configuration, as users run it (the
    emulator checks every response against its OpenAPI document). Under the `both_clients`
    marker, also one built on an `httpx.Client` of the test's (`custom_client`)."""
    if getattr(request, "param", "default") == "http_client":
        yield from _custom_client(emu)
        return
    with SkytellsClient(emu.api_key, base_url=emu.base_url) as sdk:
        yield sdk


@pytest.fixture
def custom_client(emu: Any) -> Iterator[SkytellsClient]:
    """A `SkytellsClient` on an `httpx.Client` of the test's, whose hooks check every response
    against the OpenAPI document on the client side too."""
    yield from _custom_client(emu)


def _custom_client(emu: Any) -> Iterator[SkytellsClient]:
    http = httpx.Client(event_hooks=response_validator_hooks())
    with SkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http) as sdk:
        yield sdk
    http.close()


@pytest.fixture
def honour_idempotency(emu: Any) -> Any:
    """The emulator honouring `Idempotency-Key` on creates (off by default, as on the real
    service, which documents no such support: spec 6a).

    For the tests that show the key the SDK sends with every create is still sent and used where
    a server honours it; exactly-once does not rest on it (a create of unknown outcome is looked
    up in the listing). The next `reset()` turns them off again.
    """
    emu.configure(honour_idempotency=True)
    return emu


@pytest.fixture
async def aclient(request: pytest.FixtureRequest, emu: Any) -> AsyncIterator[AsyncSkytellsClient]:
    """An `AsyncSkytellsClient` on the emulator in its default configuration (aiohttp); under
    the `both_clients` marker, also one built on an `httpx.AsyncClient` (`custom_aclient`)."""
    if getattr(request, "param", "default") == "http_client":
        async for sdk in _custom_aclient(emu):
            yield sdk
        return
    async with AsyncSkytellsClient(emu.api_key, base_url=emu.base_url) as sdk:
        yield sdk


@pytest.fixture
async def custom_aclient(emu: Any) -> AsyncIterator[AsyncSkytellsClient]:
    """An `AsyncSkytellsClient` on an `httpx.AsyncClient` of the test's, with the client-side
    OpenAPI hooks."""
    async for sdk in _custom_aclient(emu):
        yield sdk


async def _custom_aclient(emu: Any) -> AsyncIterator[AsyncSkytellsClient]:
    http = httpx.AsyncClient(event_hooks=async_response_validator_hooks())
    async with AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http) as sdk:
        yield sdk
    await http.aclose()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio (the anyio pytest plugin, which httpx already brings)."""
    return "asyncio"


@pytest.fixture(scope="session")
def _scripted_server() -> Iterator[ScriptedServer]:
    with ScriptedServer().running() as server:
        yield server


@pytest.fixture
def scripted(_scripted_server: ScriptedServer) -> ScriptedServer:
    """A real HTTP server answering scripted replies; `.requests` records what it received."""
    _scripted_server.script()
    return _scripted_server


@pytest.fixture
def scripted_client(scripted: ScriptedServer) -> Iterator[SkytellsClient]:
    """A client on the scripted server, with fast retries."""
    with SkytellsClient(
        "sk-test-key", base_url=scripted.base_url, retry={"retries": 2, "retry_delay": 1}
    ) as sdk:
        yield sdk
