"""What the sync and async clients share: the settings, the queue, `with_options`, repr.

A client is a `ClientCore` (what each method does) and a driver (how it performs I/O). The two
clients differ only in their HTTP client type, their driver and resource classes (`_connect`,
`_bind`), and in how a method runs its operation: ``self._driver.run(op)`` or
``await self._driver.run(op)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from .._core.config import ClientConfig, with_changes
from .._core.file_inputs import FileEncoder
from .._core.queue import PredictionQueue
from .._options import ClientOptions, PredictionRequest, RetryOptions
from .._warnings import warn_caller
from .core import ClientCore
from .settings import resolve_config

if TYPE_CHECKING:
    import httpx
    from typing_extensions import Self

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


HttpClientT = TypeVar("HttpClientT", "httpx.Client", "httpx.AsyncClient")
DriverT = TypeVar("DriverT")


class ClientBase(Generic[HttpClientT, DriverT]):
    """The settings (checked once, here), the queue and `with_options`; a subclass says how it
    connects (`_connect`) and builds its driver and resources over a core (`_bind`)."""

    _asynchronous: ClassVar[bool]
    """Whether the methods are awaitable (`Prediction.bind` checks the kind of client)."""

    _core: ClientCore
    _driver: DriverT
    _owns_http: bool

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
        file_encoder: FileEncoder | None = None,
        max_inline_file_bytes: int | None = None,
        http_client: HttpClientT | None = None,
    ) -> None:
        config = resolve_config(
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
            file_encoder=file_encoder,
            max_inline_file_bytes=max_inline_file_bytes,
        )
        self._owns_http = http_client is None
        self._connect(http_client)
        self._core = ClientCore(config, PredictionQueue())
        self._bind()

    def _connect(self, http_client: HttpClientT | None) -> None:
        """Set up this client's connection pool (``http_client``, if given, is the user's)."""
        raise NotImplementedError

    def _bind(self) -> None:
        """Make the driver (over the pool, with the core's settings) and the resources."""
        raise NotImplementedError

    @property
    def _config(self) -> ClientConfig:
        """This client's settings (short for ``_core.config``)."""
        return self._core.config

    @property
    def _queue(self) -> PredictionQueue:
        """The local queue, shared with the clients `with_options()` made from this one."""
        return self._core.queue

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._core.config.base_url

    @property
    def max_retries(self) -> int:
        """How many times a failed request is retried."""
        return self._core.config.retry.retries

    def with_options(
        self,
        *,
        max_retries: int | None = None,
        timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int | None = None,
        await_hold: float | None = None,
        file_encoder: FileEncoder | None = None,
        max_inline_file_bytes: int | None = None,
    ) -> Self:
        """A client with some settings changed that shares this one's connection pool and queue.

        Each setting is checked as the constructor checks it (``timeout=0`` is refused)."""
        config = with_changes(
            self._core.config,
            max_retries=max_retries,
            timeout=timeout,
            headers=headers,
            max_response_bytes=max_response_bytes,
            await_hold=await_hold,
            file_encoder=file_encoder,
            max_inline_file_bytes=max_inline_file_bytes,
        )
        return self._derived(config)

    def _derived(self, config: ClientConfig) -> Self:
        """A client over this one's pool and queue with ``config``; closing it closes nothing."""
        client = type(self).__new__(type(self))
        client.__dict__.update(self.__dict__)
        client._owns_http = False
        client._core = self._core.with_config(config)
        client._bind()
        return client

    # ── the local queue ──────────────────────────────────────────────────

    def queue(self, payload: Mapping[str, Any] | PredictionRequest) -> None:
        """Add a create request to the local queue; nothing is sent until `dispatch()`."""
        self._core.enqueue(payload)

    @property
    def queued(self) -> int:
        """How many requests wait in the local queue."""
        return len(self._core.queue)

    def queued_payloads(self) -> list[dict[str, Any]]:
        """Copies of the queued payloads, oldest first."""
        return [dict(item.payload) for item in self._core.queue.snapshot()]

    def clear_queue(self) -> list[dict[str, Any]]:
        """Drop every queued request (e.g. one the API rejects); returns their payloads."""
        return self._core.queue.clear()

    def __repr__(self) -> str:
        core = getattr(self, "_core", None)  # None while __init__ has not finished
        base_url = core.config.base_url if core is not None else None
        return f"{type(self).__name__}(base_url={base_url!r})"


def deprecated(old: str, new: str) -> None:
    """Warn that an official-package alias is deprecated."""
    warn_caller(f"{old}() is deprecated: use {new}() instead", DeprecationWarning)
