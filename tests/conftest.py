"""Shared fixtures: one emulator per test session (per xdist worker) that checks its own responses
against its OpenAPI document, reset for every test."""

from __future__ import annotations

import asyncio
import importlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator
from tests.openapi_hook import response_validator_hooks
from tests.openapi_server_check import ResponseChecker, install

pytest_plugins = ["pytester"]

# `pytester` (README blocks that are tests run through it) puts `sys.modules` back as it was after
# each of its tests: a module first imported in such a test is imported anew by a later one, a
# second copy beside objects made from the first (an aiohttp `ClientTimeout` cached by the
# transport then fails aiohttp's own isinstance check). Loaded here once, before any test.
for _lazy in ("aiohttp", "skytells._clients.async_", "skytells._io.aiohttp_transport"):
    importlib.import_module(_lazy)

TERMINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="session")
def response_checker() -> Iterator[ResponseChecker]:
    """The session emulator's own check of its responses against its OpenAPI document."""
    checker = ResponseChecker(None)
    yield checker
    checker.close()


@pytest.fixture(scope="session")
def emulator(response_checker: ResponseChecker) -> Iterator[Emulator]:
    """The session's emulator at time_scale 0 (use `emu` in tests: it is reset first).

    It validates every response it sends against its OpenAPI document (`response_checker`),
    whatever the client, so tests may use any client, the SDK's default one included. A
    generous stop_timeout: stopping is bounded by the server, but a busy machine may starve
    its thread for a while (a teardown must not fail an otherwise green run).
    """
    emulator = Emulator(time_scale=0.0, stop_timeout=60.0)
    install(emulator.app, response_checker)
    with emulator as running:
        yield running
    _fail_on_violations(response_checker)


@pytest.fixture
def emu(emulator: Emulator, response_checker: ResponseChecker) -> Iterator[Emulator]:
    """The session emulator, reset: no predictions, no failure rules, initial settings.

    At teardown the test fails if a response the emulator sent did not conform to its OpenAPI
    document (responses sent after the previous test's teardown count for this test).
    """
    emulator.reset()
    yield emulator
    default = sys.modules.get("skytells._default")
    if default is not None:  # a test (a README block) used `skytells.run`: no client outlives it
        default.set_default_client(None)
    _fail_on_violations(response_checker)


def _fail_on_violations(checker: ResponseChecker) -> None:
    violations = checker.take_violations()
    if violations:
        pytest.fail(
            f"{len(violations)} emulator response(s) did not conform to the OpenAPI document:\n"
            + "\n".join(violations[:5]),
            pytrace=False,
        )


@pytest.fixture
def http(emu: Emulator) -> Iterator[httpx.Client]:
    """An authenticated client on `emu.base_url`; every response is validated (OpenAPI hook)."""
    with httpx.Client(
        base_url=emu.base_url,
        headers={"x-api-key": emu.api_key},
        event_hooks=response_validator_hooks(),
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def anon(emu: Emulator) -> Iterator[httpx.Client]:
    """A client on the server origin without an API key (output files)."""
    with httpx.Client(
        base_url=emu.root_url, event_hooks=response_validator_hooks(), timeout=30
    ) as client:
        yield client


@pytest.fixture
def control(emu: Emulator) -> Iterator[httpx.Client]:
    """A client of the control API (`/_emulator/...`) on the server origin, with the key."""
    with httpx.Client(
        base_url=emu.root_url,
        headers={"x-api-key": emu.api_key},
        event_hooks=response_validator_hooks(),
        timeout=30,
    ) as client:
        yield client


def _poll(
    fetch: Callable[[], dict[str, Any]],
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 15.0,
    interval: float = 0.005,
) -> dict[str, Any]:
    """Call `fetch` until `done` holds for its result; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"condition not reached in {timeout} s: {value}"
        time.sleep(interval)


@pytest.fixture
def poll() -> Callable[..., Any]:
    """`poll(fetch, done, timeout=15)`: call `fetch` until `done(result)`; bounded, never timed."""
    return _poll


async def apoll(
    fetch: Callable[[], Any],
    done: Callable[[Any], bool],
    timeout: float = 15.0,
    interval: float = 0.005,
) -> Any:
    """`_poll` for async tests: between calls the event loop runs (`fetch` is a quick sync call,
    such as `emu.state`); AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"condition not reached in {timeout} s: {value}"
        await asyncio.sleep(interval)


def checks_after_create(state: dict[str, Any]) -> int:
    """How many requests, from an emulator `state()`, looked a prediction up or followed its
    events: once one has, a client that created it is waiting for it."""
    by_endpoint = state["requests_by_endpoint"]
    return int(
        by_endpoint.get("get", 0) + by_endpoint.get("stream", 0) + by_endpoint.get("events", 0)
    )


@pytest.fixture
def wait_for(http: httpx.Client) -> Callable[..., dict[str, Any]]:
    """`wait_for(id, statuses=TERMINAL)`: poll GET /predictions/{id} until its status is one of them."""

    def wait(prediction_id: str, statuses: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
        return _poll(
            lambda: http.get(f"/predictions/{prediction_id}").json(),
            lambda body: body["status"] in statuses,
        )

    return wait
