"""Reading API response bodies with a bound on their *decoded* size, shared by both drivers.

httpx decodes a whole network read at once (and ``gzip, gzip`` stage after stage), so a 64 KiB
read of a gzip bomb becomes tens of megabytes before anyone can count it, and a buffered body
has no limit at all. Here the raw bytes (``iter_raw``, whatever the transport: httpx's own, the
aiohttp one, or a caller's ``http_client``) go through `BodyDecoder`, which inflates every
``Content-Encoding`` stage at most `PIECE` bytes at a time and counts what comes out, so a body
past the limit stops with `ResponseTooLargeError` having held about one piece in excess.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from .._core.config import DEFAULT_MAX_RESPONSE_BYTES
from .._core.decoding import ACCEPT_ENCODING, ContentDecoder, DecodeError
from .._core.responses import request_id_of
from .._exceptions import ResponseTooLargeError
from .errors import connection_error, timeout_error

if TYPE_CHECKING:  # imported by the httpx paths only: the sync client's own path needs none
    import httpx

__all__ = [
    "ACCEPT_ENCODING",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "BodyDecoder",
    "decoded",
    "read_body",
]


class BodyDecoder:
    """Decodes a body's ``Content-Encoding`` chain as raw bytes arrive, `PIECE` bytes at most
    per step, and counts the decoded bytes: past ``limit`` (None: no limit) it raises
    `ResponseTooLargeError`; a corrupt encoding raises `APIConnectionError`."""

    def __init__(
        self,
        headers: Mapping[str, str],
        limit: int | None,
        *,
        method: str = "GET",
        target: str = "",
        status: int = 0,
    ) -> None:
        try:
            self._content = ContentDecoder(headers.get("content-encoding", ""))
        except DecodeError as exc:
            raise connection_error(method, target, f"undecodable body ({exc})") from None
        self.limit = limit
        self.received = 0
        self._method, self._target, self._status = method, target, status
        self._headers = headers
        if limit is not None and not self._content.layers:
            declared = _content_length(headers)
            if declared is not None and declared > limit:  # no need to read it to know
                raise self.too_large(declared)

    def feed(self, raw: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``raw``, lazily (take them one at a time to bound memory)."""
        if not self._content.layers:  # no encoding (the common case): counted, passed on
            self.received += len(raw)
            if self.limit is not None and self.received > self.limit:
                raise self.too_large(self.received)
            return iter((raw,) if raw else ())
        return self._counted(self._content.feed(raw))

    def finish(self) -> Iterator[bytes]:
        """Whatever the encodings still hold once the raw body has ended (checks it is whole)."""
        return self._counted(self._content.finish())

    def _counted(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        try:
            for piece in pieces:
                self.received += len(piece)
                if self.limit is not None and self.received > self.limit:
                    raise self.too_large(self.received)
                yield piece
        except DecodeError as exc:
            raise connection_error(
                self._method, self._target, f"undecodable body ({exc})"
            ) from None

    def too_large(self, size: int) -> ResponseTooLargeError:
        """The error for a body of (at least) ``size`` decoded bytes."""
        return ResponseTooLargeError(
            f"The response to {self._method} {self._target} is larger than max_response_bytes "
            f"({self.limit} bytes, decoded); raise the client's max_response_bytes= if such an "
            "answer is expected",
            "RESPONSE_TOO_LARGE",
            {"max_response_bytes": self.limit, "received_at_least": size},
            self._status,
            request_id=request_id_of(self._headers),
            headers=self._headers,
        )


def read_body(
    response: httpx.Response,
    limit: int | None,
    method: str,
    target: str,
    deadline: float,
    timeout_ms: float,
) -> bytes:
    """The whole decoded body of a streamed response, bounded by ``limit`` and ``deadline``."""
    decoder = BodyDecoder(
        response.headers, limit, method=method, target=target, status=response.status_code
    )
    if _already_read(response):  # by a caller's event hook: only the size is left to check
        return _checked(response.content, decoder)
    parts: list[bytes] = []
    for raw in response.iter_raw():
        parts.extend(decoder.feed(raw))
        if time.monotonic() > deadline:
            raise timeout_error(method, target, timeout_ms)
    parts.extend(decoder.finish())
    return b"".join(parts)


def decoded(response: httpx.Response) -> Iterator[bytes]:
    """The decoded pieces of a streamed body as they arrive, `PIECE` bytes at most each (no size
    limit: an event stream's bound is per event, in `SSEDecoder`)."""
    if _already_read(response):
        yield response.content
        return
    decoder = BodyDecoder(response.headers, None)
    for chunk in response.iter_raw():
        yield from decoder.feed(chunk)
    yield from decoder.finish()


def _already_read(response: httpx.Response) -> bool:
    import httpx

    try:
        response.content  # noqa: B018 - raises until the body has been read
    except httpx.ResponseNotRead:
        return False
    return True


def _checked(content: bytes, decoder: BodyDecoder) -> bytes:
    if decoder.limit is not None and len(content) > decoder.limit:
        raise decoder.too_large(len(content))
    return content


def _content_length(headers: Mapping[str, str]) -> int | None:
    value = headers.get("content-length", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None
