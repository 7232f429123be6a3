"""The async client's HTTP over aiohttp: `AiohttpHttp` sends the driver's requests with an
``aiohttp.ClientSession`` directly.

httpx's own async transport (httpcore) spends most of a request's CPU time in its connection
pool's bookkeeping, and httpx's request and response model costs about as much again over a
faster transport; aiohttp's pool and HTTP parser (C) used directly are what a raw
``aiohttp.ClientSession`` costs (``benchmarks/async_io.py``).

`default_async_http()` picks `AiohttpHttp` (aiohttp is a dependency of the SDK) unless the
environment variable ``SKYTELLS_ASYNC_HTTP=httpx`` asks for httpx, the environment's proxies
are ones aiohttp cannot use (`aiohttp_proxies`), or aiohttp cannot be found; httpx is then
driven through `HttpxHttp` (``httpx_adapter.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import re
import ssl
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import httpx

from .._exceptions import SkytellsError
from .async_http import (
    AsyncHttp,
    AsyncResponse,
    ConnectError,
    NetworkError,
    ReadError,
    RemoteProtocolError,
    UnsupportedProtocol,
)
from .errors import MAX_REDIRECTS, client_closed_error, too_many_redirects_error
from .httpx_adapter import HttpxHttp, default_httpx_client
from .proxies import bypasses, environment_proxies

if TYPE_CHECKING:
    import aiohttp
    import yarl
    from multidict import CIMultiDictProxy

ENV_VAR = "SKYTELLS_ASYNC_HTTP"
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
    proxies, _ = environment_proxies()
    if any(not url.lower().startswith("http://") for url in proxies.values()):
        return None
    return proxies


def default_async_http(limits: httpx.Limits = DEFAULT_LIMITS) -> AsyncHttp:
    """What an `AsyncSkytellsClient` sends through when no ``http_client`` is passed in: an
    ``aiohttp.ClientSession`` used directly (`AiohttpHttp`), unless `async_backend` or the
    proxies say httpx (`HttpxHttp`)."""
    if async_backend() == "aiohttp" and aiohttp_proxies() is not None:
        return AiohttpHttp(limits)
    return HttpxHttp(default_httpx_client(limits))


@functools.lru_cache(maxsize=4)
def _tls_context(trust_env: bool, cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's own TLS setup (certifi, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when trusting the
    environment), made once: loading the CA bundle takes ~25 ms, and the sync client's
    `dispatch()` opens a new session each time. The variables are arguments so that changing
    them makes a new context."""
    del cert_file, cert_dir  # the cache key only: httpx reads them itself
    return httpx.create_ssl_context(trust_env=trust_env)


def _new_session(limits: httpx.Limits, trust_env: bool) -> aiohttp.ClientSession:
    """A session of one keep-alive pool of up to ``limits.max_connections`` connections."""
    import aiohttp

    connector = aiohttp.TCPConnector(
        limit=limits.max_connections or 0,
        keepalive_timeout=limits.keepalive_expiry or 30.0,
        ssl=_tls_context(
            trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
        ),
    )
    return aiohttp.ClientSession(
        connector=connector,
        # Proxies are read once per session, as httpx reads them (aiohttp's trust_env reads them
        # on every request, a third of its speed, and would add ~/.netrc credentials).
        trust_env=False,
        auto_decompress=False,  # the driver decodes, bounded (`ContentDecoder`)
        skip_auto_headers=("User-Agent", "Accept-Encoding"),
        cookie_jar=aiohttp.DummyCookieJar(),
        middlewares=(_no_silent_retry,),
    )


class _Dropped(Exception):
    """A connection that broke before the response's headers arrived (wraps aiohttp's error)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _no_silent_retry(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    """aiohttp sends an idempotent request (GET, DELETE) again, once, when the connection drops
    (`ServerDisconnectedError`, `ClientOSError`); every attempt is the SDK's to decide, count and
    log (a DELETE whose answer was lost must be seen as such, not as a second DELETE's "not
    found"). This middleware (aiohttp's public hook around each attempt) hands those errors on
    under another type, which aiohttp's retry does not catch; `_mapped` unwraps them."""
    import aiohttp

    try:
        return await handler(request)
    except aiohttp.ClientConnectorError:  # a ClientOSError, but never retried by aiohttp
        raise
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
        raise _Dropped(exc) from exc


def _mapped(exc: BaseException) -> BaseException | None:
    """The backend-neutral error (`async_http`) an aiohttp one means; None if not aiohttp's."""
    import aiohttp

    if isinstance(exc, _Dropped):
        exc = exc.error
    message = str(exc) or type(exc).__name__
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return TimeoutError(message)  # connect or read: past the exchange's deadline
    if isinstance(exc, aiohttp.ClientConnectorError):
        return ConnectError(message)
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        return RemoteProtocolError(message)
    if isinstance(exc, aiohttp.TooManyRedirects):
        return too_many_redirects_error(str(exc.request_info.real_url), MAX_REDIRECTS)
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return UnsupportedProtocol(message)
    if isinstance(exc, (aiohttp.ClientResponseError, aiohttp.ClientConnectionError, OSError)):
        return ReadError(message)
    if isinstance(exc, aiohttp.ClientError):
        return NetworkError(message)
    return None


async def _closed_with_the_loop(
    session: aiohttp.ClientSession, abandoned: list[bool]
) -> AsyncGenerator[None, None]:
    """Closes ``session`` when its event loop shuts down its async generators (as
    ``asyncio.run()`` does before it closes the loop), unless the session was abandoned first:
    a client that was never closed leaves no open socket behind (and no ResourceWarning)."""
    try:
        yield
    finally:
        if not abandoned[0] and not session.closed:
            await session.close()


def _step(awaitable: Any) -> None:
    """Runs a coroutine that finishes without suspending (an async generator's first step, or
    its close when nothing is awaited on the way)."""
    with contextlib.suppress(StopIteration, StopAsyncIteration):
        awaitable.send(None)


class _Sessions:
    """One aiohttp session at a time, for the running event loop: made on the first request,
    anew when a later one runs in another loop (the old one's sockets closed without it).

    Each session is closed with its loop if nobody closes it first: an async generator,
    started on that loop, is closed by the loop's ``shutdown_asyncgens()`` (which
    ``asyncio.run()`` calls) and closes the session then, in that loop."""

    def __init__(self, limits: httpx.Limits, trust_env: bool) -> None:
        self.limits = limits
        self.trust_env = trust_env
        self.session: aiohttp.ClientSession | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.proxies: dict[str, str] = {}
        self.no_proxy: list[str] = []
        self._closer: tuple[AsyncGenerator[None, None], list[bool]] | None = None

    def get(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self.session
        if session is not None and self.loop is loop and not session.closed:
            return session
        self.abandon()
        self.session = session = _new_session(self.limits, self.trust_env)
        abandoned = [False]
        closer = _closed_with_the_loop(session, abandoned)
        _step(closer.__anext__())  # registers it with this loop (its first-iteration hook)
        self._closer = (closer, abandoned)
        self.proxies = (aiohttp_proxies() or {}) if self.trust_env else {}
        self.no_proxy = environment_proxies()[1] if self.trust_env else []
        self.loop = loop
        return session

    def proxy_for(self, scheme: str, host: str, port: int | None) -> str | None:
        """The proxy for a request to ``scheme://host:port``, honouring ``NO_PROXY``."""
        proxy = self.proxies.get(scheme)
        if proxy is None or bypasses(host, port, scheme, self.no_proxy):
            return None
        return proxy

    def abandon(self) -> None:
        """Drop a session of another (possibly closed) loop, closing its sockets."""
        session, self.session, self.loop = self.session, None, None
        self._finish_closer()
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

    def _finish_closer(self) -> None:
        """Ends the loop-end closer without it closing anything (the caller closes the session,
        or has dropped it), so that it never runs, nor is finalised, later."""
        closer, self._closer = self._closer, None
        if closer is not None:
            generator, abandoned = closer
            abandoned[0] = True
            _step(generator.aclose())

    async def aclose(self) -> None:
        session, self.session, self.loop = self.session, None, None
        self._finish_closer()
        if session is not None:
            await session.close()


_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
_SAFE = ":/?#[]@!$&'()*+,;=%"


def _wire_url(url: str) -> yarl.URL:
    """``url`` as sent: percent-escapes kept as they are and dot segments not collapsed (as
    httpx sends them: ``/f/%2e%2e`` stays), characters a URL cannot hold escaped."""
    from yarl import URL

    if _UNSAFE.search(url):
        url = quote(url, safe=_SAFE)
    return URL(url, encoded=True)


class _HeadersView(Mapping[str, str]):
    """aiohttp's parsed headers (case-insensitive, C) as `Headers` presents them: lower-case
    names, repeated values joined with ``", "``; nothing is copied for a lookup."""

    __slots__ = ("_getall", "_headers")

    def __init__(self, headers: CIMultiDictProxy[str]) -> None:
        self._headers = headers
        self._getall = headers.getall

    def get(self, key: str, default: Any = None) -> Any:
        values = self._getall(key, None)
        if values is None:
            return default
        return values[0] if len(values) == 1 else ", ".join(values)

    def __getitem__(self, key: str) -> str:
        value: str | None = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._headers

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(name.lower() for name in self._headers))

    def __len__(self) -> int:
        return len(set(name.lower() for name in self._headers))

    def __repr__(self) -> str:
        return repr(dict(self))


class _AiohttpResponse(AsyncResponse):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self._body = response.content
        self.status = response.status
        self.headers = _HeadersView(response.headers)

    async def read_chunk(self) -> bytes:
        try:
            return await self._body.readany()
        except Exception as exc:
            mapped = _mapped(exc)
            if mapped is None:
                raise
            raise mapped from None

    async def aclose(self) -> None:
        if self._body.at_eof():
            self._response.release()  # read whole: the connection goes back to the pool
        else:
            self._response.close()


_timeouts: dict[tuple[int, float | None], aiohttp.ClientTimeout] = {}


def _timeout(within: float, idle: float | None) -> aiohttp.ClientTimeout:
    """aiohttp's timeout for an exchange that must end within ``within`` seconds: to the
    millisecond below (never later; the objects are shared, as concurrent requests' deadlines
    mostly fall in the same millisecond), and exact (aiohttp rounds a timeout past 5 s up to a
    whole second of the loop's clock unless told otherwise)."""
    import aiohttp  # the module now: one imported anew (its old one dropped) has other classes

    key = (max(1, int(min(within, 1e9) * 1000)), idle)  # 0 would mean no timeout at all
    timeout = _timeouts.get(key)
    if timeout is None or type(timeout) is not aiohttp.ClientTimeout:
        if len(_timeouts) >= 256:
            _timeouts.clear()
        timeout = aiohttp.ClientTimeout(
            total=key[0] / 1000, sock_read=idle, ceil_threshold=float("inf")
        )
        _timeouts[key] = timeout
    return timeout


class AiohttpHttp(AsyncHttp):
    """Sends the driver's requests with an ``aiohttp.ClientSession`` directly (no httpx objects).

    One keep-alive pool of up to ``limits.max_connections``, made on the first request in the
    running event loop and anew in another loop. Proxies come from the environment as httpx reads
    them (`aiohttp_proxies`, and ``NO_PROXY``), once per session; TLS is httpx's setup (certifi,
    or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), made once per process. Bodies are passed on
    undecoded; the session's total timeout bounds the exchange, body reads included.
    """

    def __init__(self, limits: httpx.Limits = DEFAULT_LIMITS, *, trust_env: bool = True) -> None:
        self._sessions = _Sessions(limits, trust_env)
        self._closed = False

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | bytearray | None,
        *,
        within: float,
        idle_timeout: float | None = None,
        follow_redirects: bool = False,
    ) -> AsyncResponse:
        if self._closed:  # closed: never a new session behind the caller's back
            raise client_closed_error("connection pool")
        sessions = self._sessions
        session = sessions.get()
        proxy = None
        if sessions.proxies:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            proxy = sessions.proxy_for(parts.scheme, parts.hostname or "", port)
        try:
            response = await session.request(
                method,
                _wire_url(url),
                headers=headers,
                data=body,
                allow_redirects=follow_redirects,
                max_redirects=MAX_REDIRECTS,
                timeout=_timeout(within, idle_timeout),
                proxy=proxy,
            )
        except Exception as exc:
            mapped = _mapped(exc)
            if isinstance(mapped, SkytellsError):  # too many redirects: name the URL asked for
                mapped = too_many_redirects_error(url, MAX_REDIRECTS)
            if mapped is None:
                raise
            raise mapped from None
        return _AiohttpResponse(response)

    @property
    def is_closed(self) -> bool:
        return self._closed

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The session of the current loop, if one was made (tests inspect its pool)."""
        return self._sessions.session

    async def aclose(self) -> None:
        self._closed = True
        await self._sessions.aclose()
