"""The emulator checks its own responses against its OpenAPI document (test sessions only).

`install(app, checker)` puts a `ResponseChecker` inside an emulator application, between its fault
middleware and the API, so that every response the API produces is validated whatever the
client (the SDK's default httpx pool with its deadline backend, its aiohttp transport, a private
event loop, a subprocess, a raw socket) and whatever faults then do to it on the wire. The check
(`tests.openapi_hook.validate_response`) runs on a worker thread: the server's event loop never
waits for it and the client sees the same timing as without it. A response that does not conform
is kept; `take_violations()` waits for the checks submitted so far and returns them, and the
`emu` fixture fails the test at teardown when there are any.

A response is submitted for checking before its last byte is handed to the server, so once a
client has a whole response, its check is in the queue. Event streams are checked at their
start (status and headers; the body never ends on its own), like the client-side hook.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.openapi_hook import UNREAD_STREAM, OpenAPIResponseError, is_checked, validate_response

__all__ = ["ResponseChecker", "install"]

_JSON_BODY_LIMIT = 64 * 1024 * 1024
"""A JSON body is kept whole up to this size to validate it (bigger: a violation)."""

_OTHER_BODY_LIMIT = 64 * 1024
"""Files have no body schema: only the first bytes of other content types are kept."""

_STREAMING_TYPES = ("text/event-stream",)

Scope = dict[str, Any]
Message = dict[str, Any]


class ResponseChecker:
    """ASGI middleware that validates the responses of `app` against the OpenAPI document."""

    def __init__(self, app: Any) -> None:
        self.app = app  # None until `install` puts the checker in an application
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openapi-check")
        self._lock = threading.Lock()
        self._violations: list[str] = []
        self._checked = 0

    # ---- ASGI ----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        path = urlsplit(raw.decode("latin-1")).path
        if not is_checked(scope["method"], path):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body = bytearray()
        limit = _OTHER_BODY_LIMIT
        too_big = submitted = False

        async def checked_send(message: Message) -> None:
            nonlocal start, limit, too_big, submitted
            if message["type"] == "http.response.start":
                start = message
                content_type = _header(message, b"content-type").lower()
                if content_type.startswith(_STREAMING_TYPES):
                    self._submit(scope, message, UNREAD_STREAM, False)
                    submitted = True
                elif content_type.startswith("application/json"):
                    limit = _JSON_BODY_LIMIT
            elif message["type"] == "http.response.body" and start is not None and not submitted:
                chunk = message.get("body", b"")
                if len(body) + len(chunk) <= limit:
                    body.extend(chunk)
                else:
                    too_big = too_big or limit == _JSON_BODY_LIMIT
                    body.extend(chunk[: max(0, limit - len(body))])
                if not message.get("more_body", False):
                    self._submit(scope, start, bytes(body), too_big)
                    submitted = True
            await send(message)

        await self.app(scope, receive, checked_send)

    # ---- checks --------------------------------------------------------------------------------

    def _submit(self, scope: Scope, start: Message, body: bytes, too_big: bool) -> None:
        request = {
            "method": scope["method"],
            "url": _url(scope),
            "headers": list(scope.get("headers", [])),
        }
        self._executor.submit(
            self._check, request, start["status"], start["headers"], body, too_big
        )

    def _check(
        self,
        request: dict[str, Any],
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        too_big: bool,
    ) -> None:
        where = f"{request['method']} {request['url']}"
        try:
            if too_big:
                raise OpenAPIResponseError(f"{where}: a JSON body over {_JSON_BODY_LIMIT} bytes")
            response = httpx.Response(
                status,
                headers=headers,
                request=httpx.Request(
                    request["method"], request["url"], headers=request["headers"]
                ),
            )
            validate_response(response, body)
        except OpenAPIResponseError as error:
            self._record(str(error))
        except Exception as error:  # the checker itself failed: never silently
            self._record(f"{where}: the response could not be checked: {error!r}")
        else:
            with self._lock:
                self._checked += 1

    def _record(self, violation: str) -> None:
        with self._lock:
            self._violations.append(violation)

    # ---- results -------------------------------------------------------------------------------

    def drain(self, timeout: float = 30.0) -> None:
        """Wait for every check submitted so far (the worker runs them in order)."""
        marker: Future[None] = self._executor.submit(lambda: None)
        marker.result(timeout)

    def checked(self) -> int:
        """How many responses conformed (after `drain`, all those sent so far)."""
        self.drain()
        with self._lock:
            return self._checked

    def take_violations(self) -> list[str]:
        """The violations found since the last call, once the pending checks are done."""
        self.drain()
        with self._lock:
            found, self._violations = self._violations, []
        return found

    def close(self) -> None:
        """Stop the worker (after the pending checks)."""
        self._executor.shutdown(wait=True)


def install(app: Any, checker: ResponseChecker | None = None) -> ResponseChecker:
    """Put `checker` (default: a new one) inside an emulator application, under its fault
    middleware, which must stay outermost; returns it."""
    outer = app.middleware_stack
    while outer is not None and type(outer).__name__ != "FaultMiddleware":
        outer = getattr(outer, "app", None)  # past the guard, down to the fault middleware
    assert outer is not None, "not an emulator application"
    checker = checker or ResponseChecker(None)
    checker.app, outer.app = outer.app, checker
    return checker


def _header(message: Message, name: bytes) -> str:
    for key, value in message.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _url(scope: Scope) -> str:
    host, port = scope.get("server") or ("127.0.0.1", 80)
    host = f"[{host}]" if ":" in host else host
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    query = scope.get("query_string", b"")
    url = f"{scope.get('scheme', 'http')}://{host}:{port}{raw.decode('latin-1')}"
    return f"{url}?{query.decode('latin-1')}" if query else url
