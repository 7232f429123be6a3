"""Reading local file inputs and performing `EncodeFile`: a path, bytes, a binary file object or
a PIL image becomes the string sent for it (a ``file_encoder``'s URL, or a ``data:`` URI).

The ``data:`` URI is written into one buffer of its final size as the file is read in pieces
(`DataUriWriter`), after its size was checked against the inline limit without reading it
(``stat``, ``seek``/``tell``, ``len``). The async driver reads in a worker thread.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import stat
import weakref
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
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
_READ_ONCE: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
"""The streams that cannot seek which a `LocalFile` started to read, by ``id``: read again, they
would give what is left of them (nothing, or a truncated file), so that is an error."""


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
        self._surplus = b""  # what a read(n) returned beyond n
        self._name: str | None = None
        self._size: int | None = None
        self._content_type: str | None = None
        self._once = False  # a stream that cannot seek: read once, by one reader
        self._opened = False
        if isinstance(value, (bytes, bytearray, memoryview)):
            try:
                view = memoryview(value)
                self._data = view.cast("B") if view.c_contiguous else memoryview(view.tobytes())
            except ValueError as exc:  # a released memoryview
                raise _invalid(field, f"its bytes cannot be read ({exc})") from exc
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
        try:
            path = Path(os.fsdecode(os.fspath(value)))
        except TypeError as exc:  # an __fspath__ that returns neither str nor bytes
            raise _invalid(self.field, f"it is not a valid path ({exc})") from exc
        if "\0" in str(path):
            raise _invalid(self.field, f"the path {str(path)[:200]!r} contains a NUL byte")
        try:
            info = path.stat()
        except OSError as exc:
            raise _unreadable(self.field, str(path), exc) from None
        if not stat.S_ISREG(info.st_mode):
            raise ValidationError(
                f"Input {self.field!r}: {str(path)[:200]!r} is {_kind(info.st_mode)}, not a "
                "file"
                + (
                    ""
                    if stat.S_ISDIR(info.st_mode)
                    else ": open it yourself and pass the binary file object to read it as a stream"
                ),
                "INVALID_FILE_INPUT",
                {"field": self.field},
            )
        # A size of 0 may be a file whose size is unknown (/proc, /sys): read it as a stream.
        self._path, self._name, self._size = path, path.name, info.st_size or None

    def _open_stream(self, stream: Any) -> None:
        if isinstance(stream, io.TextIOBase):  # else text shows when a read returns str
            raise _text_mode(self.field)
        if getattr(stream, "closed", False) is True:
            raise _invalid(self.field, "the file object is closed: pass it while it is open")
        name = getattr(stream, "name", None)
        self._name = os.path.basename(name) if isinstance(name, str) and name else None
        self._stream = stream
        try:
            if _seekable(stream):
                self._start = stream.tell()
                self._size = stream.seek(0, io.SEEK_END) - self._start
                stream.seek(self._start)
            else:
                self._once = True
                if _READ_ONCE.get(id(stream)) is stream:
                    raise _already_read(self.field)
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
        """The whole file (a stream that cannot seek, a pipe, can be read only once)."""
        with self.open() as file:
            return file.read()

    def open(self) -> IO[bytes]:
        """A binary file object reading the file from its start (closing it never closes a file
        object you passed in). A stream that cannot seek (a pipe) can be opened only once:
        opened again, it is `FILE_ALREADY_READ`."""
        if self._once:
            if self._opened:
                raise _already_read(self.field)
            self._opened = True
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
        """Up to ``size`` bytes of the passed-in stream, from where `_rewind` put it (what a
        read returned beyond the size asked is kept for the next read)."""
        assert self._stream is not None
        if self._surplus:
            chunk, self._surplus = self._surplus[:size], self._surplus[size:]
            return chunk
        if self._once and _READ_ONCE.get(id(self._stream)) is not self._stream:
            with contextlib.suppress(TypeError):  # cannot be weakly referenced: not tracked
                _READ_ONCE[id(self._stream)] = self._stream
        try:
            chunk = self._stream.read(size)
        except OSError as exc:
            raise _unreadable(self.field, self._name, exc) from None
        if isinstance(chunk, str):
            raise _text_mode(self.field)
        if chunk is None:  # a non-blocking stream with no data ready: not its end
            raise _invalid(
                self.field,
                "the stream is non-blocking and had no data ready (its read returned None): "
                "pass a blocking stream, or its bytes",
                "FILE_NOT_READABLE",
            )
        data = bytes(chunk)
        if len(data) > size:  # a read(n) that ignores n
            data, self._surplus = data[:size], data[size:]
        return data

    def _rewind(self) -> bytes:
        """Put the stream back at its start; what of it is buffered here (cannot seek)."""
        assert self._stream is not None
        if _seekable(self._stream):
            self._stream.seek(self._start)
            self._surplus = b""
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
            writer = DataUriWriter(len(data), content_type, self.field, self._once)
            writer.feed(data)
            del data
            return writer.finish()
        writer = DataUriWriter(self._size, content_type, self.field)
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


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _pil_png(image: Any, field: str) -> bytes:
    """A PIL image as PNG bytes (modes PNG cannot hold are converted to RGB(A) first)."""
    out = io.BytesIO()
    try:
        if image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
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


def _invalid(field: str, why: str, error_id: str = "INVALID_FILE_INPUT") -> ValidationError:
    return ValidationError(f"Input {field!r}: {why}", error_id, {"field": field})


def _already_read(field: str) -> ValidationError:
    return ValidationError(
        f"Input {field!r} is a stream that cannot seek (a pipe, a socket) and was already read: "
        "it can be read only once. To send it more than once, pass its bytes "
        "(data = stream.read()) instead of the stream",
        "FILE_ALREADY_READ",
        {"field": field},
    )


@contextmanager
def _file_errors(field: str) -> Iterator[None]:
    """Any failure reading a file input, as the `SkytellsError` of its field (the original
    as ``__cause__``): an object that bends the file protocol fails clearly, never raw."""
    try:
        yield
    except SkytellsError:
        raise
    except OSError as exc:
        raise _unreadable(field, None, exc) from exc
    except RecursionError as exc:
        raise _invalid(field, "reading it recursed too deeply") from exc
    except Exception as exc:
        raise _invalid(
            field, f"it cannot be read as a file ({type(exc).__name__}: {str(exc)[:200]})"
        ) from exc


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
    with _file_errors(action.field):
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
        file = await anyio.to_thread.run_sync(_local_file, action)
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
    with _file_errors(action.field):
        file = LocalFile(action.value, action.field)
        if action.encoder is None:
            return file.inline(action.max_inline_bytes)
    return _call(action, file)


def _local_file(action: EncodeFile) -> LocalFile:
    with _file_errors(action.field):
        return LocalFile(action.value, action.field)


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
