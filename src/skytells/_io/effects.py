"""The core's actions that involve no HTTP: the clock and the file system, performed in one
place for both drivers (each dispatches `LOCAL_ACTIONS` here with one line).

`Now` reads the monotonic clock every deadline and `Sleep` of the drivers uses, and the wall
clock; the file actions write saved outputs safely (`files`); `EncodeFile` reads a local file
input and encodes it (`file_inputs`). The async driver awaits `aperform`,
which runs the blocking file work in a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from .._core.protocol import (
    LOCAL_ACTIONS,
    EncodeFile,
    EnsureFree,
    Instant,
    Now,
    PrepareFolder,
    WriteFile,
)
from . import file_inputs, files

__all__ = ["LOCAL_ACTIONS", "aperform", "perform"]


def perform(action: Now | PrepareFolder | EnsureFree | WriteFile | EncodeFile) -> Any:
    """Carry out one local action (blocking for the file actions) and return its answer."""
    if isinstance(action, Now):
        return Instant(time.monotonic(), time.time())
    if isinstance(action, EncodeFile):
        return file_inputs.encode(action)
    if isinstance(action, PrepareFolder):
        return files.prepare_folder(action.target)
    if isinstance(action, EnsureFree):
        files.ensure_free(action.paths)
        return None
    files.write_bytes(action.path, action.data, action.overwrite)
    return None


async def aperform(action: Now | PrepareFolder | EnsureFree | WriteFile | EncodeFile) -> Any:
    """`perform` for the async driver: the clock at once, the disk in a worker thread (an async
    ``file_encoder`` is awaited)."""
    if isinstance(action, Now):
        return Instant(time.monotonic(), time.time())
    if isinstance(action, EncodeFile):
        return await file_inputs.aencode(action)
    return await anyio.to_thread.run_sync(perform, action)
