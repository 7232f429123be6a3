"""Writing saved outputs to disk safely (blocking calls: the async driver runs them in a thread).

A download goes to a temporary ``<name>.<random>.part`` file, created exclusively and never
through a symbolic link (``O_CREAT | O_EXCL | O_NOFOLLOW``), so nothing planted in the folder
can redirect the write. Only a complete file is moved to its name, and an existing file is never
replaced unless the caller asked for it (``overwrite=True``): without it the move is a hard link,
which fails if the name exists. Bodies sent with a ``Content-Encoding`` are decoded here, in
pieces of at most `PIECE`, and the decoded size is what counts against ``max_bytes``, so
a compressed bomb never inflates past the cap, in memory or on disk.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from .._core.config import USER_AGENT
from .._core.decoding import KNOWN_ENCODINGS, ContentDecoder, DecodeError, encodings
from .._core.protocol import Download
from .._core.saving import too_large_error
from .._exceptions import SkytellsError
from .errors import connection_error, timeout_error

DOWNLOAD_HEADERS = {"user-agent": USER_AGENT, "accept-encoding": "identity"}
"""The only headers of a download: no API key; no compression (outputs are compressed media
already, and an encoded body is decoded here, bounded, only if a server sends one anyway)."""
_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_EXCLUSIVE |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)


def file_error(path: Path, exc: BaseException) -> SkytellsError:
    """The SDK error for a file-system failure (permissions, disk full, invalid path)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return SkytellsError(
        f"Could not write {str(path)[:300]!r}: {reason}", "FILE_WRITE_ERROR", {"path": str(path)}
    )


def file_exists_error(path: Path) -> SkytellsError:
    """The error for a name that is taken: nothing is replaced without ``overwrite=True``."""
    return SkytellsError(
        f"{str(path)[:300]!r} already exists; pass overwrite=True to replace it",
        "FILE_EXISTS",
        {"path": str(path)},
    )


@contextlib.contextmanager
def os_errors(path: Path) -> Iterator[None]:
    """Turn ``OSError``/``ValueError`` (an invalid path, a full disk) into `file_error`."""
    try:
        yield
    except SkytellsError:
        raise
    except FileExistsError:
        raise file_exists_error(path) from None
    except (OSError, ValueError) as exc:
        raise file_error(path, exc) from None


def prepare_folder(target: Path) -> bool:
    """Create the folder files will go in; True when ``target`` itself is that folder (it is a
    folder, or names none with an extension), False when it names the file to write."""
    with os_errors(target):
        if b"\x00" in os.fsencode(target):  # a lone surrogate fails here too, clearly
            raise ValueError("embedded NUL in the path")
        folder_mode = target.is_dir() or not target.suffix
        (target if folder_mode else target.parent).mkdir(parents=True, exist_ok=True)
        return folder_mode


def ensure_free(paths: Iterable[Path]) -> None:
    """Refuse at once (before any download) if one of ``paths`` exists."""
    for path in paths:
        with os_errors(path):
            if os.path.lexists(path):
                raise file_exists_error(path)


def write_bytes(path: Path, data: bytes, overwrite: bool) -> None:
    """Write a whole small file (a text output) with the same guarantees as a download."""
    with os_errors(path):
        part, file = _create_part(path)
        try:
            with file:
                file.write(data)
            _commit(part, path, overwrite)
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise


def _create_part(dest: Path) -> tuple[Path, IO[bytes]]:
    """A new temporary file next to ``dest``, created exclusively, never through a link."""
    for _ in range(100):
        part = dest.with_name(f"{dest.name[:100]}.{os.urandom(4).hex()}.part")
        try:
            fd = os.open(part, _EXCLUSIVE, 0o666)
        except FileExistsError:  # taken (or a planted link): another random name
            continue
        return part, os.fdopen(fd, "wb")
    raise FileExistsError(f"no free temporary name next to {dest}")


def _commit(part: Path, dest: Path, overwrite: bool) -> None:
    """Move the complete ``part`` to ``dest``; an existing ``dest`` only with ``overwrite``."""
    if overwrite:
        os.replace(part, dest)  # replaces a link at dest itself, never what it points to
        return
    try:
        os.link(part, dest)  # fails if dest exists (a link there too): atomic, never replaces
    except FileExistsError:
        raise file_exists_error(dest) from None
    except OSError:  # no hard links here (some network and FAT file systems): reserve the name
        os.close(os.open(dest, _EXCLUSIVE, 0o666))
        os.replace(part, dest)
        return
    os.unlink(part)


def _content_decoder(url: str, header: str) -> ContentDecoder:
    """The decoder of a download's body: only the encodings the SDK can undo, bounded."""
    unknown = [name for name in encodings(header) if name not in KNOWN_ENCODINGS]
    try:
        if unknown:
            raise DecodeError(f"unsupported {unknown[0][:40]!r}")
        return ContentDecoder(header)
    except DecodeError as exc:
        raise SkytellsError(
            f"Downloading {url[:300]} failed: Content-Encoding {header[:60]!r} ({exc}; identity "
            "was asked for)",
            "UNSUPPORTED_CONTENT_ENCODING",
            {"url": url},
        ) from None


class BodyCheck:
    """The checks of a downloaded body, whether it goes to disk (`FileSink`) or to the caller
    (an output file being read): only the encodings the SDK can undo, decoded in pieces of at
    most `PIECE`; at most ``max_bytes`` decoded bytes; the declared ``Content-Length`` reached;
    the deadline (a `time.monotonic()` instant). Built when the headers arrive (a declared size
    past the cap is refused then); ``decoded``: the HTTP client's own hooks read (and decoded)
    the body already."""

    def __init__(
        self,
        url: str,
        max_bytes: int,
        deadline: float,
        headers: Mapping[str, str],
        decoded: bool = False,
    ) -> None:
        self.url, self.max_bytes, self.deadline = url, max_bytes, deadline
        encoding = headers.get("content-encoding", "")
        self.decoder = _content_decoder(url, "" if decoded else encoding)
        length = "" if decoded and encoding else headers.get("content-length", "").strip()
        self.length = int(length) if length.isdigit() and len(length) < 20 else None
        self.total = None if self.decoder.layers else self.length  # decoded size, if known
        if self.total is not None and self.total > max_bytes:
            raise too_large_error(url, max_bytes)
        self.done = 0  # decoded bytes passed on
        self.received = 0  # raw bytes received

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of the next raw bytes (each counted against the cap as it is
        taken); a timeout once the deadline has passed."""
        self.received += len(raw)
        if time.monotonic() > self.deadline:
            raise timeout_error("GET", self.url, 0)
        return self._counted(self.decoder.feed(raw))

    def end(self) -> Iterator[bytes]:
        """The last decoded pieces, once the body is known to be whole."""
        if self.length is not None and self.received < self.length:
            raise connection_error(
                "GET", self.url, f"incomplete body ({self.received} of {self.length} bytes)"
            )
        return self._counted(self.decoder.finish())

    def _counted(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        """``pieces`` one by one (each at most `PIECE` when decoding), stopping at the cap:
        memory stays bounded, whatever the compression ratio."""
        try:
            for piece in pieces:
                if self.done + len(piece) > self.max_bytes:
                    raise too_large_error(self.url, self.max_bytes)
                self.done += len(piece)
                yield piece
        except DecodeError as exc:
            raise connection_error("GET", self.url, f"undecodable body ({exc})") from None


class FileSink:
    """Receives the raw bytes of one download (used by both drivers; blocking calls).

    Created when the response headers arrive: they choose the final path (`Download.choose`)
    and set up the body's checks (`BodyCheck`). `open` creates the temporary file, `write`
    decodes and appends, `finish` checks the body is complete and moves the file into place,
    `abort` removes what was written.
    """

    def __init__(self, action: Download, headers: Mapping[str, str], decoded: bool = False) -> None:
        self.action = action
        self.check = BodyCheck(action.url, action.max_bytes, action.deadline, headers, decoded)
        self.dest = action.choose(headers)
        self.part: Path | None = None
        self._file: IO[bytes] | None = None

    @property
    def done(self) -> int:
        """Decoded bytes written."""
        return self.check.done

    @property
    def total(self) -> int | None:
        """The decoded size, if the headers tell it."""
        return self.check.total

    def open(self) -> None:
        """Refuse a taken name (unless overwriting) and create the temporary file."""
        with os_errors(self.dest):
            if not self.action.overwrite and os.path.lexists(self.dest):
                raise file_exists_error(self.dest)
            self.part, self._file = _create_part(self.dest)

    def write(self, raw: bytes) -> None:
        """Decode and append a chunk, within the size cap and the deadline."""
        self._pump(self.check.feed(raw))

    def finish(self) -> Path:
        """Check the body is whole, then move the file to its name; returns that path."""
        self._pump(self.check.end())
        assert self._file is not None and self.part is not None
        with os_errors(self.dest):
            self._file.close()
            _commit(self.part, self.dest, self.action.overwrite)
        self.part = None
        return self.dest

    def abort(self) -> None:
        """Close and remove the temporary file (the download failed or was cancelled)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self.part is not None:
            with contextlib.suppress(OSError):
                self.part.unlink()
            self.part = None

    def _pump(self, pieces: Iterator[bytes]) -> None:
        """Write decoded pieces one by one, as `BodyCheck` lets them through."""
        assert self._file is not None
        with os_errors(self.dest):
            for piece in pieces:
                self._file.write(piece)
