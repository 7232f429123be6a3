"""A hostile file host on 127.0.0.1: a raw-socket HTTP/1.1 server for what a CDN should never do.

Each path serves a `File`: any status and headers, a body given whole or produced by an iterator
(an endless body, a slow drip, a decompression bomb with its ``Content-Encoding``), sent with a
declared ``Content-Length`` or close-delimited. Requests are recorded (method, raw path,
headers). Real sockets, real bytes on the wire: nothing in the client is stubbed.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache


@dataclass
class File:
    """What one path answers."""

    body: bytes | Callable[[], Iterator[bytes]] = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "image/png"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


class FileHost:
    """Serves `File`s by path; unknown paths get 404. Every response closes its connection."""

    def __init__(self) -> None:
        self.files: dict[str, File] = {}
        self.requests: list[Request] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)  # so the accept loop sees the stop flag
        self._stopped = threading.Event()
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def url(self, path: str) -> str:
        """The URL of ``path`` (given raw: percent-escapes are sent as written)."""
        return self.base_url + path

    def serve(self, path: str, file: File) -> str:
        """Serve ``file`` at ``path``; returns its URL."""
        self.files[path] = file
        return self.url(path)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(65536)
                if not data:
                    return
                head += data
            lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.requests.append(Request(method, path, headers))
            # Percent-escapes match whatever their case (RFC 3986 6.2.2.1: %2e is %2E).
            served = {_escapes_upper(known): f for known, f in self.files.items()}
            missing = File(b"not found", 404, content_type="text/plain")
            file = served.get(_escapes_upper(path), missing)
            sized = isinstance(file.body, bytes)
            out = [f"HTTP/1.1 {file.status} X", f"content-type: {file.content_type}"]
            if sized and "content-length" not in {k.lower() for k in file.headers}:
                assert isinstance(file.body, bytes)
                out.append(f"content-length: {len(file.body)}")
            out += [f"{k}: {v}" for k, v in file.headers.items()] + ["connection: close"]
            conn.sendall(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
            chunks = iter([file.body]) if isinstance(file.body, bytes) else file.body()
            for chunk in chunks:  # until the client hangs up (an endless body)
                conn.sendall(chunk)

    @contextmanager
    def running(self) -> Iterator[FileHost]:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stopped.set()
            thread.join(timeout=5)
            self._sock.close()


def endless(chunk: bytes = b"\0" * 65536, pause: float = 0.0) -> Callable[[], Iterator[bytes]]:
    """A body that never ends (``pause`` seconds between chunks)."""

    def body() -> Iterator[bytes]:
        while True:
            yield chunk
            if pause:
                time.sleep(pause)

    return body


@cache
def gzip_bomb(mebibytes: int = 1024) -> bytes:
    """A valid single-member gzip of ``mebibytes`` MiB of zeros, about 1 MB per GiB: full-flush
    segments are position-independent, so one compressed MiB is repeated."""
    zeros = b"\0" * (1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    final_empty_block = b"\x03\x00"
    trailer = struct.pack("<II", crc, (mebibytes << 20) & 0xFFFFFFFF)
    return first + segment * (mebibytes - 1) + final_empty_block + trailer


def gzip(data: bytes) -> bytes:
    """``data`` gzip-compressed (one member)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def _escapes_upper(path: str) -> str:
    """``path`` with its percent-escapes in upper case (their normal form)."""
    return re.sub(r"%[0-9a-fA-F]{2}", lambda m: m.group().upper(), path)
