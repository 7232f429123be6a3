"""`skytells._core.file_inputs`: which values are files, MIME sniffing, the walk over an input,
the data: URI writer and the body built around it. In memory, no I/O."""

from __future__ import annotations

import base64
import io
import json
import random
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from skytells import FileTooLargeError
from skytells._core.file_inputs import (
    DataUriWriter,
    InlineFile,
    encode_files,
    encoded_size,
    file_too_large,
    has_file_inputs,
    is_file_input,
    json_bytes,
    sniff_content_type,
)
from skytells._core.protocol import EncodeFile, Op

# ── sniffing ─────────────────────────────────────────────────────────────────

MAGIC = {
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "image/gif": b"GIF89a\x01\x00\x01\x00",
    "image/bmp": b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00",
    "image/tiff": b"II*\x00\x08\x00\x00\x00",
    "video/mp4": b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00",
    "video/quicktime": b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00",
    "video/webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01",
    "audio/mpeg": b"ID3\x04\x00\x00\x00\x00\x00\x00",
    "audio/wav": b"RIFF\x24\x08\x00\x00WAVEfmt ",
    "audio/ogg": b"OggS\x00\x02\x00\x00",
    "audio/flac": b"fLaC\x00\x00\x00\x22",
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3",
}


@pytest.mark.parametrize(("content_type", "head"), MAGIC.items())
def test_the_content_type_comes_from_the_magic_bytes_not_the_name(
    content_type: str, head: bytes
) -> None:
    assert sniff_content_type(head) == content_type
    # A misleading extension does not win over the content.
    assert sniff_content_type(head + b"\x00" * 100, "photo.txt") == content_type


def test_an_mp3_without_id3_is_known_by_its_frame_sync() -> None:
    assert sniff_content_type(b"\xff\xfb\x90\x64\x00") == "audio/mpeg"


def test_unknown_content_falls_back_to_the_extension_then_octet_stream() -> None:
    assert sniff_content_type(b"hello", "notes/a.TXT") == "text/plain"
    assert sniff_content_type(b"\x00\x01", "C:\\clips\\a.mov") == "video/quicktime"
    assert sniff_content_type(b"\x00\x01", "scan.pdf") == "application/pdf"
    assert sniff_content_type(b"\x00\x01", "noextension") == "application/octet-stream"
    assert sniff_content_type(b"", None) == "application/octet-stream"


# ── which values are files ───────────────────────────────────────────────────


class _Reader:
    def read(self, size: int = -1) -> bytes:
        return b""


@pytest.mark.parametrize(
    "value",
    [Path("a.png"), PurePosixPath("a.png"), b"x", bytearray(b"x"), memoryview(b"x"), _Reader()],
)
def test_file_inputs_are_paths_bytes_and_readers(value: object) -> None:
    assert is_file_input(value)


@pytest.mark.parametrize("value", ["a.png", 1, 2.5, True, None, [b"x"], {"a": b"x"}, ("a",)])
def test_other_values_are_not_files(value: object) -> None:
    assert not is_file_input(value)


def test_a_pil_image_is_a_file_once_pil_is_imported() -> None:
    image_module = pytest.importorskip("PIL.Image")
    assert is_file_input(image_module.new("RGB", (2, 2)))


def test_files_are_found_at_any_depth_in_lists_and_dicts() -> None:
    assert has_file_inputs({"a": [1, {"b": [b"x"]}]})
    assert has_file_inputs({"a": (Path("x"),)})
    assert not has_file_inputs({"a": [1, {"b": ["x"]}], "c": "d"})


# ── the walk ─────────────────────────────────────────────────────────────────


def drive(op: Op[Any]) -> tuple[Any, list[EncodeFile]]:
    """Run ``op``, answering each `EncodeFile` with ``url:<field>``."""
    seen: list[EncodeFile] = []
    answer: Any = None
    try:
        while True:
            action = op.send(answer)
            assert isinstance(action, EncodeFile)
            seen.append(action)
            answer = f"url:{action.field}"
    except StopIteration as done:
        return done.value, seen


def test_each_file_is_encoded_once_where_it_sits_and_the_callers_input_is_untouched() -> None:
    image = Path("in.png")
    masks = [b"m0", {"mask": bytearray(b"m1"), "weight": 0.5}]
    body = {"model": "m", "input": {"prompt": "p", "image": image, "masks": masks}}
    encoder = str
    encoded, actions = drive(encode_files(body, encoder, 123))
    assert encoded == {
        "model": "m",
        "input": {
            "prompt": "p",
            "image": "url:image",
            "masks": ["url:masks[0]", {"mask": "url:masks[1].mask", "weight": 0.5}],
        },
    }
    assert [a.value for a in actions] == [image, b"m0", bytearray(b"m1")]
    assert all(a.encoder is encoder and a.max_inline_bytes == 123 for a in actions)
    assert body["input"]["image"] is image and masks[0] == b"m0"  # not changed in place


def test_a_body_without_files_is_returned_as_it_is() -> None:
    body = {"model": "m", "input": {"prompt": "p", "n": [1, 2]}}
    encoded, actions = drive(encode_files(body, None, 10))
    assert encoded is body and actions == []


# ── the data: URI and the body ───────────────────────────────────────────────


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 100, 196_607, 196_608, 196_609, 500_000])
def test_the_writer_gives_the_base64_of_the_file_whatever_the_pieces(size: int) -> None:
    data = random.Random(size).randbytes(size)
    writer = DataUriWriter(size, "image/png")
    rng = random.Random(size + 1)
    at = 0
    while at < size:
        step = rng.choice([1, 2, 5, 4096, 200_000])
        writer.feed(memoryview(data)[at : at + step])
        at += step
    inline = writer.finish()
    uri = inline.take()
    assert bytes(uri) == b"data:image/png;base64," + base64.b64encode(data)
    assert len(uri) == encoded_size(size, "image/png")


def test_a_file_that_changes_while_read_is_an_error() -> None:
    grew = DataUriWriter(3, "image/png")
    with pytest.raises(Exception, match="grew"):
        grew.feed(b"abcd")
    shrank = DataUriWriter(3, "image/png")
    shrank.feed(b"ab")
    with pytest.raises(Exception, match="changed"):
        shrank.finish()


def test_an_odd_content_type_never_breaks_the_uri() -> None:
    writer = DataUriWriter(1, 'text/html;"x,y"')
    writer.feed(b"a")
    assert bytes(writer.finish().take()).startswith(b"data:application/octet-stream;base64,")


def _inline(data: bytes, content_type: str = "image/png") -> InlineFile:
    writer = DataUriWriter(len(data), content_type)
    writer.feed(data)
    return writer.finish()


def test_the_body_is_the_json_with_each_uri_in_place() -> None:
    first, second = b"\x89PNG first", b"second \xff"
    body = {
        "model": "m",
        "input": {"a": _inline(first), "b": [1, _inline(second, "audio/wav")], "c": "é"},
    }
    raw = json_bytes(body)
    assert json.loads(raw) == {
        "model": "m",
        "input": {
            "a": "data:image/png;base64," + base64.b64encode(first).decode(),
            "b": [1, "data:audio/wav;base64," + base64.b64encode(second).decode()],
            "c": "é",
        },
    }
    # Sent again (a held create asked again), the same body is built from the first one.
    assert json_bytes(body) == raw


def test_a_body_without_inline_files_is_plain_json() -> None:
    assert json_bytes({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    with pytest.raises(TypeError):
        json_bytes({"a": object()})


def test_the_size_error_names_the_field_the_sizes_and_the_remedy() -> None:
    error = file_too_large("image", 12 * 1024 * 1024, 10 * 1024 * 1024)
    assert isinstance(error, FileTooLargeError)
    assert error.error_id == "FILE_TOO_LARGE"
    assert error.details == {"field": "image", "size": 12 * 1024 * 1024, "limit": 10485760}
    assert "12.0 MiB" in error.message and "10.0 MiB" in error.message
    assert "file_encoder" in error.message


# ── what a queued create keeps; the body limit; a changed file's field ──────


def _zeros(size: int, once: bool = False) -> InlineFile:
    writer = DataUriWriter(size, "image/png", "f", once)
    writer.feed(b"\0" * size)
    return writer.finish()


def drive_with(op: Op[Any], answers: dict[str, Any]) -> tuple[Any, list[str]]:
    """Run ``op``, answering each `EncodeFile` with ``answers[field]``; the fields asked."""
    asked: list[str] = []
    try:
        action = op.send(None)
        while True:
            assert isinstance(action, EncodeFile)
            asked.append(action.field)
            action = op.send(answers[action.field])
    except StopIteration as done:
        return done.value, asked


def test_a_queued_create_keeps_urls_and_once_read_files_and_reuses_them_for_the_same_value() -> (
    None
):
    pipe, path, data = io.BytesIO(), Path("a.png"), b"bytes"  # (values only: nothing is read)
    body = {"model": "m", "input": {"pipe": pipe, "path": path, "data": data, "url": path}}
    pipe_file, path_file, data_file = _zeros(3, once=True), _zeros(4), _zeros(5)
    answers = {"pipe": pipe_file, "path": path_file, "data": data_file, "url": "https://x/a"}
    kept: dict[str, tuple[Any, Any]] = {}
    _, asked = drive_with(encode_files(body, None, 100, kept), answers)
    assert asked == ["pipe", "path", "data", "url"]
    assert kept == {"pipe": (pipe, pipe_file), "url": (path, "https://x/a")}  # not re-readable
    again, asked = drive_with(encode_files(body, None, 100, kept), answers)
    assert asked == ["path", "data"]  # the others are reused, not read (or uploaded) again
    assert again["input"]["pipe"] is pipe_file and again["input"]["url"] == "https://x/a"
    body["input"]["pipe"] = other = io.BytesIO()  # the field holds another value: encoded anew
    _, asked = drive_with(encode_files(body, None, 100, kept), answers)
    assert asked == ["pipe", "path", "data"] and kept["pipe"][0] is other


def test_inline_files_that_together_overflow_the_body_limit_are_refused() -> None:
    big = 9 * 1024 * 1024
    body = {"model": "m", "input": {"image": b"a", "mask": b"b", "third": b"c"}}
    answers = {"image": _zeros(big), "mask": _zeros(big), "third": _zeros(1)}
    with pytest.raises(FileTooLargeError) as caught:
        drive_with(encode_files(body, None, 10 * 1024 * 1024), answers)
    details = caught.value.details
    assert caught.value.error_id == "FILE_TOO_LARGE"
    assert details["fields"] == {"image": len(answers["image"]), "mask": len(answers["mask"])}
    assert details["size"] == 2 * len(answers["image"]) and details["limit"] == 16 * 1024 * 1024
    assert details["field"] == "mask"  # stopped there: "third" was never asked for
    assert "image: 12.0 MiB" in caught.value.message and "16.0 MiB" in caught.value.message


def test_a_body_over_the_limit_with_inline_files_is_refused_when_built() -> None:
    with pytest.raises(FileTooLargeError):
        json_bytes({"prompt": "x" * (7 * 1024 * 1024), "image": _zeros(7 * 1024 * 1024)})


def test_a_changed_file_names_its_field() -> None:
    grew = DataUriWriter(3, "image/png", "images[1]")
    with pytest.raises(Exception, match="images") as caught:
        grew.feed(b"abcd")
    assert caught.value.details == {"field": "images[1]"}  # type: ignore[attr-defined]
    assert caught.value.error_id == "FILE_CHANGED"  # type: ignore[attr-defined]
