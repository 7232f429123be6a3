"""`file_readers`: the file objects of ``OutputFile.open()``, against `io.BytesIO` as the
reference, over chunk iterations made here (their network side is in test_output_files.py)."""

from __future__ import annotations

import asyncio
import io
import random
from collections.abc import AsyncGenerator, Generator
from typing import Any

import pytest

from skytells._io import file_readers
from skytells._io.file_readers import AsyncFileStream, open_reader

DATA = random.Random(7).randbytes(300_000)


class Source:
    """Chunks of ``DATA`` of random sizes (some empty), recording how far they were taken and
    whether the iteration was closed."""

    def __init__(self, seed: int, size: int | None = None) -> None:
        self.random = random.Random(seed)
        self.size = size  # every chunk's size, if given
        self.taken = 0
        self.closed = False

    def chunks(self) -> Generator[bytes, None, None]:
        try:
            yield b""  # the operation's "open" marker
            while self.taken < len(DATA):
                size = self.size or self.random.choice([0, 1, 7, 1000, 65536, 100_000])
                piece = DATA[self.taken : self.taken + size]
                self.taken += len(piece)
                yield piece
        finally:
            self.closed = True


def opened(source: Source, seekable: bool = True) -> io.BufferedReader:
    chunks = source.chunks()
    next(chunks)
    return open_reader(chunks, seekable)


@pytest.mark.parametrize("seed", range(12))
def test_random_reads_and_seeks_match_bytesio(seed: int) -> None:
    source = Source(seed)
    choose = random.Random(seed + 100)
    reference = io.BytesIO(DATA)
    with opened(source) as stream:
        for _ in range(200):
            operation = choose.choice(["read", "read", "seek", "seek_cur", "seek_end", "tell"])
            if operation == "read":
                size = (
                    choose.choice([-1, 0, 1, 10, 5000, 70_000])
                    if choose.random() < 0.1
                    else (choose.choice([0, 1, 10, 5000, 70_000]))
                )
                assert stream.read(size) == reference.read(size)
            elif operation == "seek":
                offset = choose.randrange(0, len(DATA) + 1000)
                assert stream.seek(offset) == reference.seek(offset)
            elif operation == "seek_cur":
                offset = choose.randrange(-reference.tell(), 5000)
                assert stream.seek(offset, io.SEEK_CUR) == reference.seek(offset, io.SEEK_CUR)
            elif operation == "seek_end":
                offset = -choose.randrange(0, len(DATA))
                assert stream.seek(offset, io.SEEK_END) == reference.seek(offset, io.SEEK_END)
            assert stream.tell() == reference.tell()
    assert source.closed and stream.closed


def test_nothing_is_read_before_it_is_asked_for() -> None:
    source = Source(1, size=1000)
    stream = opened(source)
    stream.seek(150_000)  # a seek forwards reads nothing by itself
    assert source.taken == 0
    assert stream.read(10) == DATA[150_000:150_010]
    assert 150_010 <= source.taken <= 150_000 + 64 * 1024  # up to there and one buffer more
    stream.close()
    assert source.closed  # the iteration (the connection) is closed with the reader


def test_what_was_read_spills_to_a_temporary_file_past_the_memory_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(file_readers, "SPOOL_MEMORY", 64 * 1024)
    with opened(Source(2)) as stream:
        assert stream.read() == DATA
        kept: Any = stream.raw._kept  # type: ignore[attr-defined]
        assert kept._rolled  # on disk now, not in memory
        stream.seek(123)
        assert stream.read(1000) == DATA[123:1123]


def test_a_forward_only_reader_keeps_nothing_and_refuses_to_seek() -> None:
    source = Source(3)
    with opened(source, seekable=False) as stream:
        assert not stream.seekable()
        assert stream.read(10) == DATA[:10] and stream.tell() == 10
        with pytest.raises(io.UnsupportedOperation):
            stream.seek(0)
        assert stream.read() == DATA[10:]
    assert source.closed
    with pytest.raises(ValueError):
        stream.read(1)


def test_a_failure_of_the_source_reaches_the_reader_and_closing_still_works() -> None:
    def chunks() -> Generator[bytes, None, None]:
        yield b""
        yield b"abc"
        raise ConnectionError("dropped")

    source = chunks()
    next(source)
    stream = open_reader(source, True)
    with pytest.raises(ConnectionError):
        stream.read()
    stream.close()
    assert stream.closed


def test_the_async_stream_reads_in_any_sizes_and_closes_its_iteration() -> None:
    closed: list[bool] = []

    async def chunks() -> AsyncGenerator[bytes, None]:
        try:
            yield b""
            for start in range(0, len(DATA), 70_000):
                yield DATA[start : start + 70_000]
        finally:
            closed.append(True)

    async def run() -> None:
        async with AsyncFileStream(chunks()) as stream:
            assert await stream.read(0) == b""
            assert await stream.read(5) == DATA[:5]
            assert await stream.read(100_000) == DATA[5:100_005]
            rest = b"".join([chunk async for chunk in stream])
            assert rest == DATA[100_005:]
            assert await stream.read() == b""
        assert stream.closed and closed == [True]
        with pytest.raises(ValueError):
            await stream.read()
        # Left early: the iteration is closed all the same.
        async with AsyncFileStream(chunks()) as early:
            assert await early.read(3) == DATA[:3]
        assert closed == [True, True]

    asyncio.run(run())
