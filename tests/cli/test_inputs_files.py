"""`-i key=@path` and `-i key=@-` send files; `@@text` is text: the installed command, in a
subprocess, against the emulator."""

from __future__ import annotations

import contextlib
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
    streamed = parse_inputs(["f=@-"], None)["f"]
    assert streamed is sys.stdin.buffer and streamed.read() == b"\x00\xff"  # streamed, not read


def test_at_dash_streams_standard_input_and_stops_at_the_size_limit(emu: Any) -> None:
    """300 MB piped in: the command reads about the 10 MiB limit, then stops (never the whole)."""
    env = {**os.environ, "SKYTELLS_API_KEY": emu.api_key, "SKYTELLS_BASE_URL": emu.base_url}
    process = subprocess.Popen(
        [*COMMAND, "run", "truefusion-pro", "-i", "prompt=x", "-i", "image=@-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdin is not None
    written = 0
    chunk = red_png() + b"\0" * (1024 * 1024 - len(red_png()))
    try:
        while written < 300_000_000:
            process.stdin.write(chunk)
            process.stdin.flush()
            written += len(chunk)
    except BrokenPipeError:  # the command stopped reading and exited
        pass
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    process.stdin = None  # closed (communicate() would flush it)
    stdout, stderr = process.communicate(timeout=120)
    error = stdout.decode() + stderr.decode()
    assert process.returncode == 1, error
    assert "FILE_TOO_LARGE" in error and "-i image=https://" in error
    assert "file_encoder" not in error and "max_inline_file_bytes" not in error  # Python's
    assert written < 16 * 1024 * 1024  # the limit, a chunk, and what the pipe buffers
    assert emu.predictions() == []


def test_a_stream_named_twice_is_a_usage_error(emu: Any) -> None:
    twice = skytells(
        emu,
        "run",
        "truefusion-pro",
        "-i",
        "prompt=x",
        "-i",
        "image=@-",
        "-i",
        "mask=@-",
        stdin=red_png(),
    )
    assert twice.returncode == 2
    assert "read only once" in twice.stderr.decode() and "-i image=@-" in twice.stderr.decode()
    with_file = skytells(
        emu,
        "run",
        "truefusion-pro",
        "--input-file",
        "-",
        "-i",
        "image=@-",
        stdin=b'{"prompt": "x"}',
    )
    assert with_file.returncode == 2 and "--input-file -" in with_file.stderr.decode()
    assert emu.predictions() == []


def test_at_dev_stdin_is_read_as_a_stream(emu: Any, tmp_path: Path) -> None:
    result = skytells(
        emu,
        "run",
        "truefusion-pro",
        "-i",
        "prompt=x",
        "-i",
        "image=@/dev/stdin",
        "-i",
        "output_format=png",
        "--json",
        "--output-dir",
        str(tmp_path / "out"),
        stdin=red_png(),
    )
    check_output_is_the_red_image(result, tmp_path / "out")


def test_at_a_directory_says_it_is_a_directory(emu: Any, tmp_path: Path) -> None:
    result = skytells(emu, "run", "truefusion-pro", "-i", "prompt=x", "-i", f"image=@{tmp_path}")
    assert result.returncode == 1
    error = result.stderr.decode() + result.stdout.decode()
    assert "is a directory" in error and "no such file" not in error
    assert emu.predictions() == []
