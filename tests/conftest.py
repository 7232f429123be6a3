"""Shared fixtures: one emulator per test session (per xdist worker), reset for every test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator
from tests.openapi_hook import response_validator_hooks

pytest_plugins = ["pytester"]

TERMINAL = ("succeeded", "failed", "cancelled")


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    """The session's emulator at time_scale 0 (use `emu` in tests: it is reset first)."""
    # A generous stop_timeout: stopping is bounded by the server, but a busy machine may starve
    # its thread for a while (a teardown must not fail an otherwise green run).
    with Emulator(time_scale=0.0, stop_timeout=60.0) as running:
        yield running


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    """The session emulator, reset: no predictions, no failure rules, initial settings."""
    emulator.reset()
    return emulator


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


@pytest.fixture
def wait_for(http: httpx.Client) -> Callable[..., dict[str, Any]]:
    """`wait_for(id, statuses=TERMINAL)`: poll GET /predictions/{id} until its status is one of them."""

    def wait(prediction_id: str, statuses: tuple[str, ...] = TERMINAL) -> dict[str, Any]:
        return _poll(
            lambda: http.get(f"/predictions/{prediction_id}").json(),
            lambda body: body["status"] in statuses,
        )

    return wait
