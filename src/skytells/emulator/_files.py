"""Output files: their sizes known at success, rendered into a private temporary directory."""

from __future__ import annotations

import asyncio
import errno
import functools
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from . import _outputs
from ._errors import ApiError, error_id_for
from ._large_files import write_wav_of_size
from ._record import PredictionRecord, StoredFile

DISK_RESERVE = 512 << 20
"""Disk space large outputs always leave free."""
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
SIZE_CACHE_ENTRIES = 4096
"""How many output sizes are remembered (outputs are a pure function of model and input)."""

_SizeKey = tuple[str, str, str, int]


class OutputFiles:
    """Renders each output file once (concurrent downloads share the rendering) and deletes them.

    A succeeded prediction states each file's size (typed clients need an integer), so success
    needs the sizes: `plan` takes them from a cache of sizes when the same model and input were
    rendered before (outputs are deterministic), and otherwise renders the files there and then
    in a worker thread. A file whose size came from the cache is rendered on its first request.
    Files are served from disk until the prediction is purged or deleted.
    """

    def __init__(self) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._renders: dict[tuple[str, str], asyncio.Task[Path]] = {}
        self._sizes: OrderedDict[_SizeKey, int] = OrderedDict()
        self._sizing: dict[_SizeKey, asyncio.Future[int]] = {}
        self._reserving = threading.Lock()
        self._reserved = 0  # bytes of large files being written

    async def plan(self, record: PredictionRecord) -> list[StoredFile]:
        """The output files of `record` (about to succeed), each with its size in bytes.

        A size not in the cache is found by rendering the file into the prediction's directory
        (predictions needing the same file at the same time share one rendering; those that
        did not render it get it rendered on first download).
        """
        model = record.model
        planned = _outputs.plan_outputs(model.type, model.slug, record.input)
        canonical = json.dumps(record.input, sort_keys=True, separators=(",", ":"), default=str)
        files: list[StoredFile] = []
        for index, output in enumerate(planned):
            key = (model.type, model.slug, canonical, index)
            size, rendered = self._sizes.get(key), False
            if size is not None:
                self._sizes.move_to_end(key)
            elif key in self._sizing:
                size = await asyncio.shield(self._sizing[key])
            else:
                path = self._directory(record.id) / output.filename
                task = asyncio.ensure_future(
                    run_in_threadpool(
                        _render_file, model.type, model.slug, record.input, index, path
                    )
                )
                self._sizing[key] = task
                task.add_done_callback(functools.partial(self._sized, key))
                task.add_done_callback(functools.partial(self._settle, record, path.parent))
                size, rendered = await asyncio.shield(task), True
            files.append(StoredFile(output.filename, output.content_type, size, rendered))
        return files

    def _settle(self, record: PredictionRecord, directory: Path, _: asyncio.Future[int]) -> None:
        """After a rendering for `plan`: drop its file if the prediction will never serve it
        (cancelled, failed, deleted or reset while it rendered)."""
        if record.data_removed or (record.terminal and record.status != "succeeded"):
            self._discard(directory)

    def _sized(self, key: _SizeKey, task: asyncio.Future[int]) -> None:
        self._sizing.pop(key, None)
        if not task.cancelled() and task.exception() is None:
            self._remember(key, task.result())

    def _remember(self, key: _SizeKey, size: int) -> None:
        self._sizes[key] = size
        while len(self._sizes) > SIZE_CACHE_ENTRIES:
            self._sizes.popitem(last=False)

    def _directory(self, prediction_id: str) -> Path:
        if self._tmp is None:
            # A worker thread may still be writing into it when it is cleared (a reset while a
            # prediction's outputs render): what it leaves is removed by `_settle`.
            self._tmp = tempfile.TemporaryDirectory(
                prefix="skytells-emulator-", ignore_cleanup_errors=True
            )
        return Path(self._tmp.name) / prediction_id

    async def ensure(self, record: PredictionRecord, index: int) -> Path:
        """The path of output `index` of `record`, rendering it first if needed."""
        stored = record.files[index]
        path = self._directory(record.id) / stored.name
        if stored.rendered:
            return path
        key = (record.id, stored.name)
        task = self._renders.get(key)
        if task is None:
            task = asyncio.ensure_future(self._render(record, index, path))
            self._renders[key] = task
            task.add_done_callback(lambda _: self._renders.pop(key, None))
        return await asyncio.shield(task)

    async def _render(self, record: PredictionRecord, index: int, path: Path) -> Path:
        model = record.model
        size = await run_in_threadpool(
            _render_file, model.type, model.slug, record.input, index, path
        )
        if not record.data_available:  # purged, deleted or reset while rendering
            self._discard(path.parent)
            raise FileNotFoundError(path)
        record.files[index].size = size  # the same as planned: rendering is deterministic
        record.files[index].rendered = True
        return path

    async def adopt(self, record: PredictionRecord, size_bytes: int) -> StoredFile:
        """Give a succeeded prediction one large WAV output of exactly `size_bytes` bytes
        (written in a worker thread, in chunks); it replaces the prediction's outputs.

        ApiError 507 when the disk cannot hold it while keeping `DISK_RESERVE` free. The check
        counts the bytes that writes still in progress will take (each reserves its size under
        a lock before it starts), so concurrent calls cannot fill the disk between them; a
        write that fails all the same (the disk filled up from elsewhere) leaves no file."""
        stored = StoredFile(f"large-{len(record.files)}.wav", "audio/wav", size_bytes, True)
        path = self._directory(record.id) / stored.name
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._reserving:
            free = shutil.disk_usage(path.parent).free - self._reserved
            if size_bytes > free - DISK_RESERVE:
                raise _no_space(None)
            self._reserved += size_bytes
        try:
            await run_in_threadpool(_write_large_file, path, size_bytes)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            raise _no_space(exc) from None
        finally:
            with self._reserving:
                self._reserved -= size_bytes
        return stored

    def _discard(self, directory: Path) -> None:
        """Remove a directory a late rendering recreated, and its root if that was cleared."""
        shutil.rmtree(directory, ignore_errors=True)
        if self._tmp is None or Path(self._tmp.name) != directory.parent:
            shutil.rmtree(directory.parent, ignore_errors=True)

    def remove(self, prediction_id: str) -> None:
        """Delete every file of one prediction."""
        if self._tmp is not None:
            shutil.rmtree(self._directory(prediction_id), ignore_errors=True)

    def clear(self) -> None:
        """Delete every file of every prediction (the directory is recreated on demand)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _write_large_file(path: Path, size_bytes: int) -> None:
    """Write into a temporary name, then move it in place; nothing is left behind on failure."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        write_wav_of_size(partial, size_bytes)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _no_space(error: OSError | None) -> ApiError:
    return ApiError(
        507,
        error_id_for(507),
        "Not enough free disk space for a file of that size",
        {"reason": os.strerror(error.errno)} if error is not None and error.errno else None,
    )


def _render_file(
    model_type: str, model_slug: str, input: dict[str, Any], index: int, path: Path
) -> int:
    """Render into a temporary name, then move it in place (no reader sees half a file)."""
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        _outputs.render_output(model_type, model_slug, input, index, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path.stat().st_size
