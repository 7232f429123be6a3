"""The emulator's settings (stdlib only: imported eagerly by the package and the pytest plugin)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from .._core.config import api_key_problem

DEFAULT_API_KEY = "sk-emulator-0000000000000000"
"""The development key the emulator accepts when no keys are configured."""

DEFAULT_RETENTION_SECONDS = 300.0
"""How long outputs are kept after completion on the real service (about five minutes)."""

FAILURE_TEXTS = (
    "Failed to generate image.",
    "Input resolution too high.",
    "NSFW content detected.",
)
"""The failure texts the service documents; the first is the default for failures on demand."""

DEFAULT_AWAIT_LIMIT = 50.0
"""Wall seconds a create with `await: true` is held at most: below the official clients' 60 s
timeout, so that such a client is always answered before it gives up."""

VARIANTS = ("queued_envelope", "bare_list", "model_string", "success_flag", "canceled", "queued")
"""The documented response variants the emulator can produce on demand (see `EmulatorConfig`)."""

RATE_LIMIT_WINDOW_SECONDS = 60.0
"""Default length of a rate-limit window: `rate_limit` counts requests per key per minute."""

_TUNABLE = (
    "time_scale",
    "await_limit",
    "retention_seconds",
    "rate_limit",
    "rate_limit_window",
    "sse_keepalive",
    "webhook_secret",
    "variants",
    "honour_idempotency",
)

REQUEST_TIMEOUT_SECONDS = 15.0
"""Wall seconds a client may take over a request's headers, or leave its body stalled."""

SSE_KEEPALIVE_SECONDS = 15.0
"""Wall seconds between keep-alive comments on a quiet event stream."""


@dataclass(frozen=True)
class EmulatorConfig:
    """Settings of one emulator instance; immutable, changed with `replace`.

    - `time_scale` multiplies every modelled duration: 1.0 is real time, 0.01 makes a 10 s model
      take 0.1 s, 0 makes predictions terminal effectively at once (once their output files
      exist: success states their sizes, so the first prediction of a model and input renders
      them, some 0.05 s for an image and up to a second for a long video; later ones with the
      same input reuse the sizes).
    - `await_limit`: wall seconds a create with `await: true` may be held.
    - `retention_seconds`: wall seconds outputs are kept after completion. None (the default)
      means 300 s scaled by `max(time_scale, 1)`: a fast emulator never purges sooner than the
      real service would, so files stay downloadable at `time_scale=0`. Set it explicitly (wall
      seconds, not scaled) to observe purging.
    - `rate_limit`: requests per minute per API key (fixed 60 s windows), None for no limit.
    - `rate_limit_window`: the window's length in wall seconds (60; shorten it in tests to see a
      client wait out a 429 quickly).
    - `sse_keepalive`: wall seconds between `: keep-alive` comments on a quiet event stream.
    - `webhook_secret`: the key of webhook signatures; None signs with the API key that created
      the prediction (as the service does for accounts without a dedicated secret).
    - `variants`: documented response shapes the real service has been seen to send, produced
      instead of the usual ones (any of `VARIANTS`): `queued_envelope` (a create answers HTTP 200
      `{"status": false, "id", "response"}`), `bare_list` (the prediction list is a bare array),
      `model_string` (`model` is the slug string), `success_flag` (cancel and delete answer
      `{"success": true}`), `canceled` and `queued` (those spellings of `cancelled` and `pending`).
    - `honour_idempotency`: honour `Idempotency-Key` on creates (Stripe semantics); by default
      the header is ignored, as the documented service does.
    - `allow_remote_webhooks`: deliver webhooks to any host; by default only to loopback ones
      (others are logged as skipped). Not tunable at run time.
    - `allowed_hosts`: host names the emulator answers to besides 127.0.0.1, localhost, ::1 and
      its own address (the `Host` check against DNS rebinding). Not tunable at run time.
    - `request_timeout`: wall seconds a client may take to send a request's headers, or leave
      its body stalled, before the server closes the connection. Not tunable at run time.
    """

    api_keys: tuple[str, ...] = (DEFAULT_API_KEY,)
    time_scale: float = 1.0
    await_limit: float = DEFAULT_AWAIT_LIMIT
    retention_seconds: float | None = None
    rate_limit: int | None = None
    rate_limit_window: float = RATE_LIMIT_WINDOW_SECONDS
    failure_message: str = FAILURE_TEXTS[0]
    sse_keepalive: float = SSE_KEEPALIVE_SECONDS
    webhook_secret: str | None = field(default=None, repr=False)
    allow_remote_webhooks: bool = False
    allowed_hosts: tuple[str, ...] = ()
    request_timeout: float = REQUEST_TIMEOUT_SECONDS
    variants: tuple[str, ...] = ()
    honour_idempotency: bool = False

    def __post_init__(self) -> None:
        keys = tuple(self.api_keys)
        if not keys or not all(isinstance(key, str) and key for key in keys):
            raise ValueError("api_keys must be a non-empty list of non-empty strings")
        for key in keys:  # a key no client can send would only make every request a 401
            problem = api_key_problem(key)
            if problem is not None:
                raise ValueError(f"api key {keys.index(key) + 1} cannot be used: {problem}")
        object.__setattr__(self, "api_keys", keys)
        _check_number("time_scale", self.time_scale)
        _check_number("await_limit", self.await_limit)
        if self.retention_seconds is not None:
            _check_number("retention_seconds", self.retention_seconds)
        if self.rate_limit is not None and (
            isinstance(self.rate_limit, bool)
            or not isinstance(self.rate_limit, int)
            or self.rate_limit < 1
        ):
            raise ValueError("rate_limit must be a positive integer or None")
        _check_number("rate_limit_window", self.rate_limit_window)
        if self.rate_limit_window <= 0:
            raise ValueError("rate_limit_window must be a number > 0")
        if not isinstance(self.failure_message, str) or not self.failure_message:
            raise ValueError("failure_message must be a non-empty string")
        _check_number("sse_keepalive", self.sse_keepalive)
        if self.sse_keepalive <= 0:
            raise ValueError("sse_keepalive must be a number > 0")
        if self.webhook_secret is not None and (
            not isinstance(self.webhook_secret, str) or not self.webhook_secret
        ):
            raise ValueError("webhook_secret must be a non-empty string or None")
        hosts = tuple(self.allowed_hosts)
        if not all(isinstance(host, str) and host.strip() for host in hosts):
            raise ValueError("allowed_hosts must be a list of non-empty host names")
        object.__setattr__(self, "allowed_hosts", hosts)
        _check_number("request_timeout", self.request_timeout)
        if self.request_timeout <= 0:
            raise ValueError("request_timeout must be a number > 0")
        object.__setattr__(self, "variants", _variants(self.variants))
        if not isinstance(self.honour_idempotency, bool):
            raise ValueError("honour_idempotency must be a boolean")

    @property
    def retention_wall_seconds(self) -> float:
        """Wall seconds outputs are kept after completion (see the class docstring)."""
        if self.retention_seconds is not None:
            return float(self.retention_seconds)
        return DEFAULT_RETENTION_SECONDS * max(self.time_scale, 1.0)

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with the tunable settings in `changes` replaced (ValueError if unknown/invalid)."""
        unknown = sorted(set(changes) - set(_TUNABLE))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
        try:
            return dataclasses.replace(self, **changes)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc

    def to_json(self) -> dict[str, Any]:
        """The tunable settings and the key count, as a JSON-ready dict (keys are not shown)."""
        return {
            "time_scale": self.time_scale,
            "await_limit": self.await_limit,
            "retention_seconds": self.retention_seconds,
            "retention_wall_seconds": self.retention_wall_seconds,
            "rate_limit": self.rate_limit,
            "rate_limit_window_seconds": self.rate_limit_window,
            "api_key_count": len(self.api_keys),
            "sse_keepalive": self.sse_keepalive,
            "webhook_secret_set": self.webhook_secret is not None,
            "allow_remote_webhooks": self.allow_remote_webhooks,
            "variants": list(self.variants),
            "honour_idempotency": self.honour_idempotency,
        }


def _check_number(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0")


def _variants(value: object) -> tuple[str, ...]:
    """The variants as a sorted tuple of known names (ValueError otherwise)."""
    if not isinstance(value, (list, tuple, set, frozenset)) or not all(
        isinstance(name, str) for name in value
    ):
        raise ValueError(f"variants must be a list of names among {', '.join(VARIANTS)}")
    unknown = sorted(set(value) - set(VARIANTS))
    if unknown:
        raise ValueError(f"unknown variant(s): {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    return tuple(sorted(set(value)))
