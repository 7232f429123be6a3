"""The async client's HTTP transport: aiohttp under httpx.

httpx's own async transport (httpcore) spends most of a request's CPU time in its connection
pool's bookkeeping; aiohttp's pool and HTTP parser (C) do the same work several times faster
(``benchmarks/http_stack.py``: about 4x the requests per second at 64 concurrent requests). The
SDK still speaks httpx everywhere, so `AiohttpTransport` is only an `httpx.AsyncBaseTransport`:
requests, responses, streaming, timeouts and errors keep httpx's types and meaning.

`default_async_http_client()` picks it (aiohttp is a dependency of the SDK) unless the
environment variable ``SKYTELLS_ASYNC_HTTP=httpx`` asks for httpx's own transport, the
environment's proxies are ones aiohttp cannot use (`aiohttp_proxies`), or aiohttp cannot be
found.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import ssl
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import aiohttp

ENV_VAR = "SKYTELLS_ASYNC_HTTP"
CHUNK_SIZE = 64 * 1024
DEFAULT_LIMITS = httpx.Limits(
    max_connections=128, max_keepalive_connections=64, keepalive_expiry=30
)


def aiohttp_installed() -> bool:
    """True if aiohttp can be found; it is imported later, by the first request, so that making a
    client stays cheap."""
    return importlib.util.find_spec("aiohttp") is not None


def async_backend() -> str:
    """The transport a new `AsyncSkytellsClient` uses: ``"aiohttp"`` or ``"httpx"``."""
    wanted = os.environ.get(ENV_VAR, "").strip().lower()
    if wanted == "httpx":
        return "httpx"
    return "aiohttp" if aiohttp_installed() else "httpx"


def aiohttp_proxies() -> dict[str, str] | None:
    """The environment's proxies for http and https requests as httpx reads them (``HTTP_PROXY``,
    ``HTTPS_PROXY``, ``ALL_PROXY``; ``{}`` if none), or None if aiohttp cannot honour them (a
    SOCKS proxy, or one reached over https): httpx's own transport is used then."""
    from urllib.request import getproxies

    found = getproxies()
    proxies: dict[str, str] = {}
    for scheme in ("http", "https"):
        url = found.get(scheme) or found.get("all")
        if url:
            if not url.lower().startswith("http://"):
                return None
            proxies[scheme] = url
    return proxies


def default_async_http_client(limits: httpx.Limits = DEFAULT_LIMITS) -> httpx.AsyncClient:
    """The `httpx.AsyncClient` an `AsyncSkytellsClient` makes when none is passed in: over
    aiohttp (`aiohttp_http_client`) unless `async_backend` or the proxies say otherwise."""
    if async_backend() == "aiohttp" and aiohttp_proxies() is not None:
        return aiohttp_http_client(limits)
    return httpx.AsyncClient(limits=limits, follow_redirects=False, timeout=None)


def aiohttp_http_client(limits: httpx.Limits = DEFAULT_LIMITS) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` over `AiohttpTransport`. No client-wide timeout: the driver bounds
    every exchange with its own deadline."""
    return httpx.AsyncClient(
        limits=limits,
        follow_redirects=False,
        timeout=None,
        transport=AiohttpTransport(limits=limits),
    )


@functools.lru_cache(maxsize=4)
def _tls_context(trust_env: bool, cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's own TLS setup (certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when trusting the
    environment), made once: loading the CA bundle takes ~25 ms, and the sync client's
    `dispatch()` opens a new session each time. The variables are arguments so that changing
    them makes a new context."""
    del cert_file, cert_dir  # the cache key only: httpx reads them itself
    return httpx.create_ssl_context(trust_env=trust_env)


def _aiohttp_timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    import aiohttp

    timeout: dict[str, float | None] = request.extensions.get("timeout") or {}
    return aiohttp.ClientTimeout(
        total=None,
        connect=timeout.get("pool"),
        sock_connect=timeout.get("connect"),
        sock_read=timeout.get("read"),
    )


def _httpx_error(exc: Exception, request: httpx.Request) -> httpx.TransportError | None:
    """The httpx exception that means what the aiohttp (or asyncio) one does; None if unknown."""
    import aiohttp

    message = str(exc) or type(exc).__name__
    error: type[httpx.TransportError]
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        error = httpx.ConnectTimeout
    elif isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        error = httpx.ReadTimeout
    elif isinstance(exc, aiohttp.ClientConnectorError):
        error = httpx.ConnectError
    elif isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        error = httpx.RemoteProtocolError
    elif isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        error = httpx.UnsupportedProtocol
    elif isinstance(exc, (aiohttp.ClientResponseError, aiohttp.ClientConnectionError, OSError)):
        error = httpx.ReadError
    elif isinstance(exc, aiohttp.ClientError):
        error = httpx.NetworkError
    else:
        return None
    return error(message, request=request)


class _ResponseStream(httpx.AsyncByteStream):
    """An aiohttp response body as an httpx stream; closing it releases the connection."""

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_chunked(CHUNK_SIZE):
                yield chunk
        except Exception as exc:
            mapped = _httpx_error(exc, self._request)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        # Back to the pool when the body was read whole; the connection is closed otherwise.
        self._response.release()


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An `httpx.AsyncBaseTransport` that sends requests with an `aiohttp.ClientSession`.

    The session (one keep-alive pool of up to ``limits.max_connections``) is created on the
    first request, in the running event loop, and made anew if a later request runs in another
    loop. Proxies come from the environment as httpx reads them (`aiohttp_proxies`, and
    ``NO_PROXY``), once per session; `default_async_http_client` picks httpx's own transport
    for proxies aiohttp cannot use.
    Response bodies are passed on undecoded: httpx decodes them as it does for its own transport.
    """

    def __init__(self, *, limits: httpx.Limits = DEFAULT_LIMITS, trust_env: bool = True) -> None:
        self.limits = limits
        self.trust_env = trust_env
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[str, str] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is not None and self._loop is loop and not self._session.closed:
            return self._session
        self._abandon()
        import aiohttp

        connector = aiohttp.TCPConnector(
            limit=self.limits.max_connections or 0,
            keepalive_timeout=self.limits.keepalive_expiry or 30.0,
            ssl=_tls_context(
                self.trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
            ),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Proxies are read here, once, as httpx reads them (aiohttp's trust_env reads them on
            # every request, a third of its speed, and would add ~/.netrc credentials).
            trust_env=False,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        # aiohttp silently sends an idempotent request (GET, DELETE) again when a reused
        # connection drops; every attempt is the SDK's to decide, count and log (a DELETE whose
        # answer was lost must be seen as such, not as a second DELETE's "not found").
        if hasattr(self._session, "_retry_connection"):
            self._session._retry_connection = False
        self._proxies = (aiohttp_proxies() or {}) if self.trust_env else {}
        self._loop = loop
        return self._session

    def _proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy to send a request for ``url`` through, honouring ``NO_PROXY``."""
        proxy = self._proxies.get(url.scheme)
        if proxy is None:
            return None
        from urllib.request import proxy_bypass

        return None if proxy_bypass(url.host) else proxy

    def _abandon(self) -> None:
        """Drop a session of another (possibly closed) loop, closing its sockets."""
        session, self._session, self._loop = self._session, None, None
        connector = session.connector if session is not None else None
        if session is None or connector is None:
            return
        session.detach()
        # The old loop has usually ended (asyncio.run returned): close the sockets without it.
        # aiohttp's close() is a coroutine for that loop; its synchronous core does the work.
        close_now = getattr(connector, "_close", None)
        if close_now is not None:
            with contextlib.suppress(Exception):
                close_now()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return the response with its body still to be read."""
        from yarl import URL

        session = self._get_session()
        body = await request.aread()
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.lower() != b"transfer-encoding"
        ]
        try:
            response = await session.request(
                request.method,
                URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=_aiohttp_timeout(request),
                proxy=self._proxy_for(request.url) if self._proxies else None,
            )
        except Exception as exc:
            mapped = _httpx_error(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode("latin-1", "replace")
        return httpx.Response(
            response.status,
            headers=response.raw_headers,
            stream=_ResponseStream(response, request),
            extensions=extensions,
            request=request,
        )

    async def aclose(self) -> None:
        """Close the session and every pooled connection."""
        session, self._session, self._loop = self._session, None, None
        if session is not None:
            await session.close()
