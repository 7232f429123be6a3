"""Every Python code block of the README runs as written against the emulator."""

from __future__ import annotations

import re
import textwrap
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
        result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=code.count("def test_"))
        return
    monkeypatch.chdir(tmp_path)  # blocks that save files write them here
    exec(compile(code, f"README.md block {index}", "exec"), {"__name__": "__readme__"})
