"""Waiting on hostile or changing servers: option checks, deadlines of many-waits, a prediction
deleted during `run_many`, a listing that repeats itself, and `on_progress` told each state once.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from skytells import (
    AsyncSkytellsClient,
    NotFoundError,
    SkytellsClient,
    ValidationError,
    WaitTimeoutError,
)
from skytells.emulator import Emulator
from tests.routed_server import RoutedServer
from tests.scripted_server import Reply, Seen, prediction

FLUX = {"model": "flux-pro", "input": {"prompt": "x"}}


# ── item 13: one check of interval and max_wait; wait_many's lookups meet max_wait ──

BAD_OPTIONS = [{"interval": 0}, {"interval": -1}, {"interval": float("nan")}, {"max_wait": -1}]


@pytest.mark.parametrize("options", BAD_OPTIONS, ids=repr)
def test_every_wait_refuses_bad_options_before_any_request(
    client: SkytellsClient, emu: Emulator, options: dict[str, Any]
) -> None:
    created = client.predictions.create(FLUX)
    before = emu.state()["requests"]
    with pytest.raises(ValidationError):
        client.wait(created, options)
    with pytest.raises(ValidationError):
        client.wait_many([created, created["id"]], options)
    with pytest.raises(ValidationError):
        client.run_many([FLUX, FLUX], options=options)
    assert emu.state()["requests"] == before  # not one request: no create, no poll


@pytest.mark.anyio
@pytest.mark.parametrize("options", BAD_OPTIONS[:1], ids=repr)
async def test_async_waits_refuse_a_zero_interval_before_any_request(
    aclient: AsyncSkytellsClient, emu: Emulator, options: dict[str, Any]
) -> None:
    created = await aclient.predictions.create(FLUX)
    before = emu.state()["requests"]
    with pytest.raises(ValidationError):
        await aclient.wait(created, options)
    with pytest.raises(ValidationError):
        await aclient.wait_many([created], options)
    with pytest.raises(ValidationError):
        aclient.run_many([FLUX], options=options)
    assert emu.state()["requests"] == before


def _slow_lookups(seen: Seen, number: int) -> Reply:
    # Late, and then done: a wait that let a lookup outlast max_wait would return it succeeded.
    if seen.path.startswith("/v1/predictions?") or seen.path == "/v1/predictions":
        return Reply(body={"data": [prediction("succeeded")]}, delay=5.0)
    return Reply(body=prediction("succeeded"), delay=5.0)


@pytest.fixture
def slow_lookups() -> Iterator[RoutedServer]:
    with RoutedServer(_slow_lookups).running() as server:
        yield server


RUNNING = [{"id": "pred_abc123", "status": "processing"}]


def test_wait_many_lookups_end_at_max_wait(slow_lookups: RoutedServer) -> None:
    # A lookup takes 5 s, far less than the client's timeout (60 s) but far more than max_wait.
    with SkytellsClient("sk-test", base_url=slow_lookups.base_url) as client:
        with pytest.raises(WaitTimeoutError) as caught:
            client.wait_many(RUNNING, {"max_wait": 300})
    assert caught.value.details == {"pending": ["pred_abc123"]}


@pytest.mark.anyio
async def test_async_wait_many_lookups_end_at_max_wait(slow_lookups: RoutedServer) -> None:
    async with AsyncSkytellsClient("sk-test", base_url=slow_lookups.base_url) as client:
        with pytest.raises(WaitTimeoutError):
            await client.wait_many(RUNNING, {"max_wait": 300})


# ── item 14: a prediction deleted during run_many is its own result ──────────

MIXED = [
    {"model": "flux-edge", "input": {"prompt": "fast"}},
    {"model": "mera", "input": {"prompt": "slow one"}},
    {"model": "mera", "input": {"prompt": "slow two"}},
]


def _running_mera(emu: Emulator) -> str:
    return next(
        p["id"]
        for p in emu.predictions()
        if p["model"]["name"] == "mera" and p["status"] not in ("succeeded", "failed", "cancelled")
    )


def _check_deleted_one(results: list[Any], deleted: str) -> None:
    by_id = {r.id: r for r in results}
    assert len(results) == 3 and sorted(r.index for r in results) == [0, 1, 2]
    assert isinstance(by_id[deleted].error, NotFoundError) and not by_id[deleted].ok
    assert by_id[deleted].payload["model"] == "mera"
    others = [r for r in results if r.id != deleted]
    assert all(r.ok and r.prediction["status"] == "succeeded" for r in others)


def test_run_many_goes_on_when_one_prediction_is_deleted(
    client: SkytellsClient, emu: Emulator
) -> None:
    emu.configure(time_scale=0.03)  # flux-edge ends at once, mera in about 2 s
    results = client.run_many(MIXED, options={"interval": 50})
    first = next(results)
    assert first.ok and first.payload["model"] == "flux-edge"
    deleted = _running_mera(emu)
    client.delete_prediction(deleted)
    _check_deleted_one([first, *results], deleted)


@pytest.mark.anyio
async def test_async_run_many_goes_on_when_one_prediction_is_deleted(
    aclient: AsyncSkytellsClient, emu: Emulator
) -> None:
    emu.configure(time_scale=0.03)
    results = aclient.run_many(MIXED, options={"interval": 50})
    collected = [await results.__anext__()]
    deleted = _running_mera(emu)
    await aclient.delete_prediction(deleted)
    collected += [r async for r in results]
    _check_deleted_one(collected, deleted)


# ── item 15: a listing that repeats a page with a huge last_page ─────────────


def _repeating_page(seen: Seen, number: int) -> Reply:
    if number > 40:  # a bound for the test only: before the fix the walk went on for ever
        return Reply(body={"data": [], "pagination": {}})
    page = int(parse_qs(urlsplit(seen.path).query).get("page", ["1"])[0])
    items = [prediction("succeeded", id="pred_one"), prediction("succeeded", id="pred_two")]
    pagination = {"current_page": page, "per_page": 2, "total": 2 * 10**9, "last_page": 10**9}
    return Reply(body={"data": items, "pagination": pagination})


@pytest.fixture
def repeating() -> Iterator[RoutedServer]:
    with RoutedServer(_repeating_page).running() as server:
        yield server


def _check_stopped(ids: list[str], server: RoutedServer, caplog: pytest.LogCaptureFixture) -> None:
    assert ids == ["pred_one", "pred_two"]
    assert server.count("GET") == 2  # page 1, then page 2 brought nothing new: stop
    assert any(
        "brought no prediction not already seen" in r.getMessage()
        for r in caplog.records
        if r.name == "skytells" and r.levelno == logging.WARNING
    )


def test_iter_all_stops_at_a_page_that_brings_nothing_new(
    repeating: RoutedServer, caplog: pytest.LogCaptureFixture
) -> None:
    with SkytellsClient("sk-test", base_url=repeating.base_url) as client:
        ids = [p["id"] for p in client.predictions.iter_all(per_page=2)]
    _check_stopped(ids, repeating, caplog)


@pytest.mark.anyio
async def test_async_iter_all_stops_at_a_page_that_brings_nothing_new(
    repeating: RoutedServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with AsyncSkytellsClient("sk-test", base_url=repeating.base_url) as client:
        ids = [p["id"] async for p in client.predictions.iter_all(per_page=2)]
    _check_stopped(ids, repeating, caplog)


def test_iter_all_still_walks_every_real_page(client: SkytellsClient, emu: Emulator) -> None:
    created = {client.predictions.create(FLUX)["id"] for _ in range(5)}
    assert {p["id"] for p in client.predictions.iter_all(per_page=2)} == created


# ── item 18: on_progress gets each state once, progress as a float ──────────


def _check_told_once(states: list[dict[str, Any]]) -> None:
    keys = [(s["status"], (s.get("metrics") or {}).get("progress")) for s in states]
    assert all(a != b for a, b in itertools.pairwise(keys)), keys  # never one state twice
    progress = [p for _, p in keys if p is not None]
    assert progress and all(type(p) is float for p in progress), keys
    assert [s["status"] for s in states].count("succeeded") == 1
    assert states[-1]["status"] == "succeeded" and states[-1]["output"]


@pytest.fixture(params=["stream", "polls"])
def paced(request: pytest.FixtureRequest, emu: Emulator) -> Emulator:
    """flux-pro takes about 1 s, followed over its event stream or by polls."""
    emu.configure(time_scale=0.1)
    if request.param == "polls":
        emu.add_fault("status", path="/v1/predictions/*/events", status=404)
    return emu


def test_on_progress_is_told_each_state_once(paced: Emulator) -> None:
    states: list[dict[str, Any]] = []
    with SkytellsClient(paced.api_key, base_url=paced.base_url, poll_interval=100) as client:
        client.run("flux-pro", FLUX["input"], on_progress=states.append)
    _check_told_once(states)


@pytest.mark.anyio
async def test_async_on_progress_is_told_each_state_once(paced: Emulator) -> None:
    states: list[dict[str, Any]] = []
    async with AsyncSkytellsClient(
        paced.api_key, base_url=paced.base_url, poll_interval=100
    ) as client:
        await client.run("flux-pro", FLUX["input"], on_progress=states.append)
    _check_told_once(states)
