"""A real HTTP server on 127.0.0.1 whose answers are computed from each request by a function.

For hostile behaviour that depends on the request (a page that echoes the page asked for, a
per-id answer, a create answered only after some retries) or that drops the connection without
answering. It is the server `tests.scripted_server.ScriptedServer` is built on.
"""

from tests.scripted_server import DROP, Route, RoutedServer

__all__ = ["DROP", "Route", "RoutedServer"]
