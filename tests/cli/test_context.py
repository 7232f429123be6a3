"""``--emulator`` uses the running ``skytells emulator`` (ids and output URLs outlive the
command), or says on one stderr line that its own emulator ends with the command; the banner's
``export`` line points the SDK and the CLI at it (the installed commands, real processes)."""

from __future__ import annotations

import json
import os
import signal
import socket
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


def _served_url(served: Served) -> tuple[str, str]:
    line = served.export  # export SKYTELLS_BASE_URL=... SKYTELLS_API_KEY=...
    fields = dict(word.split("=", 1) for word in line.split()[1:])
    return fields["SKYTELLS_BASE_URL"], fields["SKYTELLS_API_KEY"]


@pytest.mark.parametrize("running", [True, False])
def test_a_proxy_of_the_environment_never_gets_emulator_traffic(
    running: bool, request: pytest.FixtureRequest
) -> None:
    if running:
        request.getfixturevalue("served")
    with socket.socket() as proxy:  # a proxy that would see any request (and the key)
        proxy.bind(("127.0.0.1", 0))
        proxy.listen(16)
        proxy.setblocking(False)
        address = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        env = base_env(HTTP_PROXY=address, ALL_PROXY=address, NO_PROXY="localhost")
        env.pop("no_proxy", None)
        done = run_in_pipe(["--emulator", "run", "flux-edge", "-i", "prompt=x", "--json"], env)
        assert done.code == 0, done.err
        assert ("note:" in done.err) is not running  # the running one was found, directly
        with pytest.raises(BlockingIOError):
            proxy.accept()  # nothing ever connected to the proxy


def test_a_fault_on_the_api_is_not_consumed_by_the_probe(served: Served) -> None:
    base_url, key = _served_url(served)
    root = base_url.removesuffix("/v1")
    control = httpx.Client(base_url=root, headers={"x-api-key": key})
    control.post("/_emulator/faults", json={"kind": "status", "status": 503, "count": 1})
    done = run_in_pipe(["--emulator", "predictions", "list", "--json"], base_env())
    assert "note:" not in done.err, done.err  # the running emulator was used
    (fault,) = control.get("/_emulator/faults").json()
    assert fault["fired"] == 1  # by the command's own request, which the SDK retried
    assert done.code == 0, done.err
    control.close()


def test_a_running_emulator_that_does_not_answer_is_named(served: Served) -> None:
    base_url, _ = _served_url(served)
    os.kill(served.process.pid, signal.SIGSTOP)  # alive, but answers nothing
    try:
        done = run_in_pipe(["--emulator", "models", "list"], base_env())
    finally:
        os.kill(served.process.pid, signal.SIGCONT)
    assert done.code == 0 and "truefusion" in done.out, done.err
    notes = [line for line in done.err.splitlines() if line.startswith("note:")]
    assert len(notes) == 2, done.err
    assert notes[0].startswith("note: found a running emulator but it did not answer: ")
    assert f"{base_url} (no answer within 1 s); using a temporary one" in notes[0]


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "inf"])
def test_a_bad_time_scale_is_one_line(value: str) -> None:
    done = run_in_pipe(
        ["--emulator", "models", "list"], base_env(SKYTELLS_EMULATOR_TIME_SCALE=value)
    )
    assert done.code == 2, done.err
    (line,) = done.err.strip().splitlines()
    assert line.startswith("skytells models list: error: SKYTELLS_EMULATOR_TIME_SCALE=")
    assert "Traceback" not in done.err


def test_ctrl_c_with_a_temporary_emulator_says_the_prediction_ended() -> None:
    process = subprocess.Popen(
        [SKYTELLS, "--emulator", "run", "mera", "-i", "prompt=x"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base_env(SKYTELLS_EMULATOR_TIME_SCALE="1"),  # mera runs for about a minute
    )
    try:
        assert process.stderr is not None
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while not any(line.startswith("mera ") for line in seen):  # its status line: following
            assert time.monotonic() < deadline and process.poll() is None, seen
            seen.append(process.stderr.readline())
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 130, err
    (line,) = [line for line in err.splitlines() if line.startswith("Interrupted.")]
    assert "ended with this command's temporary emulator" in line
    assert "goes on" not in line and "predictions get" not in line
    assert "Traceback" not in out + err
