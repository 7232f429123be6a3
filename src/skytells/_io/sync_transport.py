"""What the sync driver needs of an HTTP client: open an exchange, read its raw body, close it.

Two clients implement it: the SDK's own pool over urllib3 (`urllib3_transport.py`) and a user's
``http_client=httpx.Client(...)`` (`httpx_transport.py`). Both raise only `SendTimeout` and
`SendFailure`, which the driver maps to the SDK's errors.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol


class Headers(dict[str, str]):
    """Response headers: a plain dict of lower-case names (repeated ones joined with ``", "``),
    read case-insensitively. Lookups cost a dict's, not an HTTP library's header object's."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        for name, value in pairs:
            key = name.lower()
            before = dict.get(self, key)
            dict.__setitem__(self, key, value if before is None else f"{before}, {value}")

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


class SendTimeout(Exception):
    """The exchange's deadline (or a read's idle timeout) passed."""


class SendFailure(Exception):
    """No (complete) response: refused, reset, dropped, a broken body. ``cause`` is the client's
    own exception (its text is redacted before anyone sees it)."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class SyncResponse(Protocol):
    """An open response. ``decoded`` is True when the client has already read and decoded the
    whole body (an httpx event hook did): `read` then yields it in one piece."""

    status: int
    headers: Mapping[str, str]
    decoded: bool

    def read(self) -> bytes:
        """The next raw bytes of the body as they arrive; ``b""`` once it has ended."""
        ...

    def close(self) -> None:
        """Release the exchange (its connection is reused only if the body was read whole)."""
        ...


class SyncTransport(Protocol):
    """Opens exchanges whose every read ends by ``deadline`` (a `time.monotonic()` instant),
    each wait for bytes within ``idle`` seconds."""

    @property
    def is_closed(self) -> bool: ...

    def open(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        body: bytes | bytearray | None = None,
        deadline: float,
        idle: float,
        follow_redirects: bool = False,
    ) -> SyncResponse:
        """Send a request and return its response once the headers have arrived."""
        ...

    def close(self) -> None:
        """Close every pooled connection."""
        ...
