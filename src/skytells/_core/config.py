"""`ClientConfig`, the immutable settings of a client, and the checks of every setting.

Reading the environment and setting up logging belong to the public surface
(`skytells._clients.settings`), which builds the config with the checks here."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from .._exceptions import SkytellsError
from .._options import ClientOptions, RetryOptions
from .._version import __version__
from .decoding import ACCEPT_ENCODING
from .retry import RetryPolicy

API_BASE_URL = "https://api.skytells.ai/v1"
USER_AGENT = f"skytells-python/{__version__}"
DEFAULT_TIMEOUT_MS = 60_000
DEFAULT_POLL_INTERVAL_MS = 5_000
DEFAULT_AWAIT_HOLD_MS = 60_000
"""How long a server may hold a create sent with ``await: true`` (the official clients' 60 s
timeout bounds what servers hold): that request's deadline is the timeout plus this."""
DEFAULT_DISPATCH_CONCURRENCY = 32
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
"""The default cap on one decoded API response (or one event of a stream): 64 MiB."""
DEFAULT_MAX_INLINE_FILE_BYTES = 10 * 1024 * 1024
"""The largest local file sent inline as a ``data:`` URI (see `skytells._core.file_inputs`)."""


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs to make requests (immutable; `replace` for `with_options`)."""

    api_key: str | None = field(repr=False)
    base_url: str = API_BASE_URL
    timeout_ms: float = DEFAULT_TIMEOUT_MS
    headers: Mapping[str, str] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll_interval_ms: float = DEFAULT_POLL_INTERVAL_MS
    dispatch_concurrency: int = DEFAULT_DISPATCH_CONCURRENCY
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    await_hold_ms: float = DEFAULT_AWAIT_HOLD_MS
    file_encoder: Callable[[Any], Any] | None = None
    """Turns a local file input into the URL sent for it (None: a ``data:`` URI)."""
    max_inline_file_bytes: int = DEFAULT_MAX_INLINE_FILE_BYTES

    def base_headers(self) -> dict[str, str]:
        """Headers of every request: credentials, identification, then the caller's extras."""
        headers = {
            "accept": "application/json",
            "accept-encoding": ACCEPT_ENCODING,  # only what the SDK inflates itself, bounded
            "user-agent": USER_AGENT,
        }
        headers.update({k.lower(): v for k, v in self.headers.items()})
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers

    def with_overrides(self, **overrides: Any) -> ClientConfig:
        """A copy with the given fields replaced."""
        return replace(self, **overrides)


class ApiKey(str):
    """The API key: a `str` whose ``repr()`` never shows it, so a debugger, ``pytest
    --showlocals`` or an error tracker capturing locals (the headers of a failed request, a
    config) prints ``'sk-***'``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'sk-***'"


def check_headers(headers: object) -> dict[str, str]:
    """Extra headers for every request: names and values printable ASCII (no CR or LF), else
    an ``INVALID_PARAMETER`` error now rather than a bare exception at the first request."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise SkytellsError(
            f"headers must be a mapping of str to str, got {type(headers).__name__}",
            "INVALID_PARAMETER",
        )
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise SkytellsError(
                f"headers must map str to str, got {type(name).__name__}: {type(value).__name__}",
                "INVALID_PARAMETER",
            )
        if not _TOKEN.fullmatch(name) or not all(" " <= char <= "~" for char in value):
            raise SkytellsError(
                f"header {name[:60]!r} is not a valid HTTP header (printable ASCII names and "
                "values, no line breaks)",
                "INVALID_PARAMETER",
            )
        checked[name] = value
    return checked


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def api_key_problem(key: str) -> str | None:
    """Why a key cannot be a header value (a newline, a control or non-ASCII character, a space
    inside), naming the character and its position, never the key; None if it can."""
    for position, char in enumerate(key, 1):
        if "!" <= char <= "~":
            continue
        kind = "a non-ASCII" if ord(char) > 0x7F else "a space" if char == " " else "a control"
        return (
            f"The API key contains {kind} character (U+{ord(char):04X}) at position {position} "
            f"of {len(key)}: API keys are printable ASCII without spaces; check where it was "
            "read from (a file or .env with stray characters?)"
        )
    return None


def with_changes(
    config: ClientConfig,
    *,
    max_retries: int | None = None,
    timeout: float | None = None,
    headers: Mapping[str, str] | None = None,
    max_response_bytes: int | None = None,
    await_hold: float | None = None,
    file_encoder: Callable[[Any], Any] | None = None,
    max_inline_file_bytes: int | None = None,
) -> ClientConfig:
    """``config`` with some settings changed, each checked as the constructor checks it."""
    if file_encoder is not None:
        config = replace(config, file_encoder=check_file_encoder(file_encoder))
    if max_inline_file_bytes is not None:
        config = replace(
            config, max_inline_file_bytes=check_max_inline_file_bytes(max_inline_file_bytes)
        )
    if max_retries is not None:
        config = replace(
            config, retry=replace(config.retry, retries=non_negative("max_retries", max_retries))
        )
    if timeout is not None:
        config = replace(config, timeout_ms=positive("timeout", timeout))
    if max_response_bytes is not None:
        config = replace(config, max_response_bytes=check_max_response_bytes(max_response_bytes))
    if await_hold is not None:
        config = replace(config, await_hold_ms=non_negative_ms("await_hold", await_hold))
    if headers:
        config = replace(config, headers={**config.headers, **check_headers(headers)})
    return config


def check_base_url(url: str) -> str:
    """The base URL without a trailing slash; an error unless it is an absolute http(s) URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SkytellsError(
            f"Invalid base URL {url!r}: expected an absolute http(s) URL such as {API_BASE_URL}",
            "INVALID_PARAMETER",
        )
    return url.strip().rstrip("/")


def check_file_encoder(value: object) -> Callable[[Any], Any] | None:
    """A ``file_encoder`` if it is callable (or None), else an ``INVALID_PARAMETER`` error."""
    if value is not None and not callable(value):
        raise SkytellsError(
            "file_encoder must be a function taking the file and returning its URL, got "
            f"{type(value).__name__}",
            "INVALID_PARAMETER",
        )
    return value


def check_max_inline_file_bytes(value: int) -> int:
    """``max_inline_file_bytes`` if it is an integer >= 0, else an ``INVALID_PARAMETER`` error."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SkytellsError(
            f"max_inline_file_bytes must be an integer >= 0, got {value!r}", "INVALID_PARAMETER"
        )
    return value


def check_max_response_bytes(value: int) -> int:
    """``max_response_bytes`` if it is a positive integer; a clear error otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise SkytellsError(
            f"max_response_bytes must be a positive integer, got {value!r}", "INVALID_PARAMETER"
        )
    return value


def as_client_options(options: ClientOptions | Mapping[str, Any] | None) -> ClientOptions:
    if options is None:
        return ClientOptions()
    if isinstance(options, ClientOptions):
        return options
    return ClientOptions(
        base_url=options.get("base_url"),
        timeout=options.get("timeout", DEFAULT_TIMEOUT_MS),
        headers=options.get("headers"),
        retry=options.get("retry"),
    )


def as_retry_options(retry: RetryOptions | Mapping[str, Any]) -> RetryOptions:
    return retry if isinstance(retry, RetryOptions) else RetryOptions.from_dict(retry)


def concurrency_limit(value: object, default: int, name: str = "concurrency") -> int:
    """How many requests may be in flight at once: a whole number >= 1 (None: ``default``),
    else an ``INVALID_PARAMETER`` error (NaN, 0, -1, "3" and 2.5 included)."""
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SkytellsError(
            f"{name} must be a whole number >= 1, got {value!r}", "INVALID_PARAMETER"
        )
    return value


def positive(name: str, value: float) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:  # NaN too
        raise SkytellsError(f"{name} must be a positive number, got {value!r}", "INVALID_PARAMETER")
    return float(value)


def non_negative_ms(name: str, value: float) -> float:
    """A finite duration >= 0 (ms), else an ``INVALID_PARAMETER`` error."""
    if (
        not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise SkytellsError(
            f"{name} must be a finite number of ms >= 0, got {value!r}", "INVALID_PARAMETER"
        )
    return float(value)


def non_negative(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SkytellsError(f"{name} must be an integer >= 0, got {value!r}", "INVALID_PARAMETER")
    return value
