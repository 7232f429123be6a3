"""What the sync and async clients share: configuration, the local queue, repr."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._core.config import ClientConfig, resolve_config, with_changes
from .._core.operations import payload_dict
from .._core.queue import PredictionQueue
from .._options import ClientOptions, PredictionRequest, RetryOptions
from .._warnings import warn_caller

if TYPE_CHECKING:
    import httpx

    POOL_LIMITS: httpx.Limits


def __getattr__(name: str) -> Any:
    """``POOL_LIMITS`` (httpx's), made on first use: the sync client imports no httpx."""
    if name == "POOL_LIMITS":
        import httpx

        # One pool per client: keep-alive connections, enough for the default concurrency.
        limits = httpx.Limits(
            max_connections=128, max_keepalive_connections=64, keepalive_expiry=30
        )
        globals()[name] = limits
        return limits
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class ClientBase:
    """Configuration and the queue; subclasses add the I/O driver and the methods."""

    _config: ClientConfig

    def __init__(
        self,
        api_key: str | None = None,
        options: ClientOptions | Mapping[str, Any] | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        retry: RetryOptions | Mapping[str, Any] | None = None,
        max_retries: int | None = None,
        poll_interval: float | None = None,
        dispatch_concurrency: int | None = None,
        max_response_bytes: int | None = None,
        await_hold: float | None = None,
    ) -> None:
        self._config = resolve_config(
            api_key,
            options,
            base_url=base_url,
            timeout=timeout,
            headers=headers,
            retry=retry,
            max_retries=max_retries,
            poll_interval=poll_interval,
            dispatch_concurrency=dispatch_concurrency,
            max_response_bytes=max_response_bytes,
            await_hold=await_hold,
        )
        self._queue = PredictionQueue()

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._config.base_url

    @property
    def max_retries(self) -> int:
        """How many times a failed request is retried."""
        return self._config.retry.retries

    def queue(self, payload: Mapping[str, Any] | PredictionRequest) -> None:
        """Add a create request to the local queue; nothing is sent until `dispatch()`."""
        self._queue.add(payload_dict(payload))

    @property
    def queued(self) -> int:
        """How many requests wait in the local queue."""
        return len(self._queue)

    def queued_payloads(self) -> list[dict[str, Any]]:
        """Copies of the queued payloads, oldest first."""
        return [dict(item.payload) for item in self._queue.snapshot()]

    def clear_queue(self) -> list[dict[str, Any]]:
        """Drop every queued request (e.g. one the API rejects); returns their payloads."""
        return self._queue.clear()

    def _overrides(
        self,
        *,
        max_retries: int | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int | None = None,
        await_hold: float | None = None,
    ) -> ClientConfig:
        """The config of `with_options()`, every change checked as the constructor checks it."""
        return with_changes(
            self._config,
            max_retries=max_retries,
            timeout=timeout,
            headers=headers,
            max_response_bytes=max_response_bytes,
            await_hold=await_hold,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._config.base_url!r})"


def deprecated(old: str, new: str) -> None:
    """Warn that an official-package alias is deprecated."""
    warn_caller(f"{old}() is deprecated: use {new}() instead", DeprecationWarning)
