"""Client settings as given: arguments over ``options`` over the environment, resolved once.

The public surface reads the environment (``SKYTELLS_API_KEY``, ``SKYTELLS_BASE_URL``,
``SKYTELLS_LOG``) and sets up logging here; the pure core gets a checked `ClientConfig`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from .._core.config import (
    API_BASE_URL,
    DEFAULT_AWAIT_HOLD_MS,
    DEFAULT_DISPATCH_CONCURRENCY,
    DEFAULT_MAX_INLINE_FILE_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_POLL_INTERVAL_MS,
    ApiKey,
    ClientConfig,
    api_key_problem,
    as_client_options,
    as_retry_options,
    check_base_url,
    check_file_encoder,
    check_headers,
    check_max_inline_file_bytes,
    check_max_response_bytes,
    concurrency_limit,
    non_negative,
    non_negative_ms,
    positive,
)
from .._core.retry import RetryPolicy
from .._exceptions import AuthenticationError
from .._logging import setup_logging
from .._options import ClientOptions, RetryOptions


def resolve_config(
    api_key: str | None,
    options: ClientOptions | Mapping[str, Any] | None,
    *,
    base_url: str | None,
    timeout: float | None,
    headers: Mapping[str, str] | None,
    retry: RetryOptions | Mapping[str, Any] | None,
    max_retries: int | None,
    poll_interval: float | None,
    dispatch_concurrency: int | None,
    max_response_bytes: int | None = None,
    await_hold: float | None = None,
    file_encoder: Any = None,
    max_inline_file_bytes: int | None = None,
) -> ClientConfig:
    """Merge arguments over ``options`` over the environment (read now, never at import)."""
    opts = as_client_options(options)
    raw_key = api_key or os.environ.get("SKYTELLS_API_KEY") or None
    if raw_key is not None and not isinstance(raw_key, str):
        raise AuthenticationError(
            f"The API key must be a string, got {type(raw_key).__name__}", "UNAUTHORIZED"
        )
    key = (raw_key.strip() or None) if raw_key is not None else None  # a file's "\n", a CRLF
    problem = api_key_problem(key) if key is not None else None
    if problem is not None:
        del raw_key, key, api_key  # a traceback's locals (error trackers) never show it
        raise AuthenticationError(problem, "UNAUTHORIZED", "The request was not sent.")
    setup_logging(key)  # SKYTELLS_LOG, and this key redacted from every log record
    key = ApiKey(key) if key is not None else None
    url = (
        base_url
        or opts.base_url
        or os.environ.get("SKYTELLS_BASE_URL")
        or os.environ.get("SKYTELLS_AI_API_URL")
        or API_BASE_URL
    )
    timeout_ms = timeout if timeout is not None else opts.timeout
    retry_options = as_retry_options(retry) if retry is not None else opts.retry
    policy = RetryPolicy.from_options(retry_options)
    if max_retries is not None:
        policy = replace(policy, retries=non_negative("max_retries", max_retries))
    merged_headers = {**check_headers(opts.headers), **check_headers(headers)}
    return ClientConfig(
        api_key=key,
        base_url=check_base_url(url),
        timeout_ms=positive("timeout", timeout_ms),
        headers=merged_headers,
        retry=policy,
        poll_interval_ms=positive("poll_interval", poll_interval or DEFAULT_POLL_INTERVAL_MS),
        dispatch_concurrency=concurrency_limit(
            dispatch_concurrency, DEFAULT_DISPATCH_CONCURRENCY, "dispatch_concurrency"
        ),
        max_response_bytes=check_max_response_bytes(
            DEFAULT_MAX_RESPONSE_BYTES if max_response_bytes is None else max_response_bytes
        ),
        await_hold_ms=DEFAULT_AWAIT_HOLD_MS
        if await_hold is None
        else non_negative_ms("await_hold", await_hold),
        file_encoder=check_file_encoder(file_encoder),
        max_inline_file_bytes=check_max_inline_file_bytes(
            DEFAULT_MAX_INLINE_FILE_BYTES
            if max_inline_file_bytes is None
            else max_inline_file_bytes
        ),
    )
