"""`Emulator` as a context manager: start and stop, addresses, loopback only, lazy imports."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator, EmulatorConfig, create_app
from tests.openapi_hook import response_validator_hooks


def test_context_manager_serves_then_stops() -> None:
    with Emulator(time_scale=0) as emu:
        assert emu.running
        assert emu.base_url == f"http://127.0.0.1:{emu.port}/v1" and emu.port > 0
        assert emu.root_url == f"http://127.0.0.1:{emu.port}"
        with httpx.Client(event_hooks=response_validator_hooks()) as client:
            response = client.get(f"{emu.base_url}/models", headers={"x-api-key": emu.api_key})
        assert response.status_code == 200
    assert not emu.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(emu.base_url)
    with pytest.raises(RuntimeError, match="not running"):
        emu.state()


def test_start_and_stop_explicitly() -> None:
    emu = Emulator(time_scale=0).start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            emu.start()
        assert "running" in repr(emu)
    finally:
        emu.stop()
    emu.stop()  # idempotent


def test_stop_releases_a_request_held_by_await(poll: Callable[..., Any]) -> None:
    emu = Emulator(time_scale=1.0, stop_timeout=5).start()
    body = {"model": "truefusion-ultra", "input": {"prompt": "x"}, "await": True}
    with (
        httpx.Client(
            base_url=emu.base_url,
            headers={"x-api-key": emu.api_key},
            event_hooks=response_validator_hooks(),
        ) as client,
        ThreadPoolExecutor(1) as pool,
    ):
        held = pool.submit(client.post, "/predict", json=body)
        poll(lambda: emu.state()["active"], bool)
        emu.stop()  # raises TimeoutError if the held request kept the server alive
        assert held.result().json()["status"] != "succeeded"
    assert not emu.running


def test_port_in_use_is_an_os_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            Emulator(port=taken.getsockname()[1]).start()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    with pytest.raises(ValueError, match="allow_remote"):
        Emulator(host=host)
    Emulator(host=host, allow_remote=True)  # constructing is allowed; nothing is bound yet


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_hosts_are_accepted(host: str) -> None:
    Emulator(host=host)


def test_localhost_serves_on_ipv4_loopback() -> None:
    with Emulator(host="localhost", time_scale=0) as emu:
        assert emu.root_url.startswith("http://127.0.0.1:")


def test_create_app_is_an_asgi_app_with_its_own_state() -> None:
    first, second = create_app(), create_app(EmulatorConfig(time_scale=0.5))
    assert first.state.store is not second.state.store
    assert second.state.store.config.time_scale == 0.5


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        EmulatorConfig(time_scale=-1)
    with pytest.raises(ValueError):
        EmulatorConfig(api_keys=())
    with pytest.raises(ValueError):
        EmulatorConfig(rate_limit=0)


def test_explicit_retention_is_not_scaled() -> None:
    assert EmulatorConfig(time_scale=0.01).retention_wall_seconds == 300
    assert EmulatorConfig(time_scale=2).retention_wall_seconds == 600
    assert EmulatorConfig(time_scale=2, retention_seconds=1.5).retention_wall_seconds == 1.5


def test_plugin_and_package_import_nothing_heavy() -> None:
    code = (
        "import sys, skytells.emulator, skytells.emulator.pytest_plugin\n"
        "heavy = {'starlette', 'uvicorn', 'jsonschema', 'PIL', 'av'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
