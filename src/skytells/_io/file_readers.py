"""Output files as binary file objects: what ``OutputFile.open()`` returns (sync and async).

The bytes come from a driver's iteration of the core's ``file_chunks`` operation (decoded,
bounded and checked as a download's are); closing a reader closes that iteration, which closes
the HTTP response (its connection is not reused unless the body was read whole).

`ChunkReader` is forward only. `Rewindable` makes one seekable, as PIL's ``Image.open`` and
many decoders need (they read a header, seek back to 0 and read again): what was read is kept
in a ``SpooledTemporaryFile`` (in memory up to `SPOOL_MEMORY`, beyond that in an anonymous
temporary file that is gone once closed), so a seek backwards costs no new request, and a seek
forwards reads (and keeps) up to there.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import AsyncGenerator, AsyncIterator, Generator
from types import TracebackType
from typing import Any

SPOOL_MEMORY = 16 * 1024 * 1024
"""Bytes a seekable reader keeps in memory before it spills what it has read to a temporary
file."""
_PIECE = 64 * 1024


def _closed_error() -> ValueError:
    return ValueError("I/O operation on closed file.")


class ChunkReader(io.RawIOBase):
    """A forward-only raw binary reader over an iteration of byte chunks (not seekable; `tell`
    is the number of bytes read). Closing it closes the iteration."""

    def __init__(self, chunks: Generator[bytes, None, Any]) -> None:
        super().__init__()
        self._chunks = chunks
        self._pending = memoryview(b"")
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise _closed_error()
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        view = memoryview(buffer).cast("B")
        count = min(len(view), len(self._pending))
        view[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._position += count
        return count

    def tell(self) -> int:
        if self.closed:
            raise _closed_error()
        return self._position

    def close(self) -> None:
        if not self.closed:
            try:
                self._chunks.close()
            finally:
                super().close()


class Rewindable(io.RawIOBase):
    """A seekable raw binary reader over a forward-only one: every byte read is kept (see the
    module's docstring), so seeking backwards replays them and seeking forwards reads on."""

    def __init__(self, source: ChunkReader) -> None:
        super().__init__()
        self._source = source
        self._kept = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
        self._size = 0  # bytes read from the source, all kept
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.closed:
            raise _closed_error()
        view = memoryview(buffer).cast("B")
        if self._position > self._size:  # a seek past what was read: read up to there
            self._keep(self._position)
        if self._position < self._size:
            self._kept.seek(self._position)
            data = self._kept.read(min(len(view), self._size - self._position))
        elif self._position == self._size:
            data = self._source.read(len(view)) or b""
            self._kept.seek(self._size)
            self._kept.write(data)
            self._size += len(data)
        else:  # the end came before the position sought
            data = b""
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self.closed:
            raise _closed_error()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            self._keep(None)
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence!r}, should be 0, 1 or 2)")
        if target < 0:
            raise ValueError(f"negative seek position {target}")
        self._position = target
        return target

    def tell(self) -> int:
        if self.closed:
            raise _closed_error()
        return self._position

    def close(self) -> None:
        if not self.closed:
            try:
                self._source.close()
            finally:
                self._kept.close()
                super().close()

    def _keep(self, upto: int | None) -> None:
        """Read from the source and keep, until ``upto`` bytes are kept (None: the end)."""
        self._kept.seek(self._size)
        while upto is None or self._size < upto:
            want = _PIECE if upto is None else min(_PIECE, upto - self._size)
            data = self._source.read(want)
            if not data:
                return
            self._kept.write(data)
            self._size += len(data)


def open_reader(chunks: Generator[bytes, None, Any], seekable: bool) -> io.BufferedReader:
    """A buffered binary reader over ``chunks`` (already open: its first ``b""`` taken)."""
    source = ChunkReader(chunks)
    return io.BufferedReader(Rewindable(source) if seekable else source, buffer_size=_PIECE)


class AsyncFileStream:
    """An output file open for reading on the async client::

        async with output.open() as stream:
            header = await stream.read(16)
            async for chunk in stream:
                ...

    The request is sent on entering the ``async with`` block (or the first read); leaving it
    (or `aclose`) closes the connection. Forward only: no ``seek``.
    """

    def __init__(self, chunks: AsyncGenerator[bytes, None]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._opened = False
        self._ended = False
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._closed

    async def _open(self) -> None:
        if self._closed:
            raise _closed_error()
        if not self._opened:
            self._opened = True
            await anext(self._chunks, b"")  # the operation's b"" once the file is open

    async def _more(self) -> bool:
        """Append the next chunk to the buffer; False at the end."""
        if self._ended:
            return False
        chunk = await anext(self._chunks, None)
        if chunk is None:
            self._ended = True
            return False
        self._buffer += chunk
        return True

    async def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (all that is left if negative); ``b""`` at the end."""
        await self._open()
        while (size < 0 or len(self._buffer) < size) and await self._more():
            pass
        count = len(self._buffer) if size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        return data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        await self._open()
        while self._buffer or await self._more():
            data = bytes(self._buffer)
            self._buffer.clear()
            yield data

    async def aclose(self) -> None:
        """Close the stream and its connection."""
        if not self._closed:
            self._closed = True
            self._buffer.clear()
            await self._chunks.aclose()

    async def __aenter__(self) -> AsyncFileStream:
        await self._open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
