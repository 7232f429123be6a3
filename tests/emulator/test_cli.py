"""`python -m skytells.emulator`: prints where it listens and the key, stops cleanly on Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from skytells.emulator import Emulator
from tests.openapi_hook import response_validator_hooks

DEFAULT_KEY = "sk-emulator-0000000000000000"


def test_serves_until_sigint_then_exits_zero() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "skytells.emulator", "--port", "0", "--time-scale", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while not any(line.startswith("API key:") for line in lines):
            assert time.monotonic() < deadline and process.poll() is None, lines
            lines.append(process.stdout.readline().strip())
        url = re.search(r"http://127\.0\.0\.1:\d+/v1", lines[0])
        assert url, lines
        key = lines[1].removeprefix("API key: ")
        assert key == "sk-emulator-0000000000000000"
        with httpx.Client(event_hooks=response_validator_hooks()) as client:
            created = client.post(
                f"{url.group()}/predict",
                headers={"x-api-key": key},
                json={"model": "flux-edge", "input": {"prompt": "x"}, "await": True},
            )
        assert created.status_code == 200 and created.json()["status"] == "succeeded"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_refuses_a_remote_host_without_allow_remote() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skytells.emulator", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


def test_skytells_emulator_takes_the_variant_and_idempotency_flags() -> None:
    """`skytells emulator` (the CLI's subcommand, which runs `python -m skytells.emulator`)."""
    code = "import sys; from skytells.cli import main; sys.exit(main())"
    flags = ["--variant", "canceled", "--variant", "bare_list", "--honour-idempotency"]
    process = subprocess.Popen(
        [sys.executable, "-c", code, "emulator", "--port", "0", "--time-scale", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert url, first
        with httpx.Client(base_url=url.group(), timeout=30) as client:
            config = client.get("/_emulator/config", headers={"x-api-key": DEFAULT_KEY}).json()
            listed = client.get("/v1/predictions", headers={"x-api-key": DEFAULT_KEY}).json()
        assert config["variants"] == ["bare_list", "canceled"]
        assert config["honour_idempotency"] is True
        assert config["await_limit"] == 50.0  # the default hold: below a 60 s client timeout
        assert listed == []  # the bare-array list
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_an_unknown_variant_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skytells.emulator", "--variant", "nope", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "canceled" in result.stderr  # argparse lists the choices


def test_a_port_in_use_is_one_runtime_error_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(Path(sys.executable).with_name("skytells")), "emulator", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr  # the command is right: the port is not free
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"skytells emulator: error: port {port} is in use (")
    assert "--port 0" in line


@pytest.mark.parametrize("key", ["my key;x", "sk-caf\u00e9", "sk-\x1bx"])
def test_a_key_no_client_can_send_is_refused_at_start(key: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "skytells.emulator", "--port", "0", "--api-key", key],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("python -m skytells.emulator: error: api key 1 cannot be used: ")
    assert key not in line  # named by position, never echoed
    with pytest.raises(ValueError, match="api key 2 cannot be used"):
        Emulator(api_keys=["sk-good-key-0000", key])
