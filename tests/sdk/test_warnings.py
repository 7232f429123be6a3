"""`warn_caller`: a warning of the SDK points at the application's line, whatever the entry point
(a script, ``python -c``, ``python -``, the interactive prompt): never an error of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pty_session import run_in_pty

CODE = (
    "from skytells import SkytellsClient\n"
    "client = SkytellsClient('sk-test-0000000000', base_url='http://127.0.0.1:9/v1')\n"
    "client.close()\n"
    "print('built')\n"
)
WARNING = "RuntimeWarning: SKYTELLS_LOG='verbose' is not a log level"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYTELLS_")}
    env.update(SKYTELLS_LOG="verbose", PYTHONWARNINGS="default")
    return env


def _run(args: list[str], stdin: str = "", cwd: Path | None = None) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(),
        cwd=cwd,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("entry", ["-c", "stdin", "script"])
def test_a_warning_from_any_entry_point(entry: str, tmp_path: Path) -> None:
    if entry == "-c":
        code, out, err = _run(["-c", CODE])
        where = "<string>:2:"
    elif entry == "stdin":
        code, out, err = _run(["-"], stdin=CODE)
        where = "<stdin>:2:"
    else:
        (tmp_path / "app.py").write_text(CODE)
        code, out, err = _run(["app.py"], cwd=tmp_path)
        where = "app.py:2:"
    assert code == 0, err
    assert out == "built\n"
    assert "Traceback" not in err and "ImportError" not in err
    (line,) = [line for line in err.splitlines() if WARNING in line]
    assert where in line  # the application's line, not the SDK's


def test_a_warning_at_the_interactive_prompt() -> None:
    typed = [line.encode() + b"\n" for line in CODE.splitlines()] + [b"exit()\n"]
    env = {**_env(), "TERM": "dumb"}
    code, seen = run_in_pty([sys.executable, "-q", "-i"], env, typed=typed, timeout=60)
    assert code == 0
    text = seen.decode("utf-8", "replace")
    assert WARNING in text and "built" in text
    assert "Traceback" not in text and "ImportError" not in text
