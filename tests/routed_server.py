"""A real HTTP server on 127.0.0.1 whose answers are computed from each request by a function.

The sibling of `tests.scripted_server` for hostile behaviour that depends on the request (a page
that echoes the page asked for, a per-id answer, a create answered only after some retries) or
that drops the connection without answering. Real sockets, real HTTP; `.requests` records every
request received, in order.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.scripted_server import Reply, Seen

DROP = Reply(status=0)
"""Answer nothing: read the request, then close the connection."""

Route = Callable[[Seen, int], Reply]
"""``route(request, number)`` -> the reply; ``number`` counts the requests so far, from 1."""


class RoutedServer:
    """Answers each request with ``route(request, number)``; records every request."""

    def __init__(self, route: Route) -> None:
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
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client gave up on a slow reply: expected in deadline tests

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def count(self, method: str, path_prefix: str = "/v1/") -> int:
        """How many requests with this method (and a path starting so) were received."""
        with self._lock:
            return sum(
                1 for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            )

    @contextmanager
    def running(self) -> Iterator[RoutedServer]:
        thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._httpd.shutdown()
            self._httpd.server_close()
            thread.join(timeout=5)
