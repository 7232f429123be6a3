"""Every emulator test gets a private state folder (``XDG_RUNTIME_DIR``): an emulator started
here never advertises itself to a developer's ``skytells --emulator`` (nor finds theirs)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def private_state(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A fresh ``XDG_RUNTIME_DIR`` (0700) for the test and the processes it starts."""
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder
