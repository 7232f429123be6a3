"""Option and request classes of the official 1.0.0 package, accepted wherever it accepted them.

New code can pass plain keyword arguments and dicts instead; these classes exist so that code
written for the official package keeps working unchanged.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "DEFAULT_RETRY_ON",
    "ClientOptions",
    "ModelFieldsOptions",
    "OnProgressCallback",
    "PredictionRequest",
    "PredictionsListOptions",
    "QueueItem",
    "RetryOptions",
    "RunOptions",
    "WaitOptions",
]

OnProgressCallback = Callable[[dict[str, Any]], Any]
"""Called with the latest prediction dict on each check (the async client also awaits coroutines)."""

DEFAULT_RETRY_ON: tuple[int, ...] = (408, 409, 429, 500, 502, 503, 504)


class RetryOptions:
    """Automatic retries of failed requests.

    Args:
        retries: retries after the first attempt (default 2; the official package defaulted to 0).
        retry_delay: base delay in ms of the exponential backoff (default 500).
        retry_on: HTTP statuses that are retried (default 408, 409, 429, 500, 502, 503, 504).
        max_delay: cap of one backoff delay in ms (default 8000).
        max_retry_after: the longest ``Retry-After`` honoured, in ms; a longer one raises at once
            with ``RateLimitError.retry_after`` set (default 60000).
        jitter: fraction of each delay that is randomised, 0 to 1 (default 0.25).
    """

    DEFAULT_RETRY_ON: ClassVar[list[int]] = list(DEFAULT_RETRY_ON)

    def __init__(
        self,
        retries: int = 2,
        retry_delay: int = 500,
        retry_on: list[int] | None = None,
        *,
        max_delay: int = 8000,
        max_retry_after: int = 60_000,
        jitter: float = 0.25,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if not 0.0 <= jitter <= 1.0:
            raise ValueError("jitter must be between 0 and 1")
        self.retries = retries
        self.retry_delay = retry_delay
        self.retry_on: list[int] = (
            list(retry_on) if retry_on is not None else list(DEFAULT_RETRY_ON)
        )
        self.max_delay = max_delay
        self.max_retry_after = max_retry_after
        self.jitter = jitter

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RetryOptions:
        """Build from a dict with the constructor's keys."""
        return cls(**{k: v for k, v in d.items() if k in _RETRY_KEYS})

    def __repr__(self) -> str:
        return (
            f"RetryOptions(retries={self.retries}, retry_delay={self.retry_delay}, "
            f"retry_on={self.retry_on})"
        )


_RETRY_KEYS = frozenset(
    {"retries", "retry_delay", "retry_on", "max_delay", "max_retry_after", "jitter"}
)


class ClientOptions:
    """Client configuration as one object (official-package style).

    Args:
        base_url: the API's base URL.
        timeout: deadline of one request in ms (default 60000).
        headers: extra headers sent with every request.
        retry: a `RetryOptions` or a dict of its keys.
    """

    def __init__(
        self,
        base_url: str | None = None,
        timeout: int = 60_000,
        headers: Mapping[str, str] | None = None,
        retry: RetryOptions | Mapping[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.headers: dict[str, str] = dict(headers or {})
        self.retry = (
            retry if isinstance(retry, RetryOptions) else RetryOptions.from_dict(retry or {})
        )


@dataclass
class WaitOptions:
    """How `wait()` checks a prediction.

    Args:
        interval: the longest gap between two checks, in ms (default 5000).
        max_wait: deadline in ms; past it `WaitTimeoutError` (``WAIT_TIMEOUT``) is raised.
    """

    interval: int = 5000
    max_wait: int | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> WaitOptions:
        """Build from ``{"interval": ms, "max_wait": ms}``."""
        return cls(interval=d.get("interval", 5000), max_wait=d.get("max_wait"))


@dataclass
class RunOptions:
    """``input``, ``webhook`` and ``stream`` of `run()` as one object (official-package style)."""

    input: dict[str, Any] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None
    stream: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, as a dict."""
        d: dict[str, Any] = {"input": self.input}
        if self.webhook is not None:
            d["webhook"] = self.webhook
        if self.stream:
            d["stream"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunOptions:
        """Build from a dict."""
        return cls(
            input=d.get("input", {}), webhook=d.get("webhook"), stream=d.get("stream", False)
        )


class PredictionRequest:
    """A create request as an object (official-package style); ``to_dict()`` gives the body."""

    def __init__(
        self,
        model: str,
        input: dict[str, Any],
        webhook: dict[str, Any] | str | None = None,
        await_: bool = False,
        stream: bool = False,
    ) -> None:
        self.model = model
        self.input = input
        self.webhook = webhook
        self.await_ = await_
        self.stream = stream

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the request."""
        d: dict[str, Any] = {"model": self.model, "input": self.input}
        if self.webhook is not None:
            d["webhook"] = self.webhook
        if self.await_:
            d["await"] = True
        if self.stream:
            d["stream"] = True
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PredictionRequest:
        """Build from a request body dict."""
        return cls(
            model=d["model"],
            input=d.get("input", {}),
            webhook=d.get("webhook"),
            await_=d.get("await", False),
            stream=d.get("stream", False),
        )

    def __repr__(self) -> str:
        return f"PredictionRequest(model={self.model!r})"


class QueueItem:
    """A queued create request with the idempotency key reused by every attempt to send it."""

    __slots__ = ("encoded_files", "idempotency_key", "payload", "sent_since")

    def __init__(
        self, request: PredictionRequest | Mapping[str, Any], idempotency_key: str | None = None
    ) -> None:
        self.payload: dict[str, Any] = (
            request.to_dict() if isinstance(request, PredictionRequest) else dict(request)
        )
        self.idempotency_key = idempotency_key or str(uuid.uuid4())
        # Set once it was sent (the start of its reconcile window): a dispatch that sends it
        # again first looks for what an earlier send may have created.
        self.sent_since: datetime.datetime | None = None
        # What a send encoded that cannot be encoded again the same way (a pipe's data: URI,
        # an encoder's URL), by field: the next dispatch sends the same (see `encode_files`).
        self.encoded_files: dict[str, tuple[Any, Any]] = {}

    @property
    def request(self) -> PredictionRequest:
        """The payload as a `PredictionRequest` (official-package attribute)."""
        return PredictionRequest.from_dict(self.payload)

    def __repr__(self) -> str:
        return f"QueueItem(model={self.payload.get('model')!r})"


@dataclass
class PredictionsListOptions:
    """Filters of `predictions.list()` as one object (official-package style)."""

    page: int | None = None
    since: str | None = None
    until: str | None = None
    model: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PredictionsListOptions:
        """Build from a dict."""
        return cls(
            page=d.get("page"), since=d.get("since"), until=d.get("until"), model=d.get("model")
        )


@dataclass
class ModelFieldsOptions:
    """Extra model fields to ask for: ``"input_schema"``, ``"output_schema"``."""

    fields: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ModelFieldsOptions:
        """Build from ``{"fields": [...]}``."""
        return cls(fields=list(d.get("fields", [])))
