"""A tiny in-memory driver for the core's operations: no server, no sleep, no real clock.

`Driver.run(op)` answers each action the way the I/O layer would, from memory: `HttpRequest`
from a script of replies (a `RawResponse`, or an exception to throw into the operation), `Now`
from a fake clock that only `Sleep` advances, `Notify` by calling the callback, `Emit` by
collecting the value, and the stream and file actions from scripts of their own. Everything
asked is recorded, so a test reads what the operation did.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skytells._core.config import ClientConfig
from skytells._core.context import Context
from skytells._core.protocol import (
    CloseStream,
    Download,
    DownloadResult,
    Emit,
    EnsureFree,
    HttpRequest,
    Instant,
    Notify,
    Now,
    Op,
    OpenFile,
    OpenStream,
    PrepareFolder,
    RawResponse,
    ReadStream,
    Sleep,
    StreamResponse,
    WriteFile,
)
from skytells._core.retry import RetryPolicy

WALL_OFFSET = 1_800_000_000.0
"""The fake wall clock is the fake monotonic one plus this (seconds since the epoch)."""

Reply = RawResponse | BaseException | Callable[[HttpRequest], RawResponse]


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> RawResponse:
    """A JSON response."""
    return RawResponse(
        status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()
    )


def prediction(
    status: str, prediction_id: str = "p1", progress: float | None = None, **extra: Any
) -> dict[str, Any]:
    """A prediction dict as the API returns it."""
    body: dict[str, Any] = {"id": prediction_id, "status": status, **extra}
    if progress is not None:
        body["metrics"] = {"progress": progress}
    return body


def context(**config: Any) -> Context:
    """A client's context with a key, no jitter, and the given settings."""
    config.setdefault("api_key", "sk-test")
    config.setdefault("retry", RetryPolicy(random=lambda: 0.0))
    return Context(ClientConfig(**config))


@dataclass
class Driver:
    """Answers an operation's actions from memory; ``now`` is the fake monotonic clock."""

    replies: list[Reply] = field(default_factory=list)
    now: float = 1000.0
    streams: list[StreamResponse | BaseException] = field(default_factory=list)
    chunks: dict[int, list[bytes | BaseException]] = field(default_factory=dict)
    downloads: list[DownloadResult | BaseException] = field(default_factory=list)
    folder_mode: bool = True
    requests: list[HttpRequest] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    emitted: list[Any] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    files: dict[Path, bytes] = field(default_factory=dict)
    actions: list[Any] = field(default_factory=list)

    def script(self, *replies: Reply) -> Driver:
        """Add replies to the HTTP script, answered in order."""
        self.replies.extend(replies)
        return self

    def run(self, op: Op[Any]) -> Any:
        """Drive ``op`` to its end and return its result (or raise its error)."""
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                action = op.send(value) if error is None else op.throw(error)
            except StopIteration as stop:
                return stop.value
            value, error = None, None
            self.actions.append(action)
            try:
                value = self.perform(action)
            except Exception as exc:  # thrown into the operation, as a driver does
                error = exc

    def perform(self, action: Any) -> Any:
        if isinstance(action, Now):
            return Instant(self.now, self.now + WALL_OFFSET)
        if isinstance(action, Sleep):
            self.sleeps.append(action.seconds)
            self.log.append(f"sleep {action.seconds:g}")
            self.now += action.seconds
            return None
        if isinstance(action, HttpRequest):
            self.requests.append(action)
            self.log.append(f"{action.method} {action.path}")
            if not self.replies:
                raise AssertionError(f"unscripted request {action.method} {action.path}")
            reply = self.replies.pop(0)
            if isinstance(reply, BaseException):
                raise reply
            return reply(action) if callable(reply) else reply
        if isinstance(action, Emit):
            self.emitted.append(action.value)
            return None
        if isinstance(action, Notify):
            action.callback(action.value)
            return None
        if isinstance(action, (OpenStream, OpenFile)):
            self.log.append(f"open {action.url}")
            opened = self.streams.pop(0)
            if isinstance(opened, BaseException):
                raise opened
            return opened
        if isinstance(action, ReadStream):
            pending = self.chunks.get(action.stream, [])
            if not pending:
                return b""
            chunk = pending.pop(0)
            if isinstance(chunk, BaseException):
                raise chunk
            return chunk
        if isinstance(action, CloseStream):
            self.log.append("close")
            return None
        if isinstance(action, PrepareFolder):
            return self.folder_mode
        if isinstance(action, EnsureFree):
            return None
        if isinstance(action, WriteFile):
            self.files[action.path] = action.data
            return None
        if isinstance(action, Download):
            result = self.downloads.pop(0)
            if isinstance(result, BaseException):
                raise result
            return result
        raise AssertionError(f"unexpected action {action!r}")


def paths(requests: Iterable[HttpRequest]) -> list[str]:
    """The method and path of each request."""
    return [f"{r.method} {r.path}" for r in requests]
