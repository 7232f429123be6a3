"""Run a command on a pseudo-terminal and read all it writes there (for tests of what users see
on a terminal: the CLI's tables and bar, a REPL's warnings)."""

from __future__ import annotations

import errno
import fcntl
import os
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path


def run_in_pty(
    command: Sequence[str],
    env: dict[str, str],
    *,
    columns: int = 80,
    cwd: Path | None = None,
    typed: Sequence[bytes] = (),
    timeout: float = 120,
) -> tuple[int, bytes]:
    """Run ``command`` with stdin, stdout and stderr on a terminal ``columns`` wide, type the
    ``typed`` lines into it, and read until it exits; its exit code and every byte it wrote."""
    main_fd, child_fd = os.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        list(command), env=env, cwd=cwd, stdin=child_fd, stdout=child_fd, stderr=child_fd
    )
    os.close(child_fd)
    chunks: list[bytes] = []
    try:
        for line in typed:
            os.write(main_fd, line)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 1.0)
            if not ready:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(main_fd, 65536)
            except OSError as exc:  # EIO: the terminal's other side closed
                if exc.errno != errno.EIO:
                    raise
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=30)
    finally:
        process.kill()
        os.close(main_fd)
    return code, b"".join(chunks)
