"""The running emulator's state file: private (0600 in a 0700 folder of the user's), found only
while its emulator answers, removed when stale (process gone, port closed); the key goes only to
a loopback address."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from skytells.emulator import Emulator
from skytells.emulator._discovery import (
    find_running,
    publish,
    reachable_url,
    state_dir,
    withdraw,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _write(folder: Path, pid: int, base_url: str, key: str = "sk-x") -> Path:
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / f"emulator-{pid}.json"
    path.write_text(json.dumps({"base_url": base_url, "api_key": key, "pid": pid}))
    path.chmod(0o600)
    return path


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_published_file_is_private_and_found_while_the_emulator_answers(
    private_state: Path,
) -> None:
    with Emulator(time_scale=0) as emu:
        path = publish(emu.base_url, emu.api_key)
        assert path is not None and path.parent == state_dir() == private_state / "skytells"
        assert _mode(path.parent) == 0o700 and _mode(path) == 0o600
        found = find_running()
        assert found is not None and found.base_url == emu.base_url
        assert found.api_key == emu.api_key and emu.api_key not in repr(found)
        withdraw(path)
        assert not path.exists() and find_running() is None


def test_a_file_left_by_a_killed_emulator_is_removed(private_state: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    folder = private_state / "skytells"
    dead_process = _write(folder, gone.pid, "http://127.0.0.1:9/v1")
    closed_port = _write(folder, os.getpid(), f"http://127.0.0.1:{_closed_port()}/v1")
    assert find_running() is None
    assert not dead_process.exists() and not closed_port.exists()


def test_a_folder_others_can_open_or_a_link_is_not_trusted(
    private_state: Path, tmp_path: Path
) -> None:
    with Emulator(time_scale=0) as emu:
        path = publish(emu.base_url, emu.api_key)
        assert path is not None and find_running() is not None
        path.parent.chmod(0o755)
        assert find_running() is None  # readable by others: not used
        path.parent.chmod(0o700)
        elsewhere = tmp_path / "elsewhere"
        path.parent.rename(elsewhere)
        (private_state / "skytells").symlink_to(elsewhere)
        assert find_running() is None  # a link: not followed
        assert publish(emu.base_url, emu.api_key) is None


@pytest.mark.parametrize(
    "base_url", ["http://example.com/v1", "https://127.0.0.1:1/v1", "http://10.0.0.1:80/v1"]
)
def test_a_file_that_names_another_host_is_ignored(private_state: Path, base_url: str) -> None:
    _write(private_state / "skytells", os.getpid(), base_url)
    assert find_running() is None  # never asked: the key goes only to loopback


def test_a_wildcard_bind_is_published_as_its_loopback_address(private_state: Path) -> None:
    with Emulator(time_scale=0) as emu:
        port = emu.base_url.split(":")[-1].split("/")[0]
        # as `skytells emulator --host 0.0.0.0 --allow-remote` would publish it (the server
        # here listens on loopback only: tests use no other address)
        path = publish(f"http://0.0.0.0:{port}/v1", emu.api_key)
        assert path is not None
        assert json.loads(path.read_text())["base_url"] == f"http://127.0.0.1:{port}/v1"
        found = find_running()
        assert found is not None and found.base_url == emu.base_url
        withdraw(path)
    assert reachable_url("http://[::]:8787/v1") == "http://[::1]:8787/v1"
    assert reachable_url("http://127.0.0.1:8787/v1") == "http://127.0.0.1:8787/v1"
    assert publish("http://10.1.2.3:8787/v1", "sk-x") is None  # not reachable on loopback


def test_the_probe_asks_the_control_api_so_api_faults_are_left_alone(
    private_state: Path,
) -> None:
    with Emulator(time_scale=0) as emu:
        emu.add_fault("status", path="/v1/*", status=503, count=1)
        emu.add_fault("latency", path="/v1/*", latency_ms=5000, count=1)
        path = publish(emu.base_url, emu.api_key)
        unanswered: list[str] = []
        assert find_running(unanswered) is not None and unanswered == []
        assert [fault["fired"] for fault in emu.faults()] == [0, 0]
        withdraw(path)


def test_an_emulator_that_does_not_answer_is_named(private_state: Path) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        path = _write(private_state / "skytells", os.getpid(), base_url)
        unanswered: list[str] = []
        assert find_running(unanswered) is None
        assert unanswered == [f"{base_url} (no answer within 1 s)"]
        assert path.exists()  # alive: not removed


def test_the_probe_never_goes_through_a_proxy(
    private_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with Emulator(time_scale=0) as emu:
        path = publish(emu.base_url, emu.api_key)
        assert find_running() is not None
        withdraw(path)
