"""The examples run as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def test_sdk_demo_saves_a_real_image(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "demo.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    (image_path,) = (tmp_path / "outputs").iterdir()
    with Image.open(image_path) as image:
        assert image.format == "PNG" and image.size == (1024, 576)
    assert "succeeded" in result.stdout


def test_the_dask_recipe_demo_runs(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "batch_dask.py"), "--demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "20 results (20 succeeded)" in result.stdout
