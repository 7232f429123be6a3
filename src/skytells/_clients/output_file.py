"""`OutputFile` and `AsyncOutputFile`: one output file of a prediction (``prediction.files()``).

Built by ``client.predictions.files()`` with the client's `ClientCore` and driver, as a resource
is; every read runs one of the core's operations (`ClientCore.read_file`, ``file_chunks``,
``save_file``), so sizes, deadlines, retries, names and purged outputs are handled once.
"""

from __future__ import annotations

import io
from collections.abc import AsyncGenerator, AsyncIterator, Collection, Generator, Iterator
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsIndex, TypeVar

from .._core.output_files import FileInfo, Seen, content_type
from .._exceptions import SkytellsError
from .._io.file_readers import AsyncFileStream, open_reader

if TYPE_CHECKING:
    from .._core.saving import ProgressCallback
    from .._io.async_driver import AsyncDriver
    from .._io.sync_driver import SyncDriver
    from .core import ClientCore

__all__ = ["AsyncOutputFile", "OutputFile"]


_View = TypeVar("_View", bound="_OutputFileView")


class _OutputFileView:
    __slots__ = ("_core", "_info", "_seen")

    def __init__(self, core: ClientCore, info: FileInfo) -> None:
        self._core = core
        self._info = info
        self._seen = Seen()

    @property
    def url(self) -> str:
        """The file's URL, as in the prediction's ``output``."""
        return self._info.url

    @property
    def name(self) -> str:
        """A safe file name: the one ``prediction.save(folder)`` gives this output
        (``<prediction id>-<name from the URL>``, ``-1``, ``-2``... when outputs share a name).
        ``save()`` may add an extension from the response's content type when neither the URL
        nor the prediction tells one."""
        return self._info.name

    @property
    def content_type(self) -> str | None:
        """The media type (``"image/png"``): as the prediction declares it
        (``metadata.storage.files``), else as the file's response said once it was read, else as
        the name's extension suggests; None when none of them tells."""
        return content_type(self._info, self._seen)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, content_type={self.content_type!r})"

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        """How Jupyter shows it: the file inline (an image, a video or audio player, else a
        link), its name and type; everything from the server escaped."""
        from .._core.display import fallback_bundle, file_mimebundle  # only to display

        try:
            return file_mimebundle(
                self.url, self.name, self.content_type, include=include, exclude=exclude
            )
        except Exception:  # showing a value never fails: the plain repr instead
            return fallback_bundle(self)

    # It holds its client (the API key, the connections): copies share it, pickles are refused.

    def __copy__(self: _View) -> _View:
        twin = type(self).__new__(type(self))
        for cls in type(self).__mro__:
            for slot in getattr(cls, "__slots__", ()):
                setattr(twin, slot, getattr(self, slot))
        return twin

    def __deepcopy__(self: _View, memo: dict[int, Any]) -> _View:
        return self.__copy__()

    def __reduce_ex__(self, protocol: SupportsIndex) -> Any:
        raise SkytellsError(
            f"{type(self).__name__} does not pickle: it holds its client (and the API key). "
            "Pickle the prediction instead (its data only) and call files() on it once bound "
            "to a client: pickle.loads(data).bind(client).files()",
            "INVALID_REQUEST",
        )


class OutputFile(_OutputFileView):
    """One output file of a prediction: read it, stream it, open it as a file, or save it.

    ``max_bytes`` (default 5 GiB) and ``timeout`` (milliseconds, default 10 minutes) bound
    every read as they bound `Prediction.save`; no API key is sent to the file's host. A file
    the service has purged (about 5 minutes after completion) raises `NotFoundError`
    ``OUTPUT_NOT_FOUND``, without a request when the prediction says ``data_removed``.

    ::

        for file in prediction.files():
            print(file.name, file.content_type, len(file.read()))
            image = PIL.Image.open(file.open())
    """

    __slots__ = ("_driver",)

    def __init__(self, core: ClientCore, driver: SyncDriver, info: FileInfo) -> None:
        super().__init__(core, info)
        self._driver = driver

    def read(self, *, max_bytes: int | None = None, timeout: float | None = None) -> bytes:
        """The whole file's bytes (retried from the start if a retryable failure cuts it)."""
        return self._driver.run(self._core.read_file(self._info, self._seen, max_bytes, timeout))

    def iter_bytes(
        self,
        chunk_size: int | None = None,
        *,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> Generator[bytes, None, None]:
        """The bytes in chunks as they arrive (of ``chunk_size`` bytes if given, the last one
        shorter). The request is sent on the first ``next()``; breaking off closes it."""
        size = _chunk_size(chunk_size)
        op = self._core.file_chunks(self._info, self._seen, max_bytes, timeout)
        return _rechunk(self._driver.iterate(op), size)

    def __iter__(self) -> Iterator[bytes]:
        """``for chunk in file``: `iter_bytes()`."""
        return self.iter_bytes()

    def open(
        self,
        *,
        seekable: bool = True,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> io.BufferedReader:
        """The file as a streaming binary file object (a context manager; closing it closes the
        connection), e.g. for ``PIL.Image.open(file.open())``. The request is sent now.

        Seekable by default: the bytes read are kept (in memory up to 16 MiB, beyond that in a
        temporary file removed on close) so that readers which seek back, as PIL does, work.
        ``seekable=False`` keeps nothing: a forward-only stream."""
        op = self._core.file_chunks(self._info, self._seen, max_bytes, timeout)
        chunks = self._driver.iterate(op)
        next(chunks)  # b"" once open: a purged or refused file raises here
        return open_reader(chunks, seekable)

    def save(
        self,
        target: str | PathLike[str] = ".",
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Stream the file to disk with `Prediction.save`'s guarantees (safe names, no
        existing file replaced without ``overwrite=True``, written whole or not at all, no
        link followed): into the folder ``target`` as `name`, or to the file path ``target``.
        Returns the path written."""
        op = self._core.save_file(
            self._info,
            target,
            on_progress=on_progress,
            timeout=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
        )
        return self._driver.run(op)


class AsyncOutputFile(_OutputFileView):
    """One output file of a prediction on the async client (see `OutputFile`)::

    for file in prediction.files():
        data = await file.read()
        async for chunk in file.aiter_bytes():
            ...
        async with file.open() as stream:
            header = await stream.read(16)
        path = await file.save("outputs")
    """

    __slots__ = ("_driver",)

    def __init__(self, core: ClientCore, driver: AsyncDriver, info: FileInfo) -> None:
        super().__init__(core, info)
        self._driver = driver

    async def read(self, *, max_bytes: int | None = None, timeout: float | None = None) -> bytes:
        """The whole file's bytes (retried from the start if a retryable failure cuts it)."""
        op = self._core.read_file(self._info, self._seen, max_bytes, timeout)
        return await self._driver.run(op)

    def aiter_bytes(
        self,
        chunk_size: int | None = None,
        *,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """The bytes in chunks as they arrive (of ``chunk_size`` bytes if given, the last one
        shorter), for ``async for``; breaking off (then ``aclose()``) closes the connection."""
        size = _chunk_size(chunk_size)
        op = self._core.file_chunks(self._info, self._seen, max_bytes, timeout)
        return _arechunk(self._driver.iterate(op), size)

    def __aiter__(self) -> AsyncIterator[bytes]:
        """``async for chunk in file``: `aiter_bytes()`."""
        return self.aiter_bytes()

    def open(
        self, *, max_bytes: int | None = None, timeout: float | None = None
    ) -> AsyncFileStream:
        """The file as a forward-only stream for ``async with`` (the request is sent on entry;
        leaving closes the connection): ``await stream.read(n)``, ``async for chunk in stream``."""
        op = self._core.file_chunks(self._info, self._seen, max_bytes, timeout)
        return AsyncFileStream(self._driver.iterate(op))

    async def save(
        self,
        target: str | PathLike[str] = ".",
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Stream the file to disk (see `OutputFile.save`; ``on_progress`` may be an
        ``async def``); returns the path written."""
        op = self._core.save_file(
            self._info,
            target,
            on_progress=on_progress,
            timeout=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
        )
        return await self._driver.run(op)


def _chunk_size(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SkytellsError(
            f"chunk_size must be a positive integer or None, got {value!r}",
            "INVALID_PARAMETER",
            {"chunk_size": repr(value)[:40]},
        )
    return value


def _pieces(buffer: bytearray, chunk: bytes, size: int | None) -> Iterator[bytes]:
    """``chunk`` as it is (if not empty) without ``size``; else the whole ``size`` pieces that
    ``buffer`` holds once ``chunk`` is added (the rest stays in ``buffer``)."""
    if size is None:
        if chunk:
            yield chunk
        return
    buffer += chunk
    while len(buffer) >= size:
        yield bytes(buffer[:size])
        del buffer[:size]


def _rechunk(chunks: Generator[bytes, None, Any], size: int | None) -> Generator[bytes, None, None]:
    """The non-empty ``chunks``, or their bytes in pieces of ``size`` (the last one shorter);
    closing this closes ``chunks``."""
    buffer = bytearray()
    try:
        for chunk in chunks:
            yield from _pieces(buffer, chunk, size)
        if buffer:
            yield bytes(buffer)
    finally:
        chunks.close()


async def _arechunk(
    chunks: AsyncGenerator[bytes, None], size: int | None
) -> AsyncGenerator[bytes, None]:
    """`_rechunk` of an async iteration."""
    buffer = bytearray()
    try:
        async for chunk in chunks:
            for piece in _pieces(buffer, chunk, size):
                yield piece
        if buffer:
            yield bytes(buffer)
    finally:
        await chunks.aclose()
