"""Requests files and the checks of a batch's results, shared by the batch tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MODEL = "flux-edge"


def write_requests(path: Path, count: int, *, same_input: bool = False, **extra: Any) -> Path:
    """A requests file of ``count`` lines (``same_input``: every line asks the same)."""
    with path.open("w", encoding="utf-8") as file:
        for i in range(count):
            prompt = "the same fox" if same_input else f"fox {i}"
            line = {"custom_id": f"req-{i}", "model": MODEL, "input": {"prompt": prompt, **extra}}
            file.write(json.dumps(line) + "\n")
    return path


def result_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of a results file, parsed (a torn line fails the test)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def assert_exactly_once(emu: Any, results: Path, count: int) -> list[dict[str, Any]]:
    """N predictions on the server, N result lines, one per custom_id, ids all distinct."""
    lines = result_lines(results)
    assert len(lines) == count
    assert len({line["custom_id"] for line in lines}) == count
    assert len({line["id"] for line in lines}) == count
    assert len(emu.predictions()) == count
    assert {line["id"] for line in lines} == {p["id"] for p in emu.predictions()}
    return lines
