"""The errors for requests that got no (complete) response, shared by both drivers."""

from __future__ import annotations

from .._exceptions import APIConnectionError, APITimeoutError
from .._logging import redact


def timeout_error(method: str, target: str, timeout_ms: float) -> APITimeoutError:
    """The exchange missed its deadline: ``REQUEST_TIMEOUT``, ``http_status`` 408."""
    return APITimeoutError(
        f"{method} {target} timed out after {timeout_ms:g} ms",
        "REQUEST_TIMEOUT",
        "No complete response arrived before the request's deadline.",
        408,  # as the official Python and TypeScript packages report a client-side timeout
    )


def connection_error(method: str, target: str, exc: Exception | str) -> APIConnectionError:
    """The connection failed (refused, reset, dropped, incomplete body)."""
    reason = exc if isinstance(exc, str) else type(exc).__name__
    text = "" if isinstance(exc, str) else redact(str(exc))  # never a key, whatever failed
    return APIConnectionError(
        f"{method} {target} failed: {reason}" + (f" ({text})" if text else ""),
        "NETWORK_ERROR",
        "A network error occurred while communicating with the API.",
        0,
    )
