"""The errors for requests that got no (complete) response, shared by both drivers."""

from __future__ import annotations

from .._core.logs import loggable_url
from .._core.responses import timeout_error
from .._exceptions import APIConnectionError, SkytellsError
from .._logging import redact

MAX_REDIRECTS = 20
"""The most redirects a file download follows (httpx's default; aiohttp's is 10)."""

__all__ = [
    "CLOSED_HINT",
    "YOUR_HTTP_CLIENT_CLOSED",
    "client_closed_error",
    "connection_error",
    "timeout_error",
    "too_many_redirects_error",
]

CLOSED_HINT = (
    "close() or aclose() was called (or its `with` block ended), so it sends no more requests. "
    "Use an open client: a Prediction moves to one with prediction.bind(client), and its "
    "files are then prediction.files()."
)
"""Why a client is closed, when its own close() closed it."""

YOUR_HTTP_CLIENT_CLOSED = (
    "the http_client you gave the Skytells client was closed, so nothing can be sent through "
    "it. Close your http_client only once you are done with the Skytells client, or give the "
    "Skytells client an open one."
)
"""Why a client is closed, when the ``http_client`` a user passed in was closed."""


def client_closed_error(kind: str, hint: str = CLOSED_HINT) -> SkytellsError:
    """The error of a request on a closed client (``hint``: why it is closed, what to do)."""
    return SkytellsError(f"This {kind} is closed: {hint}", "CLIENT_CLOSED")


_NOT_CONNECTED = frozenset(
    {
        "ConnectionRefusedError",
        "gaierror",
        "SSLCertVerificationError",
        "NewConnectionError",  # urllib3
        "NameResolutionError",  # urllib3
        "ClientConnectorError",  # aiohttp, certificate and SSL variants included
        "ClientConnectorCertificateError",
        "ClientConnectorSSLError",
        "ClientConnectorDNSError",
        "ConnectError",  # httpx
    }
)
"""The errors (by class name: no HTTP library is imported here) of a connection never made."""


def connection_error(method: str, target: str, exc: Exception | str) -> APIConnectionError:
    """The connection failed (refused, reset, dropped, incomplete body)."""
    reason = exc if isinstance(exc, str) else type(exc).__name__
    text = "" if isinstance(exc, str) else redact(str(exc))  # never a key, whatever failed
    error = APIConnectionError(
        f"{method} {target} failed: {reason}" + (f" ({text})" if text else ""),
        "NETWORK_ERROR",
        "A network error occurred while communicating with the API.",
        0,
    )
    if not isinstance(exc, str) and _never_connected(exc):
        error.request_sent = False
    return error


def _never_connected(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the connection was never made."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < 20:
        seen.add(id(current))
        if any(kind.__name__ in _NOT_CONNECTED for kind in type(current).__mro__):
            return True
        for attribute in ("cause", "reason", "os_error"):  # urllib3, aiohttp wrappers
            inner = getattr(current, attribute, None)
            if isinstance(inner, BaseException) and _never_connected_shallow(inner):
                return True
        current = current.__cause__ or current.__context__
    return False


def _never_connected_shallow(exc: BaseException) -> bool:
    return any(kind.__name__ in _NOT_CONNECTED for kind in type(exc).__mro__)


def too_many_redirects_error(url: str, limit: int = MAX_REDIRECTS) -> SkytellsError:
    """A download redirected more than ``limit`` times (a redirect loop): not retried."""
    return SkytellsError(
        f"GET {loggable_url(url)} was redirected more than {limit} times (a redirect loop?): "
        "the file host never answered with the file",
        "TOO_MANY_REDIRECTS",
        {"url": loggable_url(url), "max_redirects": limit},
    )
