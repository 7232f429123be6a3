"""The command line in a real terminal (tmux): the progress bar renders and moves."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


def test_progress_bar_renders_in_a_terminal(tmp_path: Path) -> None:
    session = f"skytells-{uuid.uuid4().hex[:8]}"
    skytells = Path(sys.executable).with_name("skytells")
    command = (
        f"SKYTELLS_EMULATOR_TIME_SCALE=0.05 {skytells} --emulator run mera "
        f"-i prompt=city -i seconds=4 -i size=640x360 --output-dir {tmp_path}; "
        "echo EXIT=$?; sleep 30"
    )
    env = {**os.environ, "TERM": "xterm-256color"}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", command],
        check=True,
        env=env,
    )
    screens: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            screen = subprocess.run(
                ["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True
            ).stdout
            screens.append(screen)
            if "EXIT=" in screen:
                break
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    final = screens[-1]
    assert "EXIT=0" in final
    assert "━" in final and "100%" in final and "succeeded" in final
    # while running, the bar showed a status other than the final one
    assert any(
        ("processing" in s or "starting" in s or "pending" in s) and "━" in s for s in screens
    )
    assert "saved:" in final and list(tmp_path.glob("*.mp4"))
