"""The errors for requests that got no response, shared by both drivers."""

from __future__ import annotations

from .._exceptions import APIConnectionError, APITimeoutError
from ._config import ClientConfig
from ._protocol import HttpRequest


def timeout_error(request: HttpRequest, config: ClientConfig) -> APITimeoutError:
    """The request missed its deadline."""
    return APITimeoutError(
        f"{request.method} {request.path} timed out after {config.timeout_ms:g} ms",
        "REQUEST_TIMEOUT",
        "No complete response arrived before the request's deadline.",
        0,
    )


def connection_error(request: HttpRequest, exc: Exception) -> APIConnectionError:
    """The connection failed (refused, reset, dropped, incomplete body)."""
    reason = type(exc).__name__
    text = str(exc)
    return APIConnectionError(
        f"{request.method} {request.path} failed: {reason}" + (f" ({text})" if text else ""),
        "NETWORK_ERROR",
        "A network error occurred while communicating with the API.",
        0,
    )
