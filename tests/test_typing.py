"""The SDK's types help users: the README's Python blocks and typical user code pass
``mypy --strict`` and ``pyright`` (standard mode, its default), and a deliberate type error is
rejected by both.

Each README block is checked as a file of its own, as it runs in tests/test_readme.py (no globals
but ``__name__``); tests/typing/typical_user_code.py is checked as kept, and also run against the
emulator, so what it claims about the shapes is what the SDK returns. Each checker runs once over
all the files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_readme import BLOCKS

HERE = Path(__file__).resolve().parent
TYPICAL = HERE / "typing" / "typical_user_code.py"
NEGATIVE = HERE / "typing" / "wrong_user_code.py"
EXPECT = re.compile(r"#\s*expect-error\b")

pytestmark = pytest.mark.xdist_group("typing")  # one worker: the checkers use both cores


def _expected_error_lines(path: Path) -> set[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {number for number, line in enumerate(lines, 1) if EXPECT.search(line)}


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The files, and what each checker said about each (one run of each over all of them)."""
    folder = tmp_path_factory.mktemp("typing")
    files: dict[str, Path] = {}
    for index, code in enumerate(BLOCKS):
        path = folder / f"readme_block_{index}.py"
        path.write_text(textwrap.dedent(code), encoding="utf-8")
        files[f"README block {index}"] = path
    for source in (TYPICAL, NEGATIVE):
        path = folder / source.name
        shutil.copyfile(source, path)
        files[source.name] = path
    paths = list(files.values())
    mypy, pyright = _mypy(folder, paths), _pyright(folder, paths)  # both at once: ~4 s of CPU
    yield {"files": files, "mypy": mypy.result(), "pyright": pyright.result()}


class _Run:
    """A checker running in a subprocess; `result` parses what it said, per file."""

    def __init__(
        self,
        args: list[str],
        folder: Path,
        parse: Callable[[str], Iterator[tuple[Path, int, str]]],
        env: dict[str, str] | None = None,
    ) -> None:
        self._process = subprocess.Popen(
            args, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._parse = parse

    def result(self) -> dict[Path, list[tuple[int, str]]]:
        out, err = self._process.communicate(timeout=300)
        assert self._process.returncode in (0, 1), out + err  # 2 and up: it could not check
        found: dict[Path, list[tuple[int, str]]] = {}
        for path, line, message in self._parse(out):
            found.setdefault(path, []).append((line, message))
        return found


def _mypy_errors(out: str) -> Iterator[tuple[Path, int, str]]:
    for line in out.splitlines():
        match = re.match(r"(.+?):(\d+): error: (.*)", line)
        if match:
            yield Path(match[1]), int(match[2]), match[3]


def _pyright_errors(out: str) -> Iterator[tuple[Path, int, str]]:
    for diagnostic in json.loads(out)["generalDiagnostics"]:
        if diagnostic["severity"] == "error":
            line = diagnostic["range"]["start"]["line"] + 1
            yield Path(diagnostic["file"]), line, diagnostic["message"]


def _mypy(folder: Path, paths: list[Path]) -> _Run:
    config = folder / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\npython_version = 3.10\n", encoding="utf-8")
    args = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(config),
        "--cache-dir",
        str(folder / ".mypy_cache"),
        "--show-error-codes",
        "--no-error-summary",
        "--no-pretty",
        "--show-absolute-path",
        *map(str, paths),
    ]
    return _Run(args, folder, _mypy_errors)


def _pyright(folder: Path, paths: list[Path]) -> _Run:
    config = folder / "pyrightconfig.json"
    config.write_text(
        json.dumps({"typeCheckingMode": "standard", "pythonVersion": "3.10"}), encoding="utf-8"
    )
    env = {**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"}  # no version check on PyPI
    args = [
        sys.executable,
        "-m",
        "pyright",
        "--outputjson",
        "--project",
        str(config),
        "--pythonpath",
        sys.executable,
        *map(str, paths),
    ]
    return _Run(args, folder, _pyright_errors, env)


def test_readme_blocks_are_checked(checked: dict[str, Any]) -> None:
    assert sum(name.startswith("README") for name in checked["files"]) == len(BLOCKS) >= 8


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_readme_blocks_and_typical_code_type_check(checked: dict[str, Any], checker: str) -> None:
    errors = {
        name: checked[checker][path]
        for name, path in checked["files"].items()
        if path.name != NEGATIVE.name and checked[checker].get(path)
    }
    assert errors == {}, f"{checker} rejects: {errors}"


@pytest.mark.parametrize("checker", ["mypy", "pyright"])
def test_a_wrong_type_is_rejected(checked: dict[str, Any], checker: str) -> None:
    """Each line marked ``# expect-error`` in the negative file is an error, and no other is:
    the checkers do look at the SDK's types (a test that cannot fail proves nothing)."""
    path = checked["files"][NEGATIVE.name]
    said = checked[checker].get(path, [])
    assert {line for line, _ in said} == _expected_error_lines(NEGATIVE), said


def test_typical_user_code_runs(
    emu: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The typical code is real: it runs against the emulator as it is type-checked."""
    import runpy

    import skytells

    monkeypatch.setenv("SKYTELLS_API_KEY", emu.api_key)
    monkeypatch.setenv("SKYTELLS_BASE_URL", emu.base_url)
    emu.configure(time_scale=0.0)
    skytells.set_default_client(None)
    try:
        module = runpy.run_path(str(TYPICAL))
        module["main"](tmp_path)
        emu.configure(time_scale=1000.0)  # predictions stay pending: there is time to cancel
        capsys.readouterr()
        with skytells.SkytellsClient() as client:
            module["cancel_and_delete"](client)
        assert capsys.readouterr().out.split() == ["cancelled", "True"]
        assert [p for p in emu.predictions() if p["model"]["name"] == "mera"] == []  # deleted
    finally:
        skytells.set_default_client(None)
