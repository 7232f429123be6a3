"""Running the installed `skytells` command in a subprocess: in a pipe or in a terminal (a pty).

Every test here gets a private state folder (``XDG_RUNTIME_DIR``), so no test finds an emulator
that another test, or a developer, is running.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.pty_session import run_in_pty

ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
SKYTELLS = str(Path(sys.executable).with_name("skytells"))


@pytest.fixture(autouse=True)
def private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A fresh ``XDG_RUNTIME_DIR`` (0700) for the test and the commands it runs."""
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


@dataclass
class Result:
    """A finished command: its exit code, stdout and stderr (in a pty both are in ``out``)."""

    code: int
    out: str
    err: str
    raw: str = ""
    """In a terminal: the output as it came, escape sequences included (``out`` has none)."""

    @property
    def text(self) -> str:
        return self.out + self.err


def base_env(**extra: str) -> dict[str, str]:
    """The environment of a command: this one without colour, width or Skytells settings."""
    drop = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "LINES", "TERM", "SKYTELLS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(PYTHONUTF8="1", TERM="xterm-256color", SKYTELLS_EMULATOR_TIME_SCALE="0")
    env.update(extra)
    return env


def run_in_pipe(
    argv: list[str], env: dict[str, str], stdin: str | None = None, cwd: Path | None = None
) -> Result:
    """``skytells ARGV`` with stdout and stderr on pipes."""
    done = subprocess.run(
        [SKYTELLS, *argv],
        env=env,
        cwd=cwd,
        capture_output=True,
        input=(stdin or "").encode(),
        timeout=120,
        check=False,
    )
    return Result(
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def run_in_terminal(
    argv: list[str], env: dict[str, str], columns: int = 80, cwd: Path | None = None
) -> Result:
    """``skytells ARGV`` in a pseudo-terminal ``columns`` wide (stdin, stdout, stderr on it);
    ``out`` is its output without CSI sequences and with CRLF made LF, ``raw`` as it came."""
    code, output = run_in_pty([SKYTELLS, *argv], env, columns=columns, cwd=cwd)
    raw = output.decode("utf-8", "replace")
    text = ANSI.sub("", raw).replace("\r\n", "\n")
    return Result(code, text, "", raw)


Runner = Callable[..., Result]


@pytest.fixture
def skytells(emu: Any) -> Runner:
    """Run the installed command against the session emulator: ``skytells(*argv,
    terminal=False, columns=80, stdin=None, cwd=None, **env)`` (``env`` adds to or overrides
    the environment)."""

    def run(
        *argv: str,
        terminal: bool = False,
        columns: int = 80,
        stdin: str | None = None,
        cwd: Path | None = None,
        **env: str,
    ) -> Result:
        environment = base_env(SKYTELLS_API_KEY=emu.api_key, SKYTELLS_BASE_URL=emu.base_url)
        environment.update(env)
        if terminal:
            return run_in_terminal(list(argv), environment, columns, cwd)
        return run_in_pipe(list(argv), environment, stdin, cwd)

    return run
