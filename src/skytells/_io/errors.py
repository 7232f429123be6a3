"""The errors for requests that got no (complete) response, shared by both drivers."""

from __future__ import annotations

from .._core.responses import timeout_error
from .._exceptions import APIConnectionError
from .._logging import redact

__all__ = ["connection_error", "timeout_error"]


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
