"""Many predictions at once: `run_many` results as they complete, `wait_many` economically."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import skytells
from skytells import AsyncSkytellsClient, SkytellsClient
from tests.conftest import apoll

pytestmark = pytest.mark.both_clients  # the default client and an http_client= one


@pytest.fixture(params=["default client", "own http_client"])
def many_client(
    request: pytest.FixtureRequest, emu: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SkytellsClient]:
    """A client creating on threads over its own urllib3 pool (its default) or over your
    `httpx.Client` (`custom_client`, which also validates every response on the client side)."""
    monkeypatch.delenv("SKYTELLS_ASYNC_HTTP", raising=False)
    if request.param == "default client":
        from skytells._io.urllib3_transport import Urllib3Transport

        with SkytellsClient(emu.api_key, base_url=emu.base_url) as sdk:
            assert isinstance(sdk._http, Urllib3Transport)
            yield sdk
    else:
        yield request.getfixturevalue("custom_client")


def test_run_many_yields_every_result_with_its_id(many_client: SkytellsClient, emu: Any) -> None:
    client = many_client
    emu.fail_next(count=1, model="truefusion", message="NSFW content detected.")
    payloads: list[dict[str, Any]] = [
        {"model": "flux-edge", "input": {"prompt": f"p{i}"}} for i in range(12)
    ]
    payloads.insert(3, {"model": "truefusion", "input": {"prompt": "fails"}})
    payloads.insert(5, {"model": "no-such-model", "input": {"prompt": "never created"}})
    results = list(client.run_many(payloads, concurrency=4))
    assert sorted(r.index for r in results) == list(range(14))
    by_index = {r.index: r for r in results}
    failed = by_index[3]
    assert not failed.ok and isinstance(failed.error, skytells.PredictionFailedError)
    assert failed.id and failed.prediction and failed.prediction["status"] == "failed"
    never = by_index[5]
    assert never.id is None and isinstance(never.error, skytells.NotFoundError)
    assert results[0] is never  # creation failures come first
    ok = [r for r in results if r.ok]
    assert len(ok) == 12 and all(r.output and r.id for r in ok)


def test_wait_many_spends_fewer_requests_than_one_per_prediction(
    client: SkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=0.02)
    created = [
        client.predictions.create({"model": "truefusion", "input": {"prompt": str(i)}})
        for i in range(60)
    ]
    before = emu.state()["requests"]
    finals = client.wait_many(created, {"interval": 200})
    spent = emu.state()["requests"] - before
    assert [f["id"] for f in finals] == [c["id"] for c in created]
    assert all(f["status"] == "succeeded" for f in finals)
    checks = spent  # every request counts, listing pages and GETs alike
    rounds_at_one_get_each = 60 * 2
    assert checks < rounds_at_one_get_each


def _started_since(before: set[threading.Thread]) -> set[threading.Thread]:
    """Threads alive now that were not in ``before`` (the emulator's checker thread aside)."""
    return {
        thread
        for thread in threading.enumerate()
        if thread not in before and not thread.name.startswith("openapi-check")
    }


def test_run_many_stops_waiting_when_the_consumer_stops(
    client: SkytellsClient, emu: Any, poll: Callable[..., Any]
) -> None:
    emu.configure(time_scale=0.05)  # flux-edge ends in ~0.1 s, mera in ~3 s
    threads = set(threading.enumerate())
    results = client.run_many(
        [{"model": "flux-edge", "input": {"prompt": "fast"}}]
        + [{"model": "mera", "input": {"prompt": "slow"}}] * 2,
        options={"interval": 50},
    )
    first = next(results)
    assert first.ok and first.payload["model"] == "flux-edge"
    results.close()  # type: ignore[attr-defined]
    sent = emu.state()["requests"]
    # Closed, the iterator runs no more code (next() ends it), and once every thread the run
    # started has ended nothing is left that could poll for the mera predictions: a leftover
    # poller would fail this wait, or show up in the request count.
    assert next(results, None) is None
    poll(lambda: _started_since(threads), lambda started: not started)
    assert emu.state()["requests"] == sent
    assert emu.state()["open_streams"] == 0


@pytest.mark.anyio
async def test_async_run_many_stops_waiting_when_the_consumer_stops(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=0.05)
    tasks = asyncio.all_tasks()
    results = aclient.run_many(
        [{"model": "flux-edge", "input": {"prompt": "fast"}}]
        + [{"model": "mera", "input": {"prompt": "slow"}}] * 2,
        options={"interval": 50},
    )
    first = await results.__anext__()
    assert first.ok and first.payload["model"] == "flux-edge"
    await results.aclose()  # type: ignore[attr-defined]
    sent = emu.state()["requests"]
    # Closed, the iterator runs no more code, and once every task the run started has ended
    # nothing is left that could poll for the mera predictions.
    assert await anext(results, None) is None
    await apoll(asyncio.all_tasks, lambda now: now <= tasks)
    assert emu.state()["requests"] == sent
    assert emu.state()["open_streams"] == 0


def test_run_many_max_wait_reports_the_running_ones(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    results = list(
        client.run_many(
            [{"model": "mera", "input": {"prompt": "x"}}] * 2, options={"max_wait": 300}
        )
    )
    assert len(results) == 2
    assert all(isinstance(r.error, skytells.WaitTimeoutError) and r.id for r in results)


@pytest.mark.anyio
async def test_async_run_many(aclient: AsyncSkytellsClient) -> None:
    payloads = [{"model": "flux-edge", "input": {"prompt": f"p{i}"}} for i in range(10)]
    results = [r async for r in aclient.run_many(payloads)]
    assert sorted(r.index for r in results) == list(range(10))
    assert all(r.ok for r in results)
    finals = await aclient.wait_many([r.prediction for r in results if r.prediction])
    assert len(finals) == 10
