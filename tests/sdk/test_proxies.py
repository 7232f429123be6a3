"""Proxies from the environment, as httpx reads them, on every path: the sync client (calls and
dispatch over urllib3) and the async client over aiohttp. A scripted server plays the proxy: it
receives the absolute-form requests a proxy gets and answers them itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from skytells import AsyncSkytellsClient, SkytellsClient
from skytells._io import aiohttp_transport as _transports
from tests.scripted_server import Reply, ScriptedServer, prediction

API = "http://api.skytells.invalid/v1"  # never resolved: only the proxy is reached


@pytest.fixture
def proxy(scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The scripted server's address as a proxy URL; no proxy variable is set yet."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SKYTELLS_ASYNC_HTTP"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    scripted.script(Reply(body=prediction("starting")))
    yield scripted.base_url.removesuffix("/v1")


def _dispatch(client: SkytellsClient, count: int) -> int:
    for i in range(count):
        client.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
    return len(client.dispatch(concurrency=2))


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY"])
def test_sync_calls_and_dispatch_go_through_the_proxy(
    proxy: str, scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, proxy)
    assert _transports.aiohttp_proxies() == {"http": proxy, "https": proxy} or (
        variable == "HTTP_PROXY" and _transports.aiohttp_proxies() == {"http": proxy}
    )
    with SkytellsClient("sk-test-key", base_url=API) as client:
        client.predictions.get("pred_abc123")
        assert _dispatch(client, 4) == 4
    targets = [seen.path for seen in scripted.requests]
    assert targets == [f"{API}/predictions/pred_abc123"] + [f"{API}/predict"] * 4
    assert all(seen.headers["x-api-key"] == "sk-test-key" for seen in scripted.requests)


def test_an_https_proxy_for_other_urls_leaves_http_calls_on_the_http_proxy(
    proxy: str, scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("HTTPS_PROXY", "https://127.0.0.1:9")  # a proxy over TLS: httpx only
    assert _transports.aiohttp_proxies() is None
    with SkytellsClient("sk-test-key", base_url=API) as client:
        assert _dispatch(client, 4) == 4
    assert [seen.path for seen in scripted.requests] == [f"{API}/predict"] * 4


def test_no_proxy_sends_directly(proxy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with SkytellsClient("sk-test-key", base_url=f"{proxy}/v1") as client:
        assert _dispatch(client, 4) == 4


@pytest.mark.anyio
@pytest.mark.parametrize("https_proxy", [None, "https://127.0.0.1:9"])
async def test_the_async_client_goes_through_the_proxy(
    proxy: str, scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, https_proxy: str | None
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy)
    if https_proxy:
        monkeypatch.setenv("HTTPS_PROXY", https_proxy)
    async with AsyncSkytellsClient("sk-test-key", base_url=API) as client:
        assert isinstance(client._http, _transports.AiohttpHttp) == (https_proxy is None)
        assert (await client.predictions.get("pred_abc123"))["status"] == "starting"
    assert [seen.path for seen in scripted.requests] == [f"{API}/predictions/pred_abc123"]


def test_no_proxy_entries_are_read_as_httpx_reads_them() -> None:
    from skytells._io.proxies import bypasses

    assert bypasses("api.example.com", 443, "https", [".example.com"])
    assert bypasses("example.com", 443, "https", ["example.com"])
    assert not bypasses("notexample.com", 443, "https", ["example.com"])
    assert bypasses("127.0.0.1", 8080, "http", ["127.0.0.1:8080"])
    assert not bypasses("127.0.0.1", 8081, "http", ["127.0.0.1:8080"])
    assert bypasses("::1", 80, "http", ["[::1]:80"]) and bypasses("::1", 80, "http", ["::1"])
    assert bypasses("h", 1, "http", ["*"]) and not bypasses("h", 1, "https", ["http://h"])
    assert not bypasses("example.com", 80, "http", [".example.com"])  # subdomains only
    assert bypasses("a.x.com", 80, "http", ["http://*.x.com"])
    assert not bypasses("a.x.com", 80, "http", ["http://x.com"])  # that host alone
    assert bypasses("x.com", 80, "http", ["http://x.com"])


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_no_proxy_with_a_port_sends_that_origin_directly(
    proxy: str, scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", proxy.removeprefix("http://"))  # 127.0.0.1:<port>
    if flavour == "sync":
        with SkytellsClient("sk-test-key", base_url=f"{proxy}/v1", max_retries=0) as client:
            client.predictions.get("pred_abc123")
    else:

        async def get() -> None:
            async with AsyncSkytellsClient(
                "sk-test-key", base_url=f"{proxy}/v1", max_retries=0
            ) as client:
                await client.predictions.get("pred_abc123")

        asyncio.run(get())
    assert [seen.path for seen in scripted.requests] == ["/v1/predictions/pred_abc123"]
