"""The emulator's protection as a local server, applied to every request before anything else.

- **Host check** (DNS rebinding): the `Host` header must name the emulator itself: 127.0.0.1,
  localhost, ::1, the address the connection arrived on, or a name from `allowed_hosts`, with the
  server's port (the port may be left out only when it is 80). Anything else is answered 421 and
  never reaches the application, so no URL in any answer is built from a foreign host.
- **Body limits**: a request body may be at most `MAX_BODY_BYTES` (the API) or
  `MAX_CONTROL_BODY_BYTES` (the control API) long. A `Content-Length` over the limit is answered
  413 before any of the body is read; a body without one (chunked) is counted as it is read, and
  answered 413 as soon as it passes the limit. Either way the connection is closed, so the server
  never reads (or holds) more than the limit.
- **Slow bodies**: a request whose body stops arriving for `request_timeout` seconds is answered 408
  and its connection closed (slow headers are the protocol's business: see `_protocol.py`).
- **Control API** (`/_emulator/...`): it needs one of the emulator's API keys (`x-api-key` or
  `Authorization: Bearer`, 401 without), and refuses what a web page could send: an `Origin`
  that is not the emulator's own, a `Sec-Fetch-Site` of `cross-site` or `same-site` (403), and a
  body that is not `Content-Type: application/json` (415; a browser form or a no-CORS `fetch`
  cannot send that type without a CORS preflight, which the emulator never grants).

The guard passes the server's own `send` through untouched (fault injection needs it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError

CONTROL_PREFIX = "/_emulator"
MAX_BODY_BYTES = 16 << 20
"""The largest request body the API accepts (16 MiB: room for `data:` URIs of input files)."""
MAX_CONTROL_BODY_BYTES = 64 << 10
"""The largest request body the control API accepts (its bodies are small settings objects)."""

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_SAFE_FETCH_SITES = ("same-origin", "none")


class _Answered(Exception):
    """Raised through the application once the guard has answered for it (body too large/slow)."""


class GuardMiddleware:
    """Host check, body limits and the control API's key and cross-site checks (module doc)."""

    def __init__(
        self,
        app: ASGIApp,
        api_keys: Callable[[], tuple[str, ...]],
        allowed_hosts: tuple[str, ...],
        body_timeout: float,
    ) -> None:
        self.app = app
        self.api_keys = api_keys
        self.allowed_hosts = frozenset(_normal_name(name) for name in allowed_hosts)
        self.body_timeout = body_timeout
        self._verdicts: dict[tuple[str, str | None, int | None], bool] = {}  # Host check cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else scope["path"]
        control = path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
        error = self._refusal(scope, headers, control)
        if error is not None:
            await _answer(error, scope, receive, send)
            return
        limit = MAX_CONTROL_BODY_BYTES if control else MAX_BODY_BYTES
        seen, body_done, answered = 0, False, False

        async def refuse(error: ApiError) -> None:
            nonlocal answered
            answered = True
            with contextlib.suppress(Exception):  # the application may have answered already
                await _answer(error, scope, receive, send)
            raise _Answered

        async def guarded_receive() -> Message:
            nonlocal seen, body_done
            if body_done:  # only the body is timed and counted (later: waits for a disconnect)
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_timeout)
            except asyncio.TimeoutError:
                await refuse(ApiError(408, "INVALID_REQUEST", "The request body stalled"))
                raise  # not reached: refuse raises
            if message["type"] != "http.request":
                body_done = True
                return message
            seen += len(message.get("body", b""))
            if seen > limit:
                await refuse(_too_large(limit))
            body_done = not message.get("more_body", False)
            return message

        try:
            await self.app(scope, guarded_receive, send)
        except Exception:
            if not answered:
                raise
            # The application saw its body cut short (and may have tried to answer, which the
            # server refused): the client already has the guard's answer.

    def _refusal(self, scope: Scope, headers: dict[str, str], control: bool) -> ApiError | None:
        """The error to answer instead of handling the request, or None."""
        server = scope.get("server")
        port = server[1] if server else None
        local = server[0] if server else None
        host = headers.get("host")
        if host is not None and not self._is_own_host(host, local, port):
            return ApiError(
                421,
                "INVALID_REQUEST",
                "Unknown Host: this emulator serves only the loopback names, its own address "
                "and its allowed_hosts",
            )
        length = headers.get("content-length")
        limit = MAX_CONTROL_BODY_BYTES if control else MAX_BODY_BYTES
        if length is not None and length.strip().isdigit() and int(length) > limit:
            return _too_large(limit)
        if not control:
            return None
        origin = headers.get("origin")
        if origin is not None and not self._is_own_origin(origin, local, port):
            return ApiError(
                403, "FORBIDDEN", "Cross-origin requests to the control API are refused"
            )
        if headers.get("sec-fetch-site", "none").strip().lower() not in _SAFE_FETCH_SITES:
            return ApiError(403, "FORBIDDEN", "Cross-site requests to the control API are refused")
        if not self._has_key(headers):
            return ApiError(
                401,
                "UNAUTHORIZED",
                "The control API needs the emulator's API key in the x-api-key header",
            )
        has_body = "transfer-encoding" in headers or (length or "0").strip() not in ("", "0")
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if has_body and media_type != "application/json":
            return ApiError(
                415, "INVALID_REQUEST", "Control API bodies must be Content-Type: application/json"
            )
        return None

    def _is_own_host(self, value: str, local: str | None, port: int | None) -> bool:
        key = (value, local, port)
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = self._check_host(value, local, port)
            if len(self._verdicts) >= 256:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def _check_host(self, value: str, local: str | None, port: int | None) -> bool:
        name, sep, given_port = _split_host(value)
        if name is None:
            return False
        if port is None:  # a server that does not say which port it serves: names only
            pass
        elif sep:
            if not given_port.isdigit() or int(given_port) != port:
                return False
        elif port != 80:
            return False
        if name in self.allowed_hosts or name in LOOPBACK_NAMES:
            return True
        return local is not None and name == _normal_name(local)

    def _is_own_origin(self, origin: str, local: str | None, port: int | None) -> bool:
        scheme, sep, rest = origin.strip().partition("://")
        if not sep or scheme.lower() != "http" or "/" in rest:
            return False
        return self._is_own_host(rest, local, port)

    def _has_key(self, headers: dict[str, str]) -> bool:
        candidates = [headers.get("x-api-key", "").strip()]
        authorization = headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            candidates.append(authorization[7:].strip())
        return any(
            hmac.compare_digest(candidate.encode(), key.encode())
            for candidate in candidates
            if candidate
            for key in self.api_keys()
        )


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "INVALID_REQUEST",
        f"Request body too large: at most {limit} bytes",
        {"max_bytes": limit},
    )


async def _answer(error: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer `error` and close the connection (its unread body is never read)."""
    error.headers["connection"] = "close"
    await error.response()(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    """The request headers (lower-case names; the first of repeated ones, except Host: last)."""
    found: dict[str, str] = {}
    hosts = 0
    for raw_name, raw_value in scope.get("headers", ()):
        name = raw_name.decode("latin-1").lower()
        if name == "host":
            hosts += 1
        found.setdefault(name, raw_value.decode("latin-1"))
    if hosts > 1:
        found["host"] = ""  # ambiguous: refused by the host check
    return found


def _split_host(value: str) -> tuple[str | None, str, str]:
    """(normalised name, ":" if a port was given, the port) of a Host value; name None if bad."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None, "", ""
        name, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None, "", ""
        return _normal_name(name), rest[:1], rest[1:]
    name, sep, port = value.partition(":")
    if not name or ":" in port:
        return None, "", ""
    return _normal_name(name), sep, port


def _normal_name(name: str) -> str:
    """A host name or address in one spelling: lower case, no brackets, no trailing dot."""
    name = name.strip().strip("[]").rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def guard(app: ASGIApp, store: Any) -> GuardMiddleware:
    """Wrap the emulator application `app` (bound to `store`) in its guard (settings from
    `store.config`: `api_keys`, `allowed_hosts`, `request_timeout`)."""
    return GuardMiddleware(
        app,
        lambda: tuple(store.config.api_keys),
        store.config.allowed_hosts,
        store.config.request_timeout,
    )
