"""``--emulator`` uses the running ``skytells emulator`` (ids and output URLs outlive the
command), or says on one stderr line that its own emulator ends with the command; the banner's
``export`` line points the SDK and the CLI at it (the installed commands, real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import SKYTELLS, base_env, run_in_pipe, run_in_terminal


class Served:
    """A ``skytells emulator`` process and the banner it printed."""

    def __init__(self, process: subprocess.Popen[str], banner: list[str]) -> None:
        self.process = process
        self.banner = banner

    @property
    def export(self) -> str:
        (line,) = [line.strip() for line in self.banner if line.strip().startswith("export ")]
        return line


@pytest.fixture
def served() -> Iterator[Served]:
    process = subprocess.Popen(
        [SKYTELLS, "emulator", "--port", "0", "--time-scale", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base_env(),
    )
    try:
        assert process.stdout is not None
        banner: list[str] = []
        deadline = time.monotonic() + 60
        while not banner or "Ctrl-C" not in banner[-1]:
            assert time.monotonic() < deadline and process.poll() is None, banner
            banner.append(process.stdout.readline())
        yield Served(process, banner)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


def _state_files(private_state: Path) -> list[Path]:
    folder = private_state / "skytells"
    return sorted(folder.glob("emulator-*.json")) if folder.exists() else []


def test_emulator_option_uses_the_running_emulator(served: Served, private_state: Path) -> None:
    env = base_env()  # no key, no base URL
    created = run_in_pipe(["--emulator", "run", "flux-edge", "-i", "prompt=x", "--json"], env)
    assert created.code == 0 and "note:" not in created.err, created.err
    prediction = json.loads(created.out)
    fetched = run_in_pipe(["predictions", "get", prediction["id"], "--json", "--emulator"], env)
    assert fetched.code == 0 and json.loads(fetched.out)["id"] == prediction["id"]
    in_terminal = run_in_terminal(["--emulator", "predictions", "list"], env, columns=120)
    assert in_terminal.code == 0 and prediction["id"] in in_terminal.out
    assert httpx.get(prediction["output"][0]).status_code == 200  # the URL outlived the command
    (state,) = _state_files(private_state)
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert oct(state.parent.stat().st_mode & 0o777) == "0o700"
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=30) == 0
    assert _state_files(private_state) == []  # removed at exit


def test_the_banner_exports_point_the_cli_at_it(served: Served) -> None:
    assert "SKYTELLS_BASE_URL=http://127.0.0.1:" in served.export
    assert "SKYTELLS_API_KEY=" in served.export
    script = f"{served.export}; {SKYTELLS} run flux-edge -i prompt=x --json"
    done = subprocess.run(
        ["bash", "-c", script], env=base_env(), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    listed = subprocess.run(
        ["bash", "-c", f"{served.export}; {SKYTELLS} predictions list"],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(done.stdout)["id"] in listed.stdout


@pytest.mark.parametrize("terminal", [False, True])
def test_without_a_running_emulator_one_line_says_the_state_ends(terminal: bool) -> None:
    argv = ["--emulator", "run", "flux-edge", "-i", "prompt=x", "--no-wait"]
    run = run_in_terminal if terminal else run_in_pipe
    done = run(argv, base_env())
    assert done.code == 0, done.text
    notes = [line for line in (done.err or done.out).splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "end with it" in notes[0] and "skytells emulator" in notes[0]
    if not terminal:
        assert "note:" not in done.out


def test_a_killed_emulator_is_forgotten(served: Served, private_state: Path) -> None:
    (state,) = _state_files(private_state)
    os.kill(served.process.pid, signal.SIGKILL)
    served.process.wait(timeout=30)
    assert state.exists()  # kill -9 left it behind
    done = run_in_pipe(["--emulator", "models", "list"], base_env())
    assert done.code == 0 and "note:" in done.err and "truefusion" in done.out
    assert not state.exists()
