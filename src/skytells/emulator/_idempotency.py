"""Idempotent creates: the `Idempotency-Key` header on `POST /v1/predict` and `/v1/predictions`.

The real service documents no `Idempotency-Key` support, so by default the emulator ignores the
header (a retried create makes a second prediction, as it would there). With the setting
`honour_idempotency` (constructor, `--honour-idempotency`, `PATCH /_emulator/config`) it honours
keys as follows.

The first successful (2xx) response for a pair (API key, idempotency key) is kept for 24 hours
and replayed, with `Idempotent-Replayed: true`, for a later request with the same key and the
same body. Bodies are compared as canonical JSON (keys sorted, no insignificant whitespace), so
the same payload serialised differently is the same request; a body that is not JSON is compared
byte for byte. Then:

- the same key with a different body: 422 `IDEMPOTENCY_KEY_REUSED` (definitive: do not retry);
- the same key while the first request is still being handled (a create held by `await: true`):
  409 `IDEMPOTENCY_REQUEST_IN_PROGRESS` (retry later);
- an error response is not kept: retrying after a 4xx or 5xx runs the request again.

The spec is silent on these two errors (the service has no idempotency): their ids are this
emulator's own, with the statuses Stripe uses. Keys are scoped per API key (another account's key never collides) and at most 255 characters.
`Store.reset()` forgets them all.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._errors import ApiError, json_response
from ._http import parse_json

HEADER = "idempotency-key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL_SECONDS = 24 * 3600.0
"""How long a response is kept for replay (wall seconds, not scaled by `time_scale`)."""
MAX_KEY_LENGTH = 255
SWEEP_EVERY = 1024
"""Expired entries are swept once every this many new keys."""

_Handler = Callable[[Request], Awaitable[Any]]


@dataclass
class _Entry:
    fingerprint: str
    content: bytes | None = None  # None while the first request is in progress
    expires: float = math.inf


class IdempotencyStore:
    """Responses kept per (API key, idempotency key); used on the server's event loop only."""

    def __init__(
        self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._added = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        """Forget every key (requests in flight then keep nothing)."""
        self._entries.clear()

    def begin(self, scope: tuple[str, str], fingerprint: str) -> _Entry | bytes:
        """The stored response to replay, or a new in-progress entry to `finish` or `abandon`.

        ApiError 409 while the key's first request is in progress, 422 for another body.
        """
        now = self._clock()
        entry = self._entries.get(scope)
        if entry is not None and entry.expires <= now:
            del self._entries[scope]
            entry = None
        if entry is None:
            self._added += 1
            if self._added % SWEEP_EVERY == 0:
                self._sweep(now)
            entry = self._entries[scope] = _Entry(fingerprint)
            return entry
        if entry.content is None:
            raise ApiError(
                409,
                "IDEMPOTENCY_REQUEST_IN_PROGRESS",
                "A request with this Idempotency-Key is still being processed; retry later",
                {"idempotency_key": scope[1]},
            )
        if entry.fingerprint != fingerprint:
            raise ApiError(
                422,
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was already used with a different request body",
                {"idempotency_key": scope[1]},
            )
        return entry.content

    def finish(self, entry: _Entry, content: bytes) -> None:
        """Keep the successful response of an entry from `begin` (a no-op after `clear`)."""
        entry.content = content
        entry.expires = self._clock() + self.ttl

    def abandon(self, scope: tuple[str, str], entry: _Entry) -> None:
        """Forget an entry whose request failed, so that a retry runs it again."""
        if self._entries.get(scope) is entry:
            del self._entries[scope]

    def _sweep(self, now: float) -> None:
        for scope in [s for s, e in self._entries.items() if e.expires <= now]:
            del self._entries[scope]


def fingerprint(raw: bytes) -> str:
    """A digest of the body: of its canonical JSON form, or of the bytes when it is not JSON."""
    try:
        canonical = json.dumps(
            parse_json(raw), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")
    except ApiError:  # not JSON the create accepts (it answers 400 for it)
        canonical = b"raw:" + raw
    return hashlib.sha256(canonical).hexdigest()


def idempotent(store: IdempotencyStore, handler: _Handler, enabled: Callable[[], bool]) -> _Handler:
    """Wrap a create handler (after authentication: it reads `request.state.api_key`); keys are
    honoured only while `enabled()` is true."""

    async def create(request: Request) -> Any:
        key = request.headers.get(HEADER, "").strip() if enabled() else ""
        if not key:
            return await handler(request)
        if len(key) > MAX_KEY_LENGTH:
            raise ApiError(
                400,
                "INVALID_PARAMETER",
                f"Idempotency-Key must be at most {MAX_KEY_LENGTH} characters",
                {"parameter": "Idempotency-Key"},
            )
        scope = (str(request.state.api_key), key)
        began = store.begin(scope, fingerprint(await request.body()))
        if isinstance(began, bytes):
            return Response(began, 200, {REPLAYED_HEADER: "true"}, media_type="application/json")
        try:
            response = json_response(await handler(request))
        except BaseException:
            store.abandon(scope, began)
            raise
        store.finish(began, bytes(response.body))
        return response

    return create
