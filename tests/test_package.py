"""The package as a new user installs it: the wheel built from this tree, in a fresh venv.

The wheel is built once per run (``pip wheel --no-build-isolation``: hatchling is in the dev
extra, so this works offline and in well under a second). The bare environment is a new venv
with the wheel installed ``--no-deps`` and, through a ``.pth`` file, a folder that exposes only
the core dependencies' files (symlinks into this venv: the closure of the wheel's own
``Requires-Dist`` without extras), so no extra is importable in it. Adding a folder with rich
(``PYTHONPATH``) gives the ``[cli]``-only environment. Every command runs in a subprocess.
"""

from __future__ import annotations

import email
import importlib.metadata
import os
import re
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.xdist_group("package")  # one worker builds the wheel and the venv

ROOT = Path(__file__).resolve().parent.parent
URL = "https://github.com/skytells/skytells-python"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    command += ["--no-index", "--quiet", "--wheel-dir", str(out), str(ROOT)]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    (built,) = out.glob("skytells-*.whl")
    return built


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.message_from_bytes(archive.read(name))


def _closure(requirements: Iterable[str]) -> set[str]:
    """The distributions ``requirements`` install (no extras), as found in this venv."""
    found: set[str] = set()
    todo = list(requirements)
    while todo:
        requirement = Requirement(todo.pop())
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found:
            continue
        found.add(name)
        todo.extend(importlib.metadata.distribution(name).requires or [])
    return found


def _expose(distributions: Iterable[str], folder: Path) -> Path:
    """A folder with symlinks to these distributions' top-level files in this venv, only."""
    folder.mkdir()
    for name in distributions:
        dist = importlib.metadata.distribution(name)
        for top in {Path(str(f)).parts[0] for f in dist.files or ()}:
            if top in ("..", "__pycache__") or (folder / top).exists():
                continue
            (folder / top).symlink_to(Path(str(dist.locate_file(top))))
    return folder


@dataclass
class Bare:
    """A venv with the wheel and its core dependencies only; ``run`` a command in it."""

    venv: Path
    home: Path
    cli_path: Path
    pytest_path: Path
    emulator_path: Path

    def run(self, *args: str, path: Path | None = None, cwd: Path | None = None) -> Any:
        env = {"PATH": f"{self.venv / 'bin'}:{os.environ['PATH']}", "HOME": str(self.home)}
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # nothing written through the symlinks
        if path is not None:
            env["PYTHONPATH"] = str(path)
        return subprocess.run(
            args, env=env, cwd=cwd or self.home, capture_output=True, text=True, timeout=60
        )


@pytest.fixture(scope="session")
def bare(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Bare:
    root = tmp_path_factory.mktemp("bare")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps"]
    install += ["--no-index", "--quiet", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=120)
    core = _closure(_metadata(wheel).get_all("Requires-Dist") or [])
    assert not core & {"rich", "starlette", "uvicorn", "pillow", "av", "jsonschema"}
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "skytells-core-deps.pth").write_text(f"{_expose(core, root / 'core')}\n")
    home = root / "home"
    home.mkdir()
    return Bare(
        venv,
        home,
        cli_path=_expose(_closure(["rich"]) - core, root / "cli"),
        pytest_path=_expose(_closure(["pytest"]) - core, root / "pytest"),
        emulator_path=_expose(_closure(_extra(wheel, "emulator")) - core, root / "emulator"),
    )


def _extra(wheel: Path, extra: str) -> list[str]:
    """The requirements of ``extra`` in the wheel's metadata, without their marker."""
    found = []
    for line in _metadata(wheel).get_all("Requires-Dist") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is not None and marker.evaluate({"extra": extra}) and not marker.evaluate({}):
            found.append(f"{requirement.name}{requirement.specifier}")
    return found


def _one_line(result: Any, extra: str) -> str:
    """The result's only output: one line on stderr naming ``extra``, exit code 1."""
    assert result.returncode == 1, result
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"needs the '{extra}' extra" in lines[0]
    assert f"pip install 'skytells[{extra}]'" in lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


def test_the_wheel_ships_the_license_urls_and_version(wheel: Path) -> None:
    assert wheel.name == "skytells-2.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (license_name,) = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(license_name).decode().startswith("MIT License")
        entry_points = archive.read("skytells-2.0.0.dist-info/entry_points.txt").decode()
    assert "skytells = skytells.cli:main" in entry_points
    assert "skytells = skytells.emulator.pytest_plugin" in entry_points
    metadata = _metadata(wheel)
    assert metadata["Version"] == "2.0.0"
    assert metadata["License-Expression"] == "MIT"
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL") or [])
    assert urls == {
        "Homepage": URL,
        "Documentation": f"{URL}#readme",
        "Source": URL,
        "Issues": f"{URL}/issues",
    }
    assert set(metadata.get_all("Provides-Extra") or []) >= {"cli", "emulator", "all"}


def test_the_long_description_links_nothing_the_wheel_lacks(wheel: Path) -> None:
    description = _metadata(wheel).get_payload()
    assert isinstance(description, str) and "# Skytells Python SDK" in description
    targets = re.findall(r"\]\(([^)\s]+)\)", description)
    assert targets
    for target in targets:  # PyPI shows the README without the repository around it
        assert target.startswith(("#", "https://")), target  # an anchor or an absolute URL
    assert [t for t in targets if t.startswith(f"{URL}/")]  # the repository's files by URL


def test_the_core_sdk_works_without_any_extra(bare: Bare, emu: Any) -> None:
    script = (
        "import asyncio, importlib.util, skytells\n"
        "assert skytells.__version__ == '2.0.0'\n"
        "for extra in ('rich', 'starlette', 'uvicorn', 'PIL', 'av', 'jsonschema', 'pytest'):\n"
        "    assert importlib.util.find_spec(extra) is None, extra\n"
        f"client = skytells.SkytellsClient({emu.api_key!r}, base_url={emu.base_url!r})\n"
        "print(client.run('flux-edge', input={'prompt': 'x'}).status)\n"
        "client.close()\n"
        "async def main():\n"
        f"    async with skytells.AsyncSkytellsClient({emu.api_key!r}, base_url={emu.base_url!r})"
        " as client:\n"
        "        print((await client.run('flux-edge', input={'prompt': 'x'})).status)\n"
        "asyncio.run(main())\n"
    )
    result = bare.run(str(bare.venv / "bin" / "python"), "-c", script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["succeeded", "succeeded"]


@pytest.mark.parametrize("args", [["--help"], ["models", "list"], ["--version"], []])
def test_the_command_without_the_cli_extra(bare: Bare, args: list[str]) -> None:
    line = _one_line(bare.run("skytells", *args), "cli")
    assert line == (
        "skytells: the command line needs the 'cli' extra (rich is not installed): "
        "pip install 'skytells[cli]'"
    )


def test_emulator_flag_with_the_cli_extra_only(bare: Bare) -> None:
    result = bare.run(
        "skytells", "--emulator", "run", "truefusion", "-i", "prompt=x", path=bare.cli_path
    )
    assert _one_line(result, "emulator").startswith("skytells: --emulator needs")
    # rich is really there: the command itself works (its help prints).
    assert bare.run("skytells", "--help", path=bare.cli_path).returncode == 0


@pytest.mark.parametrize(
    "command",
    [
        ["skytells", "emulator"],
        ["skytells", "emulator", "--port", "0"],
        ["python", "-m", "skytells.emulator"],
    ],
)
@pytest.mark.parametrize("with_cli", [False, True])
def test_the_emulator_without_its_extra(bare: Bare, command: list[str], with_cli: bool) -> None:
    result = bare.run(*command, path=bare.cli_path if with_cli else None)
    assert _one_line(result, "emulator").startswith("skytells: the emulator needs")


PLUGIN_TEST = """
def test_without_the_fixture():
    import skytells


def test_with_the_fixture(skytells_emulator):
    raise AssertionError("never reached")


def test_with_a_client(skytells_client):
    raise AssertionError("never reached")
"""


def test_the_pytest_fixture_without_the_emulator_extra(bare: Bare) -> None:
    (bare.home / "test_user.py").write_text(PLUGIN_TEST)
    result = bare.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_user.py",
        path=bare.pytest_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 passed, 2 errors" in result.stdout
    line = (
        "skytells: the skytells_emulator fixture needs the 'emulator' extra (starlette is not "
        "installed): pip install 'skytells[emulator]'"
    )
    assert result.stdout.count(line) == 2
    assert "Traceback" not in result.stdout


def test_the_banner_of_an_emulator_only_install_names_the_cli_extra(bare: Bare) -> None:
    assert "rich" not in {p.name for p in bare.emulator_path.iterdir()}
    env = {
        "PATH": f"{bare.venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(bare.home),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(bare.emulator_path),
        "XDG_RUNTIME_DIR": str(bare.home / "runtime"),
    }
    (bare.home / "runtime").mkdir(mode=0o700, exist_ok=True)
    process = subprocess.Popen(
        ["python", "-m", "skytells.emulator", "--port", "0"],
        env=env,
        cwd=bare.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner: list[str] = []
        while not banner or "Ctrl-C" not in banner[-1]:
            line = process.stdout.readline()
            assert line, process.communicate(timeout=30)
            banner.append(line)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.communicate()
    (uses,) = [line for line in banner if "skytells --emulator" in line]
    assert "pip install 'skytells[cli]'" in uses


def test_the_readme_fixture_example_collects_without_the_emulator_extra(bare: Bare) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    (example,) = [block for block in blocks if "def test_my_thumbnailer" in block]
    (bare.home / "test_readme_example.py").write_text(example)
    result = bare.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_readme_example.py",
        path=bare.pytest_path,
    )
    # collected (no ImportError): each test that asks for the fixture says what to install
    assert "2 errors" in result.stdout, result.stdout + result.stderr
    assert "ImportError" not in result.stdout and "needs the 'emulator' extra" in result.stdout
