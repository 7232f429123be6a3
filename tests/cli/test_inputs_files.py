"""`-i key=@path` and `-i key=@-` send files; `@@text` is text: the installed command, in a
subprocess, against the emulator."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageStat

from skytells import ValidationError
from skytells.cli._inputs import parse_inputs

COMMAND = [sys.executable, "-c", "from skytells.cli import main; raise SystemExit(main())"]


def red_png(size: tuple[int, int] = (37, 23)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (255, 0, 0)).save(out, "PNG")
    return out.getvalue()


def skytells(emu: Any, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SKYTELLS_API_KEY": emu.api_key, "SKYTELLS_BASE_URL": emu.base_url}
    return subprocess.run(
        [*COMMAND, *args], input=stdin, capture_output=True, env=env, timeout=120, check=False
    )


def check_output_is_the_red_image(
    result: subprocess.CompletedProcess[bytes], out: Path
) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr.decode()
    data: dict[str, Any] = json.loads(result.stdout)
    (saved,) = out.iterdir()  # --json prints the prediction alone; the file is in --output-dir
    with Image.open(saved) as output:
        assert output.size == (37, 23)
        red, green, blue = ImageStat.Stat(output.convert("RGB")).mean
    assert red > 250 and green < 5 and blue < 5
    return data


def test_at_path_sends_the_file(emu: Any, tmp_path: Path) -> None:
    image = tmp_path / "in.png"
    image.write_bytes(red_png())
    result = skytells(
        emu,
        "run",
        "truefusion-pro",
        "-i",
        "prompt=@@home",
        "-i",
        f"image=@{image}",
        "-i",
        "output_format=png",
        "--json",
        "--output-dir",
        str(tmp_path / "out"),
    )
    data = check_output_is_the_red_image(result, tmp_path / "out")
    assert data["input"]["prompt"] == "@home"  # @@ escapes a leading @
    assert data["input"]["image"].startswith("data:image/png;base64,")


def test_at_dash_sends_standard_input(emu: Any, tmp_path: Path) -> None:
    result = skytells(
        emu,
        "run",
        "truefusion-pro",
        "-i",
        "prompt=x",
        "-i",
        "image=@-",
        "-i",
        "output_format=png",
        "--json",
        "--output-dir",
        str(tmp_path / "out"),
        stdin=red_png(),
    )
    check_output_is_the_red_image(result, tmp_path / "out")


def test_a_missing_file_is_a_clear_error_and_nothing_is_created(emu: Any, tmp_path: Path) -> None:
    result = skytells(
        emu, "run", "truefusion-pro", "-i", "prompt=x", "-i", f"image=@{tmp_path / 'nope.png'}"
    )
    assert result.returncode != 0
    error = result.stdout.decode() + result.stderr.decode()
    assert "no such file" in error and "@@" in error and "Traceback" not in error
    assert emu.predictions() == []


def test_the_at_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    image = tmp_path / "a b.png"
    image.write_bytes(b"x")
    schema = {"properties": {"n": {"type": "integer"}, "s": {"type": "string"}}}
    parsed = parse_inputs([f"f=@{image}", "n=@@1", "s=@@@x", "t=a@b", "e=@@"], None)
    assert parsed == {"f": image, "n": "@1", "s": "@@x", "t": "a@b", "e": "@"}
    assert parse_inputs(["s=@@x"], schema) == {"s": "@x"}
    with pytest.raises(ValidationError, match="names no file"):
        parse_inputs(["f=@"], None)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\x00\xff")))
    assert parse_inputs(["f=@-"], None) == {"f": b"\x00\xff"}
