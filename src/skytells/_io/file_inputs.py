"""Reading local file inputs and performing `EncodeFile`: a path, bytes, a binary file object or
a PIL image becomes the string sent for it (a ``file_encoder``'s URL, or a ``data:`` URI).

The ``data:`` URI is written into one buffer of its final size as the file is read in pieces
(`DataUriWriter`), after its size was checked against the inline limit without reading it
(``stat``, ``seek``/``tell``, ``len``). The async driver reads in a worker thread.
"""

from __future__ import annotations

import inspect
import io
import os
from collections.abc import Awaitable
from pathlib import Path
from typing import IO, Any

import anyio

from .._core.file_inputs import (
    SNIFF_BYTES,
    DataUriWriter,
    FileToEncode,
    InlineFile,
    file_too_large,
    is_pil_image,
    sniff_content_type,
)
from .._core.protocol import EncodeFile
from .._exceptions import SkytellsError, ValidationError

__all__ = ["LocalFile", "aencode", "encode"]

_CHUNK = 3 * 256 * 1024
"""Bytes read at a time (a multiple of 3: base64 carries nothing over between reads)."""
_URL_SCHEMES = ("http://", "https://", "data:")


class LocalFile:
    """A local file input as a ``file_encoder`` gets it (a `FileToEncode`).

    Built from a path (any ``os.PathLike``), ``bytes``/``bytearray``/``memoryview``, a binary
    file object (read from its current position, which is restored after reading when it can
    seek) or a PIL image (sent as PNG, lossless)."""

    def __init__(self, value: Any, field: str = "input") -> None:
        self.field = field
        self._path: Path | None = None
        self._data: memoryview | None = None
        self._stream: IO[bytes] | None = None
        self._start = 0
        self._head = b""  # what was read of a stream that cannot seek back
        self._name: str | None = None
        self._size: int | None = None
        self._content_type: str | None = None
        if isinstance(value, (bytes, bytearray, memoryview)):
            view = memoryview(value)
            self._data = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
            self._size = self._data.nbytes
        elif hasattr(type(value), "__fspath__"):
            self._open_path(value)
        elif is_pil_image(value):
            self._data = memoryview(_pil_png(value, field))
            self._size = self._data.nbytes
            self._content_type = "image/png"
        else:
            self._open_stream(value)

    def _open_path(self, value: Any) -> None:
        path = Path(os.fsdecode(os.fspath(value)))
        try:
            info = path.stat()
        except OSError as exc:
            raise _unreadable(self.field, str(path), exc) from None
        if not path.is_file():
            raise ValidationError(
                f"Input {self.field!r}: {str(path)[:200]!r} is not a file",
                "INVALID_FILE_INPUT",
                {"field": self.field},
            )
        self._path, self._name, self._size = path, path.name, info.st_size

    def _open_stream(self, stream: Any) -> None:
        if isinstance(stream, io.TextIOBase) or "b" not in str(getattr(stream, "mode", "b")):
            raise _text_mode(self.field)
        name = getattr(stream, "name", None)
        self._name = os.path.basename(name) if isinstance(name, str) and name else None
        self._stream = stream
        try:
            if _seekable(stream):
                self._start = stream.tell()
                self._size = stream.seek(0, io.SEEK_END) - self._start
                stream.seek(self._start)
        except OSError as exc:
            raise _unreadable(self.field, self._name, exc) from None

    # ── FileToEncode ─────────────────────────────────────────────────────

    @property
    def name(self) -> str | None:
        """The file's name (a path's, an open file's), or None (bytes, an image)."""
        return self._name

    @property
    def size(self) -> int | None:
        """Its size in bytes, when known without reading it (not for a pipe)."""
        return self._size

    @property
    def content_type(self) -> str:
        """Its MIME type, from its first bytes, then its name's extension."""
        if self._content_type is None:
            self._content_type = sniff_content_type(self._peek(), self._name)
        return self._content_type

    def read(self) -> bytes:
        """The whole file."""
        with self.open() as file:
            return file.read()

    def open(self) -> IO[bytes]:
        """A binary file object reading the file from its start (closing it never closes a file
        object you passed in)."""
        if self._data is not None:
            return io.BytesIO(self._data)
        if self._path is not None:
            try:
                return self._path.open("rb")
            except OSError as exc:
                raise _unreadable(self.field, str(self._path), exc) from None
        return io.BufferedReader(_StreamView(self))

    # ── reading ──────────────────────────────────────────────────────────

    def _peek(self) -> bytes:
        if self._data is not None:
            return bytes(self._data[:SNIFF_BYTES])
        if self._stream is not None and not _seekable(self._stream):
            while len(self._head) < SNIFF_BYTES:  # kept: every reader starts with it
                chunk = self._read_stream(SNIFF_BYTES - len(self._head))
                if not chunk:
                    break
                self._head += chunk
            return self._head
        with self.open() as file:
            return file.read(SNIFF_BYTES)

    def _read_stream(self, size: int) -> bytes:
        """Up to ``size`` bytes of the passed-in stream, from where `_rewind` put it."""
        assert self._stream is not None
        try:
            chunk = self._stream.read(size)
        except OSError as exc:
            raise _unreadable(self.field, self._name, exc) from None
        if isinstance(chunk, str):
            raise _text_mode(self.field)
        return bytes(chunk or b"")

    def _rewind(self) -> bytes:
        """Put the stream back at its start; what of it is buffered here (cannot seek)."""
        assert self._stream is not None
        if _seekable(self._stream):
            self._stream.seek(self._start)
            return b""
        return self._head

    def inline(self, limit: int) -> InlineFile:
        """The file as a ``data:`` URI; `FileTooLargeError` above ``limit`` bytes, before
        reading it when its size is known."""
        if self._size is not None and self._size > limit:
            raise file_too_large(self.field, self._size, limit)
        content_type = self.content_type
        if self._size is None:  # a pipe: read it (bounded), then encode what came
            data = self._read_unsized(limit)
            writer = DataUriWriter(len(data), content_type)
            writer.feed(data)
            del data
            return writer.finish()
        writer = DataUriWriter(self._size, content_type)
        if self._data is not None:
            writer.feed(self._data)
            return writer.finish()
        with self.open() as file:
            while chunk := _read(file, _CHUNK, self):
                writer.feed(chunk)
        return writer.finish()

    def _read_unsized(self, limit: int) -> bytearray:
        data = bytearray()
        with self.open() as file:
            while chunk := _read(file, _CHUNK, self):
                data += chunk
                if len(data) > limit:
                    raise file_too_large(self.field, len(data), limit)
        return data


class _StreamView(io.RawIOBase):
    """A passed-in stream read from its start, never closed by closing this. A stream that
    cannot seek (a pipe) is read once: its first bytes (kept to sniff its type), then the rest."""

    def __init__(self, file: LocalFile) -> None:
        self._file = file
        self._pending = file._rewind()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._pending:
            count = min(len(view), len(self._pending))
            view[:count] = self._pending[:count]
            self._pending = self._pending[count:]
            return count
        chunk = self._file._read_stream(len(view))
        view[: len(chunk)] = chunk
        return len(chunk)

    def close(self) -> None:
        if not self.closed and self._file._stream is not None and _seekable(self._file._stream):
            self._file._stream.seek(self._file._start)  # where it was, for the next reader
        super().close()


def _read(file: IO[bytes], size: int, owner: LocalFile) -> bytes:
    try:
        return file.read(size)
    except OSError as exc:
        raise _unreadable(owner.field, owner.name, exc) from None


def _seekable(stream: Any) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def _pil_png(image: Any, field: str) -> bytes:
    """A PIL image as PNG bytes (modes PNG cannot hold are converted to RGB(A) first)."""
    if image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    out = io.BytesIO()
    try:
        image.save(out, format="PNG")
    except (OSError, ValueError) as exc:
        raise ValidationError(
            f"Input {field!r}: the image cannot be saved as PNG ({exc})",
            "INVALID_FILE_INPUT",
            {"field": field},
        ) from None
    return out.getvalue()


def _text_mode(field: str) -> ValidationError:
    return ValidationError(
        f"Input {field!r} is a file opened in text mode: open it in binary mode "
        "(open(path, 'rb')), or pass its path",
        "INVALID_FILE_INPUT",
        {"field": field},
    )


def _unreadable(field: str, name: str | None, exc: OSError) -> ValidationError:
    shown = f" {name[:200]!r}" if name else ""
    return ValidationError(
        f"Input {field!r}: cannot read the file{shown} ({exc.strerror or type(exc).__name__})",
        "FILE_NOT_READABLE",
        {"field": field},
    )


# ── EncodeFile ─────────────────────────────────────────────────────────────


def encode(action: EncodeFile) -> str | InlineFile:
    """Perform `EncodeFile` with blocking I/O (the sync driver; a worker thread of the async
    one). A ``file_encoder`` that returns an awaitable needs the async client."""
    file = LocalFile(action.value, action.field)
    if action.encoder is None:
        return file.inline(action.max_inline_bytes)
    result = _call(action, file)
    if isinstance(result, Awaitable):
        close = getattr(result, "close", None)
        if close is not None:
            close()
        raise SkytellsError(
            "file_encoder returned an awaitable: use AsyncSkytellsClient for an async encoder",
            "INVALID_PARAMETER",
        )
    return _checked(result, action.field)


async def aencode(action: EncodeFile) -> str | InlineFile:
    """Perform `EncodeFile` for the async driver: files are read and sync encoders run in a
    worker thread (the event loop never waits on the disk); an async encoder is awaited."""
    encoder = action.encoder
    if encoder is None or not inspect.iscoroutinefunction(encoder):
        result = await anyio.to_thread.run_sync(_encode_or_defer, action)
    else:
        file = await anyio.to_thread.run_sync(LocalFile, action.value, action.field)
        result = _call(action, file)
    if isinstance(result, Awaitable):
        try:
            result = await result
        except SkytellsError:
            raise
        except Exception as exc:
            raise _encoder_failed(action.field, exc) from exc
    return result if isinstance(result, InlineFile) else _checked(result, action.field)


def _encode_or_defer(action: EncodeFile) -> Any:
    """`encode`, but an awaitable an encoder returns is handed back to be awaited."""
    file = LocalFile(action.value, action.field)
    if action.encoder is None:
        return file.inline(action.max_inline_bytes)
    return _call(action, file)


def _call(action: EncodeFile, file: FileToEncode) -> Any:
    assert action.encoder is not None
    try:
        return action.encoder(file)
    except SkytellsError:
        raise
    except Exception as exc:
        raise _encoder_failed(action.field, exc) from exc


def _encoder_failed(field: str, exc: Exception) -> SkytellsError:
    return SkytellsError(
        f"file_encoder failed for input {field!r}: {type(exc).__name__}: {str(exc)[:300]}",
        "FILE_ENCODER_FAILED",
        {"field": field},
    )


def _checked(result: Any, field: str) -> str:
    if not isinstance(result, str) or not result.startswith(_URL_SCHEMES):
        shown = repr(result[:80]) if isinstance(result, str) else type(result).__name__
        raise ValidationError(
            f"file_encoder must return an http(s) URL or a data: URI for input {field!r}, "
            f"got {shown}",
            "INVALID_FILE_ENCODER_RESULT",
            {"field": field},
        )
    return result
