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
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from . import _outputs
from ._errors import ApiError, error_id_for, prediction_not_found
from ._large_files import write_wav_of_size
from ._record import PredictionRecord, StoredFile

DISK_RESERVE = 512 << 20
"""Disk space large outputs always leave free."""
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
SIZE_CACHE_ENTRIES = 4096
"""How many output sizes are remembered (outputs are a pure function of model and input)."""

_SizeKey = tuple[str, str, str, int]


class _Generation:
    """The files of the predictions between two resets: a root directory of their own (made on
    first use) and the renderings in progress for them.

    A reset retires the generation and starts a new one. Renderings still running in worker
    threads belong to the retired one: they write only under its root (recreating it if need
    be), are never shared with predictions of a later generation, and when each ends the whole
    retired root is removed again. A current root is never removed, only directories in it.
    """

    def __init__(self) -> None:
        self.retired = False
        self.sizing: dict[_SizeKey, asyncio.Future[int]] = {}
        self.renders: dict[tuple[str, str], asyncio.Task[Path]] = {}
        self._root: Path | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def directory(self, prediction_id: str) -> Path:
        """The directory of one prediction's files (its root is created on first use)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="skytells-emulator-"))
            # Removed at exit if the emulator is never closed (as a TemporaryDirectory would be).
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._root, True)
        return self._root / prediction_id

    def remove(self, prediction_id: str) -> None:
        """Delete one prediction's directory."""
        if self._root is not None:
            shutil.rmtree(self._root / prediction_id, ignore_errors=True)

    def discard(self, directory: Path) -> None:
        """Remove what a rendering left that nobody will serve: its prediction's directory, or
        the whole root of a retired generation (which the rendering may have recreated)."""
        if self.retired:
            self._remove_root()
        else:
            shutil.rmtree(directory, ignore_errors=True)

    def retire(self) -> None:
        """Delete every file; renderings still running clean up after themselves (`discard`)."""
        self.retired = True
        self._remove_root()

    def _remove_root(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()  # removed now (and by late renderings), not at exit
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


class OutputFiles:
    """Renders each output file once (concurrent downloads share the rendering) and deletes them.

    A succeeded prediction states each file's size (typed clients need an integer), so success
    needs the sizes: `plan` takes them from a cache of sizes when the same model and input were
    rendered before (outputs are deterministic), and otherwise renders the files there and then
    in a worker thread. A file whose size came from the cache is rendered on its first request.
    Files are served from disk until the prediction is purged or deleted. The files live in
    generations (see `_Generation`): `clear` starts a new one, so renderings that outlive a
    reset never touch, nor fail, a prediction made after it.
    """

    def __init__(self) -> None:
        self._generation = _Generation()
        self._sizes: OrderedDict[_SizeKey, int] = OrderedDict()
        self._reserving = threading.Lock()
        self._reserved = 0  # bytes of large files being written

    async def plan(self, record: PredictionRecord) -> list[StoredFile]:
        """The output files of `record` (about to succeed), each with its size in bytes.

        A size not in the cache is found by rendering the file into the prediction's directory
        (predictions of one generation needing the same file at the same time share one
        rendering; those that did not render it get it rendered on first download).
        """
        generation = self._generation
        model = record.model
        planned = _outputs.plan_outputs(model.type, model.slug, record.input)
        canonical = json.dumps(record.input, sort_keys=True, separators=(",", ":"), default=str)
        files: list[StoredFile] = []
        for index, output in enumerate(planned):
            key = (model.type, model.slug, canonical, index)
            size, rendered = await self._size(generation, record, key, index, output.filename)
            files.append(StoredFile(output.filename, output.content_type, size, rendered))
        return files

    async def _size(
        self,
        generation: _Generation,
        record: PredictionRecord,
        key: _SizeKey,
        index: int,
        filename: str,
    ) -> tuple[int, bool]:
        """The size of output `index` of `record`, and whether it was rendered for `record`."""
        while True:
            size = self._sizes.get(key)
            if size is not None:
                self._sizes.move_to_end(key)
                return size, False
            shared = generation.sizing.get(key)
            if shared is None:
                break
            try:
                return await asyncio.shield(shared), False
            except Exception:
                # That rendering was another prediction's, and failed (that prediction was
                # deleted while it rendered, and its directory with it): its error is not this
                # prediction's. Render the file for this one (or share a newer rendering).
                if generation.sizing.get(key) is shared:
                    del generation.sizing[key]
        model = record.model
        path = generation.directory(record.id) / filename
        task = asyncio.ensure_future(
            run_in_threadpool(_render_file, model.type, model.slug, record.input, index, path)
        )
        generation.sizing[key] = task
        task.add_done_callback(functools.partial(self._sized, generation, key))
        task.add_done_callback(functools.partial(_settle, generation, record, path.parent))
        return await asyncio.shield(task), True

    def _sized(self, generation: _Generation, key: _SizeKey, task: asyncio.Future[int]) -> None:
        if generation.sizing.get(key) is task:
            del generation.sizing[key]
        if not task.cancelled() and task.exception() is None:  # (retrieves a failure: dropped)
            self._remember(key, task.result())

    def _remember(self, key: _SizeKey, size: int) -> None:
        self._sizes[key] = size
        while len(self._sizes) > SIZE_CACHE_ENTRIES:
            self._sizes.popitem(last=False)

    async def ensure(self, record: PredictionRecord, index: int) -> Path:
        """The path of output `index` of `record`, rendering it first if needed."""
        generation = self._generation
        stored = record.files[index]
        path = generation.directory(record.id) / stored.name
        if stored.rendered:
            return path
        key = (record.id, stored.name)
        task = generation.renders.get(key)
        if task is None:
            task = asyncio.ensure_future(self._render(generation, record, index, path))
            generation.renders[key] = task
            task.add_done_callback(lambda _: generation.renders.pop(key, None))
        return await asyncio.shield(task)

    async def _render(
        self, generation: _Generation, record: PredictionRecord, index: int, path: Path
    ) -> Path:
        model = record.model
        try:
            size = await run_in_threadpool(
                _render_file, model.type, model.slug, record.input, index, path
            )
        finally:
            if not record.data_available:  # purged, deleted or reset while rendering
                generation.discard(path.parent)
        if not record.data_available:
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
        write that fails all the same (the disk filled up from elsewhere) leaves no file.
        ApiError 502 (as for an unknown id) when the prediction is deleted, purged or reset
        while the file is written."""
        generation = self._generation
        stored = StoredFile(f"large-{len(record.files)}.wav", "audio/wav", size_bytes, True)
        path = generation.directory(record.id) / stored.name
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._reserving:
            free = shutil.disk_usage(path.parent).free - self._reserved
            if size_bytes > free - DISK_RESERVE:
                raise _no_space(None)
            self._reserved += size_bytes
        try:
            await run_in_threadpool(_write_large_file, path, size_bytes)
        except OSError as exc:
            if record.data_available and exc.errno in _NO_SPACE:
                raise _no_space(exc) from None
            if record.data_available:
                raise
        finally:
            with self._reserving:
                self._reserved -= size_bytes
            if not record.data_available:
                generation.discard(path.parent)
        if not record.data_available:
            raise prediction_not_found(record.id)
        return stored

    def remove(self, prediction_id: str) -> None:
        """Delete every file of one prediction."""
        self._generation.remove(prediction_id)

    def clear(self) -> None:
        """Delete every file of every prediction and start a new generation (its directory is
        created on demand)."""
        self._generation.retire()
        self._generation = _Generation()


def _settle(
    generation: _Generation, record: PredictionRecord, directory: Path, _: asyncio.Future[int]
) -> None:
    """After a rendering for `plan`: drop its file if the prediction will never serve it
    (cancelled, failed, deleted or reset while it rendered)."""
    if record.data_removed or (record.terminal and record.status != "succeeded"):
        generation.discard(directory)


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
