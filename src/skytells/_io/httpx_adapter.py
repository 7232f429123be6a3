"""The async driver over an ``httpx.AsyncClient``: a caller's own ``http_client=``, or the
client's own when ``SKYTELLS_ASYNC_HTTP=httpx`` or the environment's proxies are ones aiohttp
cannot use (SOCKS, or a proxy reached over https)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping

import anyio
import httpx

from .async_http import (
    AsyncHttp,
    AsyncResponse,
    ConnectError,
    NetworkError,
    ReadError,
    RemoteProtocolError,
    TransportError,
    UnsupportedProtocol,
)
from .errors import YOUR_HTTP_CLIENT_CLOSED, client_closed_error, too_many_redirects_error

_ERRORS: tuple[tuple[type[Exception], type[TransportError]], ...] = (
    (httpx.ConnectError, ConnectError),
    (httpx.RemoteProtocolError, RemoteProtocolError),
    (httpx.DecodingError, RemoteProtocolError),
    (httpx.ReadError, ReadError),
    (httpx.UnsupportedProtocol, UnsupportedProtocol),
    (httpx.InvalidURL, UnsupportedProtocol),
)


def _mapped(exc: Exception) -> BaseException:
    """The backend-neutral error for an httpx one (a timeout is a `TimeoutError`)."""
    if isinstance(exc, httpx.TimeoutException):
        return TimeoutError(str(exc) or type(exc).__name__)
    for httpx_error, error in _ERRORS:
        if isinstance(exc, httpx_error):
            return error(str(exc))
    if isinstance(exc, httpx.TooManyRedirects):
        return too_many_redirects_error(str(exc.request.url))
    return NetworkError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)


class _HttpxResponse(AsyncResponse):
    def __init__(self, response: httpx.Response, deadline: float) -> None:
        self.response = response
        self.deadline = deadline
        self.status = response.status_code
        self.headers = response.headers
        try:  # read (and decoded) by an event hook of the caller's client
            self.content = response.content
        except httpx.ResponseNotRead:
            self.content = None
        self._raw: AsyncIterator[bytes] | None = None

    async def read_chunk(self) -> bytes:
        if self._raw is None:
            self._raw = self.response.aiter_raw()
        try:
            # Every read within the exchange's deadline, also one the server never answers.
            with anyio.fail_after(max(0.0, min(self.deadline - time.monotonic(), 1e9))):
                return await anext(self._raw, b"")
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            raise _mapped(exc) from None

    async def aclose(self) -> None:
        await self.response.aclose()


class HttpxHttp(AsyncHttp):
    """Sends through an ``httpx.AsyncClient``; the exchange is bounded by a cancel scope and by
    httpx's own timeout, both at the driver's deadline (never the client's own timeout)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

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
        if self.client.is_closed:  # httpx would raise a bare RuntimeError
            raise client_closed_error("httpx.AsyncClient", YOUR_HTTP_CLIENT_CLOSED)
        limit = min(within, 1e9)
        deadline = time.monotonic() + limit
        try:
            with anyio.fail_after(limit):
                response = await self.client.send(
                    self.client.build_request(
                        method,
                        url,
                        content=bytes(body) if isinstance(body, bytearray) else body,
                        headers=headers,
                        timeout=min(limit, idle_timeout or limit),  # never the client's own
                    ),
                    stream=True,
                    follow_redirects=follow_redirects,
                )
        except httpx.TooManyRedirects:  # the URL asked for, not the last
            raise too_many_redirects_error(url, self.client.max_redirects) from None
        except (httpx.RequestError, httpx.InvalidURL) as exc:
            raise _mapped(exc) from None
        return _HttpxResponse(response, deadline)

    @property
    def is_closed(self) -> bool:
        return self.client.is_closed

    async def aclose(self) -> None:
        await self.client.aclose()


def default_httpx_client(limits: httpx.Limits) -> httpx.AsyncClient:
    """The ``httpx.AsyncClient`` of a client that sends through httpx: no redirects, no
    client-wide timeout (the driver bounds every exchange with its deadline)."""
    return httpx.AsyncClient(limits=limits, follow_redirects=False, timeout=None)
