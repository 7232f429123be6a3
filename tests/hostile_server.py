"""A raw-socket HTTP/1.1 server on 127.0.0.1 for bodies no honest server sends.

Compression bombs (gzip, gzip inside gzip, deflate), bodies that never end, a huge declared
``Content-Length``, and event streams that keep sending (valid events, or one line that never
ends). It counts the bytes each response managed to hand to the socket before the client hung
up, so a test can show the client stopped reading (memory stayed bounded) without timing it.
One request per connection (``Connection: close``); routes are ``(method, path)`` pairs.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

MiB = 1024 * 1024


class ClientGone(Exception):
    """The client closed the connection while the server was still sending."""


@dataclass
class Exchange:
    """One request and what became of its response."""

    method: str
    path: str
    headers: dict[str, str]
    sent: int = 0  # body bytes accepted by the socket
    client_left: bool = False  # a write failed: the client hung up mid-body
    finished: bool = False  # the whole scripted body was sent
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Body:
    """A scripted response: status line and headers, then ``pieces`` (each sent as it comes,
    as chunks if ``chunked``), until they end, ``max_bytes`` or ``max_seconds`` is reached."""

    pieces: Callable[[], Iterator[bytes]]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    max_bytes: int = 1 << 62
    max_seconds: float = 60.0


def fixed(body: bytes | Any, status: int = 200, **headers: str) -> Body:
    """A complete body (JSON-encoded unless bytes) with its ``Content-Length``."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Body(
        lambda: iter([data]),
        status,
        {"content-type": "application/json", "content-length": str(len(data)), **headers},
    )


@cache
def _zeros_compressed(size: int, wbits: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b"\0" * MiB
    parts = [packer.compress(block) for _ in range(size // MiB)]
    return b"".join([*parts, packer.flush()])


def gzip_bomb(decoded: int = 128 * MiB, status: int = 200) -> Body:
    """About 1/1000 of ``decoded`` bytes on the wire; ``decoded`` zeros once inflated."""
    return fixed(
        _zeros_compressed(decoded, zlib.MAX_WBITS | 16), status, **{"content-encoding": "gzip"}
    )


def gzip_in_gzip_bomb(decoded: int = 128 * MiB) -> Body:
    """A gzip bomb gzipped again (``Content-Encoding: gzip, gzip``): a few hundred bytes."""
    inner = _zeros_compressed(decoded, zlib.MAX_WBITS | 16)
    return fixed(gzip.compress(inner, 9), **{"content-encoding": "gzip, gzip"})


def deflate_bomb(decoded: int = 128 * MiB) -> Body:
    """A zlib-wrapped deflate bomb (``Content-Encoding: deflate``)."""
    return fixed(_zeros_compressed(decoded, zlib.MAX_WBITS), **{"content-encoding": "deflate"})


def _repeat(piece: bytes, head: bytes = b"") -> Callable[[], Iterator[bytes]]:
    def pieces() -> Iterator[bytes]:
        if head:
            yield head
        while True:
            yield piece

    return pieces


def endless_chunked(max_bytes: int = 512 * MiB) -> Body:
    """A chunked JSON-looking body that goes on (up to ``max_bytes``, then ends)."""
    return Body(
        _repeat(b"x" * 65536, b'{"id": "p1", "output": "'),
        headers={"content-type": "application/json"},
        chunked=True,
        max_bytes=max_bytes,
    )


def huge_declared(length: int = 200_000_000) -> Body:
    """A JSON answer that declares (and sends) ``length`` bytes."""
    head = b'{"id": "p1", "status": "succeeded", "output": "'
    return Body(
        _repeat(b"x" * 65536, head),
        headers={"content-type": "application/json", "content-length": str(length)},
        max_bytes=length,
    )


def busy_events(seconds: float) -> Body:
    """An event stream of valid ``progress`` events without pause, for ``seconds``."""
    event = b'event: progress\ndata: {"progress": 50}\n\n'
    return Body(
        _repeat(event * 256),
        headers={"content-type": "text/event-stream"},
        chunked=True,
        max_seconds=seconds,
    )


def endless_line(seconds: float) -> Body:
    """An event stream whose one line never ends (no newline), for ``seconds``."""
    return Body(
        _repeat(b"y" * 65536, b"data: "),
        headers={"content-type": "text/event-stream"},
        chunked=True,
        max_seconds=seconds,
    )


class HostileServer:
    """Serves scripted `Body`s by route and records an `Exchange` per request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Body] = {}
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stopping = threading.Event()
        self.base_url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/v1"

    def route(self, method: str, path: str, body: Body) -> None:
        """Answer ``method path`` (without the query) with ``body``."""
        self.routes[(method, path)] = body

    def seen(self, method: str, path: str) -> list[Exchange]:
        """The exchanges for ``method path`` so far."""
        with self._lock:
            return [x for x in self.exchanges if (x.method, x.path) == (method, path)]

    @contextmanager
    def running(self) -> Iterator[HostileServer]:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stopping.set()
            thread.join(timeout=5)
            self._sock.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        with conn:
            try:
                exchange = self._read_request(conn)
            except (OSError, ValueError):
                return
            if exchange is None:
                return
            with self._lock:
                self.exchanges.append(exchange)
            body = self.routes.get((exchange.method, exchange.path))
            try:
                if body is None:
                    self._write(conn, exchange, fixed({"error": "no route"}, 404))
                else:
                    self._write(conn, exchange, body)
                conn.shutdown(socket.SHUT_WR)
            except (ClientGone, OSError):
                exchange.client_left = True
            finally:
                exchange.done.set()

    def _read_request(self, conn: socket.socket) -> Exchange | None:
        data = b""
        while b"\r\n\r\n" not in data:
            more = conn.recv(65536)
            if not more:
                return None
            data += more
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length") or 0)
        while len(rest) < length:
            more = conn.recv(65536)
            if not more:
                break
            rest += more
        return Exchange(method, target.split("?", 1)[0], headers)

    def _write(self, conn: socket.socket, exchange: Exchange, body: Body) -> None:
        headers = {**body.headers, "connection": "close"}
        if body.chunked:
            headers["transfer-encoding"] = "chunked"
        head = f"HTTP/1.1 {body.status} Scripted\r\n" + "".join(
            f"{name}: {value}\r\n" for name, value in headers.items()
        )
        _send(conn, (head + "\r\n").encode("latin-1"))
        ends = time.monotonic() + body.max_seconds
        left = body.max_bytes
        for piece in body.pieces():
            if left <= 0 or time.monotonic() >= ends:
                break
            piece = piece[:left]
            _send(conn, b"%x\r\n%s\r\n" % (len(piece), piece) if body.chunked else piece)
            left -= len(piece)
            exchange.sent += len(piece)
        if body.chunked:
            _send(conn, b"0\r\n\r\n")
        exchange.finished = True


def _send(conn: socket.socket, data: bytes) -> None:
    try:
        conn.sendall(data)
    except (BrokenPipeError, ConnectionResetError) as exc:
        raise ClientGone from exc
