"""Requests files and the checks of a batch's results, shared by the batch tests."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from skytells._clients.batch_engine import _file_binding
from skytells._core.batchfile import fingerprint
from skytells._io.journal import Journal, journal_path

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


def journal_with_creating_rows(requests: Path, results: Path, lines: list[int]) -> None:
    """A journal as a run killed with the creates of ``lines`` in flight leaves it."""
    journal = Journal(journal_path(results))
    journal.begin_fill()
    for line, text in enumerate(requests.read_text().splitlines(), start=1):
        data = json.loads(text)
        journal.add(line, data["custom_id"], json.dumps(data))
    journal.finish_fill(_file_binding(requests))
    for line in lines:
        journal.mark_creating(line, time.time() - 1, fingerprint(MODEL, {"prompt": "x"}))
    journal.commit()
    journal.close()
