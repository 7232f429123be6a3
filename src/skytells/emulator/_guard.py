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
- **Slow bodies**: a request whose body stops arriving for `request_timeout` seconds, or arrives
  slower than `MIN_BODY_RATE` on average once `request_timeout` has passed, is answered 408 and
  its connection closed (slow headers, and how many connections may be sending a body at once,
  are the protocol's business: see `_protocol.py`).
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
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError, error_id_for

CONTROL_PREFIX = "/_emulator"
MAX_BODY_BYTES = 16 << 20
"""The largest request body the API accepts (16 MiB: room for `data:` URIs of input files)."""
MIN_BODY_RATE = 64 << 10
"""The slowest a request body may arrive on average (bytes per second), after a first
`request_timeout` of grace (16 MiB then takes at most about 4 minutes)."""
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
        # Host check cache: the canonical host of a value, or None when it is refused
        self._verdicts: dict[tuple[str, str | None, int | None], str | None] = {}

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
        if "host" in headers:  # URLs in answers are built from the host's canonical form
            scope = _with_host(scope, self._own_host(headers["host"], scope))
        limit = MAX_CONTROL_BODY_BYTES if control else MAX_BODY_BYTES
        seen, body_done, answered = 0, False, False

        async def refuse(error: ApiError) -> None:
            nonlocal answered
            answered = True
            with contextlib.suppress(Exception):  # the application may have answered already
                await _answer(error, scope, receive, send)
            raise _Answered

        loop = asyncio.get_running_loop()
        started: float | None = None  # when the application first asked for the body

        async def guarded_receive() -> Message:
            nonlocal seen, body_done, answered, started
            if body_done:  # only the body is timed and counted (later: waits for a disconnect)
                return await receive()
            if started is None:
                started = loop.time()
            # Each piece within `body_timeout`, and on average MIN_BODY_RATE after a first
            # `body_timeout` of grace: a byte now and then does not hold a connection forever.
            due = started + self.body_timeout + seen / MIN_BODY_RATE - loop.time()
            piece = asyncio.ensure_future(receive())
            try:
                # A piece already received is taken even when the time is up (timeout 0 still
                # lets `receive` run once).
                await asyncio.wait({piece}, timeout=max(0.0, min(self.body_timeout, due)))
            except BaseException:
                piece.cancel()
                raise
            if not piece.done():
                piece.cancel()
                slow = due < self.body_timeout
                text = "The request body arrives too slowly" if slow else "The request body stalled"
                details = {"min_bytes_per_second": MIN_BODY_RATE} if slow else None
                await refuse(ApiError(408, error_id_for(408), text, details))
            message = piece.result()
            if message["type"] != "http.request":
                body_done = True
                if message["type"] == "http.disconnect":  # gone mid-body: no one to answer
                    answered = True
                    raise _Answered
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
        if host is not None and self._own_host(host, scope) is None:
            return ApiError(
                421,
                error_id_for(421),
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
                415, error_id_for(415), "Control API bodies must be Content-Type: application/json"
            )
        return None

    def _own_host(self, value: str, scope: Scope) -> str | None:
        """The canonical form of `value` if it names this server, else None (cached)."""
        server = scope.get("server")
        local, port = (server[0], server[1]) if server else (None, None)
        return self._canonical_host(value, local, port)

    def _canonical_host(self, value: str, local: str | None, port: int | None) -> str | None:
        key = (value, local, port)
        if key in self._verdicts:
            return self._verdicts[key]
        verdict = self._check_host(value, local, port)
        if len(self._verdicts) >= 256:
            self._verdicts.clear()
        self._verdicts[key] = verdict
        return verdict

    def _check_host(self, value: str, local: str | None, port: int | None) -> str | None:
        """The canonical `name[:port]` of a Host value naming this server, or None.

        The value must be valid syntax (a DNS name, an IPv4 address or a bracketed IPv6 one, and
        an ASCII port) naming the server's port (left out only when it is 80). The canonical
        form has no trailing dot, a lower-case name and the port without leading zeros; a
        loopback address of the other family than the one the connection arrived on (`[::1]`
        on a server listening on 127.0.0.1) is replaced by the server's own address, so that
        every URL in an answer can be used.
        """
        parsed = split_host(value)
        if parsed is None:
            return None
        name, given_port = parsed
        if port is None:  # a server that does not say which port it serves: names only
            pass
        elif given_port is not None:
            if given_port != port:
                return None
        elif port != 80:
            return None
        local_name = _normal_name(local) if local is not None else None
        if not (name in self.allowed_hosts or name in LOOPBACK_NAMES or name == local_name):
            return None
        if name in ("127.0.0.1", "::1") and local_name in ("127.0.0.1", "::1"):
            name = local_name
        shown = f"[{name}]" if ":" in name else name
        return shown if given_port is None else f"{shown}:{given_port}"

    def _is_own_origin(self, origin: str, local: str | None, port: int | None) -> bool:
        scheme, sep, rest = origin.strip().partition("://")
        if not sep or scheme.lower() != "http" or "/" in rest:
            return False
        return self._canonical_host(rest, local, port) is not None

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
        error_id_for(413),
        f"Request body too large: at most {limit} bytes",
        {"max_bytes": limit},
    )


async def _answer(error: ApiError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer `error` and close the connection (its unread body is never read)."""
    error.headers["connection"] = "close"
    await error.response()(scope, receive, send)


def _with_host(scope: Scope, host: str | None) -> Scope:
    """`scope` with its Host header replaced by `host` (the canonical form of the one accepted)."""
    if host is None:
        return scope
    headers = [(name, value) for name, value in scope["headers"] if name.lower() != b"host"]
    return {**scope, "headers": [(b"host", host.encode("ascii")), *headers]}


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


_DNS_NAME = re.compile(
    r"(?=.{1,253}\.?$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*\.?",
    re.IGNORECASE,
)
_PORT = re.compile(r"[0-9]{1,10}")  # leading zeros allowed (RFC 3986)
_NUMERIC = re.compile(r"[0-9.]+")


def split_host(value: str) -> tuple[str, int | None] | None:
    """(normalised name, port or None) of a Host value; None if it is not valid syntax (RFC 3986
    host: a DNS name, an IPv4 address, a bracketed IPv6 address; an ASCII decimal port)."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        try:
            address = ipaddress.IPv6Address(value[1:end])
        except ValueError:  # brackets hold IPv6 addresses only: `[127.0.0.1]` is refused
            return None
        name, rest = str(address), value[end + 1 :]
    else:
        name, colon, port_text = value.partition(":")
        rest = colon + port_text
        if not _DNS_NAME.fullmatch(name):
            return None
        if _NUMERIC.fullmatch(name.rstrip(".")):  # dotted digits are an IPv4 address or nothing
            try:
                ipaddress.IPv4Address(name.rstrip("."))
            except ValueError:
                return None
        name = _normal_name(name)
    if not rest:
        return name, None
    if rest[0] != ":" or not _PORT.fullmatch(rest[1:]):
        return None
    port = int(rest[1:])
    return (name, port) if 0 < port < 65536 else None


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
