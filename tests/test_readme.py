"""Every Python code block of the README runs as written against the emulator."""

from __future__ import annotations

import gc
import json
import re
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_has_python_blocks() -> None:
    assert len(BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(
    index: int,
    emu: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    pytester: pytest.Pytester,
) -> None:
    code = BLOCKS[index]
    monkeypatch.setenv("SKYTELLS_API_KEY", emu.api_key)
    monkeypatch.setenv("SKYTELLS_BASE_URL", emu.base_url)
    if "def test_" in code:  # a test for users' suites: run it with pytest and the plugin
        pytester.makepyfile(test_from_readme=textwrap.dedent(code))
        # Users run their suites with warnings as errors: the examples must pass that way.
        result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-W", "error")
        result.assert_outcomes(passed=code.count("def test_"))
        return
    monkeypatch.chdir(tmp_path)  # blocks that save files write them here
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the README's examples pass with warnings as errors
        exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "__readme__"})
        gc.collect()  # a client the block left open would warn here


CONSOLE_BLOCKS = re.findall(r"```console\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
# Lines that are not run here, and what runs them instead.
EXERCISED_ELSEWHERE = {
    "make demo": "the Quick start: run by a new user and checked from a fresh clone",
    "make test": "the Quick start: CI runs it (.ci/run)",
    "pip install": "needs the package index; the project's own install is `make`'s",
    "python -m pip wheel": "tests/test_package.py builds the wheel so and installs it",
    "skytells emulator": "serves until Ctrl-C: tests/cli/test_cli.py starts and stops it",
}


def _console_commands() -> list[str]:
    lines = [
        line.split("  #", 1)[0].strip() for block in CONSOLE_BLOCKS for line in block.splitlines()
    ]
    return [line for line in lines if line]


SHELL_SYNTAX = re.compile(r"[|;<>&$`]|^[A-Z_]+=|^eval ")
"""A console line with pipes, redirections, ``$?``, an environment prefix or ``eval`` is run by
bash (with the installed ``skytells`` on its PATH); the others by `main()` in-process."""


def _is_shell(command: str) -> bool:
    return bool(SHELL_SYNTAX.search(command)) and "skytells " in command


def test_every_console_line_is_run_or_accounted_for() -> None:
    commands = _console_commands()
    assert commands
    for command in commands:
        assert (
            command.startswith("skytells ")
            or _is_shell(command)
            or any(command.startswith(k) for k in EXERCISED_ELSEWHERE)
        )


@pytest.fixture
def private_state(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """No README line finds (or advertises) an emulator running outside the test."""
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))


@pytest.mark.parametrize(
    "command",
    [
        c
        for c in _console_commands()
        if c.startswith("skytells ") and not c.startswith("skytells emulator") and not _is_shell(c)
    ],
)
@pytest.mark.usefixtures("private_state")
def test_readme_cli_line_runs(
    command: str,
    emu: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import shlex

    from skytells.cli import main

    monkeypatch.setenv("SKYTELLS_API_KEY", emu.api_key)
    monkeypatch.setenv("SKYTELLS_BASE_URL", emu.base_url)
    monkeypatch.setenv("SKYTELLS_EMULATOR_TIME_SCALE", "0")
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(command)[1:]
    if argv[:1] == ["batch"]:  # a batch's lines need its requests file (status/cancel: a run)
        lines = [
            {"custom_id": f"r{i}", "model": "flux-edge", "input": {"prompt": f"fox {i}"}}
            for i in range(3)
        ]
        (tmp_path / "requests.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        if argv[1] != "run":
            assert main(["batch", "run", "requests.jsonl", "--out", "results.jsonl"]) == 0
    assert main(argv) == 0, capsys.readouterr().err


@pytest.mark.parametrize("command", [c for c in _console_commands() if _is_shell(c)])
@pytest.mark.usefixtures("private_state")
def test_readme_shell_line_runs(command: str, emu: Any, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SKYTELLS_API_KEY": emu.api_key,
        "SKYTELLS_BASE_URL": emu.base_url,
        "SKYTELLS_EMULATOR_TIME_SCALE": "0",
    }
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
