"""What the async driver needs of an HTTP client: one request, its status, headers and raw body.

Two backends implement it: `AiohttpHttp` (``aiohttp_transport.py``, the default: an
``aiohttp.ClientSession`` used directly) and `HttpxHttp` (``httpx_adapter.py``: a caller's own
``httpx.AsyncClient``, ``SKYTELLS_ASYNC_HTTP=httpx``, or proxies aiohttp cannot use). The driver
does everything else once, whichever backend: the deadline, the decoded-size cap, the API key
only on API requests, the mapping of failures to `APIConnectionError` / `APITimeoutError`.

A backend raises `TransportError` subclasses (named as httpx names them, so that an error's
message reads the same whichever backend sent the request) or `TimeoutError`.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Mapping
from types import TracebackType


class TransportError(Exception):
    """A request got no (complete) response."""


class ConnectError(TransportError):
    """The connection could not be made (refused, unreachable, TLS failure)."""


class RemoteProtocolError(TransportError):
    """The server broke the exchange: it disconnected, or sent a truncated or malformed body."""


class ReadError(TransportError):
    """Reading the response failed (a reset connection)."""


class NetworkError(TransportError):
    """Another failure of the HTTP client."""


class UnsupportedProtocol(TransportError):
    """The URL is not one the client can request (no host, not http or https)."""


class AsyncResponse(abc.ABC):
    """A response whose body is still to be read: `chunks` yields it raw (still encoded), or
    ``content`` holds it already decoded (a caller's httpx event hook read it). `aclose` returns
    the connection to the pool if the body was read whole, and closes it otherwise."""

    status: int
    headers: Mapping[str, str]
    content: bytes | None = None

    @abc.abstractmethod
    async def read_chunk(self) -> bytes:
        """The next raw bytes of the body; ``b""`` at its end."""

    async def chunks(self) -> AsyncIterator[bytes]:
        """The raw body, piece by piece as it arrives."""
        while chunk := await self.read_chunk():
            yield chunk

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the connection (back to the pool only if the body was read whole)."""


class AsyncHttp(abc.ABC):
    """An async HTTP client the driver sends through. ``within`` (seconds) bounds the whole
    exchange, body reads included, and ``idle_timeout`` each wait for bytes; the driver still
    checks its deadline after every read."""

    @abc.abstractmethod
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
        """Send a request; the response's headers have arrived, its body is still to be read."""

    @property
    @abc.abstractmethod
    def is_closed(self) -> bool:
        """True once `aclose` was called."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close every pooled connection."""

    async def __aenter__(self) -> AsyncHttp:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
