"""A real HTTP server on 127.0.0.1 that answers with scripted responses and records requests.

For what the emulator never produces (every error-body variant of the spec, gateway HTML,
``canceled`` spellings, ``{"success": true}`` cancels) and for checking exactly what the SDK
sent (headers, percent-encoded paths, attempt counts). Real sockets, real HTTP.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import Self


@dataclass
class Reply:
    """One scripted response."""

    status: int = 200
    body: Any = None  # JSON-encoded unless bytes/str
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    delay: float = 0.0  # seconds before the status line
    drip: float = 0.0  # seconds between body bytes (a server dripping bytes)

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    """One recorded request."""

    method: str
    path: str  # raw, as sent on the wire (still percent-encoded)
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


DROP = Reply(status=0)
"""Answer nothing: read the request, then close the connection."""

Route = Callable[[Seen, int], Reply]
"""``route(request, number)`` -> the reply; ``number`` counts the requests so far, from 1."""


class RoutedServer:
    """Answers each request with ``route(request, number)``; records every request in
    ``.requests``. A `Reply` may be delayed, dripped byte by byte, or `DROP` (no answer)."""

    def __init__(self, route: Route, tls: ssl.SSLContext | None = None) -> None:
        self.route = route
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with server._lock:
                    server.requests.append(seen)
                    number = len(server.requests)
                reply = server.route(seen, number)
                time.sleep(reply.delay)
                if reply.status == 0:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                payload = reply.encoded()
                self.send_response(reply.status)
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not reply.drip:
                    self.wfile.write(payload)
                    return
                for byte in payload:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(reply.drip)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client gave up on a slow reply: expected in deadline tests

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        scheme = "http"
        if tls is not None:  # HTTPS with the given server context (handshakes on accept)
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
            scheme = "https"
        self.base_url = f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def count(self, method: str, path_prefix: str = "/v1/") -> int:
        """How many requests with this method (and a path starting so) were received."""
        with self._lock:
            return sum(
                1 for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            )

    @contextmanager
    def running(self) -> Iterator[Self]:
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join(timeout=5)


class ScriptedServer(RoutedServer):
    """Serves queued `Reply`s in order (the last one repeats) and records every request."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.replies: deque[Reply] = deque([Reply()])
        super().__init__(self._next, tls)

    def _next(self, seen: Seen, number: int) -> Reply:
        with self._lock:
            return self.replies.popleft() if len(self.replies) > 1 else self.replies[0]

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies (the last one repeats)."""
        with self._lock:
            self.replies = deque(replies or (Reply(),))
            self.requests.clear()


def prediction(status: str = "succeeded", **fields: Any) -> dict[str, Any]:
    """A prediction body as the API returns it."""
    return {"id": "pred_abc123", "status": status, "output": None, **fields}
