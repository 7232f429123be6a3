"""`PredictionStream` and `AsyncPredictionStream`: what `client.stream()` returns.

Thin wrappers over a driver's iteration of `_core.waiting.stream_events`; closing one (leaving a
``with`` block, ``break``-ing out of a ``for`` loop, or `close()`) closes the operation, and the
driver then closes the stream's connection.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from types import TracebackType
from typing import Any

from .._core.events import StreamEvent


class PredictionStream:
    """The `StreamEvent`s of one prediction, up to its ``done`` or ``error`` event.

    Iterate it (``for event in stream``), preferably inside ``with``; breaking out of the loop
    closes the connection. No request is sent before the first event is asked for.
    """

    def __init__(self, events: Generator[Any, None, Any]) -> None:
        self._events = events

    def __iter__(self) -> Iterator[StreamEvent]:
        try:
            yield from self._events
        finally:
            self.close()

    def __next__(self) -> StreamEvent:
        event: StreamEvent = next(self._events)
        return event

    def close(self) -> None:
        """Stop following the prediction and close the connection (the prediction goes on)."""
        self._events.close()

    def __enter__(self) -> PredictionStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncPredictionStream:
    """The `StreamEvent`s of one prediction, for ``async for`` (preferably in ``async with``)."""

    def __init__(self, events: AsyncGenerator[Any, None]) -> None:
        self._events = events

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[StreamEvent]:
        try:
            async for event in self._events:
                yield event
        finally:
            await self.aclose()

    async def __anext__(self) -> StreamEvent:
        event: StreamEvent = await self._events.__anext__()
        return event

    async def aclose(self) -> None:
        """Stop following the prediction and close the connection (the prediction goes on)."""
        await self._events.aclose()

    async def __aenter__(self) -> AsyncPredictionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
