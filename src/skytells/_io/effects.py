"""The core's actions that involve no HTTP: the clock and the file system, performed in one
place for both drivers (each dispatches `LOCAL_ACTIONS` here with one line).

`Now` reads the monotonic clock every deadline and `Sleep` of the drivers uses, and the wall
clock; the file actions write saved outputs safely (`files`). The async driver awaits `aperform`,
which runs the blocking file work in a worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from .._core.protocol import LOCAL_ACTIONS, EnsureFree, Instant, Now, PrepareFolder, WriteFile
from . import files

__all__ = ["LOCAL_ACTIONS", "aperform", "perform"]


def perform(action: Now | PrepareFolder | EnsureFree | WriteFile) -> Any:
    """Carry out one local action (blocking for the file actions) and return its answer."""
    if isinstance(action, Now):
        return Instant(time.monotonic(), time.time())
    if isinstance(action, PrepareFolder):
        return files.prepare_folder(action.target)
    if isinstance(action, EnsureFree):
        files.ensure_free(action.paths)
        return None
    files.write_bytes(action.path, action.data, action.overwrite)
    return None


async def aperform(action: Now | PrepareFolder | EnsureFree | WriteFile) -> Any:
    """`perform` for the async driver: the clock at once, the disk in a worker thread."""
    if isinstance(action, Now):
        return Instant(time.monotonic(), time.time())
    return await anyio.to_thread.run_sync(perform, action)
