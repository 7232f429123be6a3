"""Writing a download to disk safely: a ``.part`` file renamed into place only when complete."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from ._protocol import Download
from ._transport_errors import connection_error, timeout_error

CHUNK_SIZE = 1 << 16  # 64 KiB: constant memory, whatever the file size


class FileSink:
    """Receives the chunks of one download (used by both drivers)."""

    def __init__(self, action: Download, headers: Mapping[str, str]) -> None:
        self.action = action
        length = headers.get("content-length")
        self.total = int(length) if length and length.isdigit() else None
        self.done = 0
        self.part = action.dest.with_name(action.dest.name + ".part")
        self._file = self.part.open("wb")

    def write(self, chunk: bytes) -> None:
        """Append a chunk, report progress, enforce the deadline."""
        self._file.write(chunk)
        self.done += len(chunk)
        if time.monotonic() > self.action.deadline:
            raise timeout_error("GET", self.action.url, 0)
        if self.action.on_progress is not None:
            self.action.on_progress(self.done, self.total)

    def __enter__(self) -> FileSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._file.close()
        if exc_type is None and self.total is not None and self.done < self.total:
            self.part.unlink(missing_ok=True)
            raise connection_error(
                "GET", self.action.url, f"incomplete body ({self.done} of {self.total} bytes)"
            )
        if exc_type is None:
            self.part.replace(self.action.dest)
        else:
            with contextlib.suppress(OSError):
                Path(self.part).unlink(missing_ok=True)
