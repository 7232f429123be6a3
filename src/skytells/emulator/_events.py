"""The ordered event log every prediction keeps (the basis for Server-Sent Events and webhooks)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class PredictionEvent:
    """One entry of a prediction's event log; `id` counts from 1 within the prediction.

    Types and data: `status` `{"status"}` (plus `{"error"}` when failed), `progress`
    `{"progress"}` (0-100), `log` `{"message"}`, and `output` `{"text"}`: a piece of a text
    model's output (the pieces, in order, join to the prediction's `output`).
    """

    id: int
    type: str
    data: dict[str, Any]
    created_at: str

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return {"id": self.id, "type": self.type, "data": self.data, "created_at": self.created_at}


class EventLog:
    """The events of one prediction, in order, and a way to await new ones.

    The log is *closed* once the prediction is terminal (its last event is then the terminal
    `status` event) or deleted: no event is appended after that. Only use it on the server's
    event loop.
    """

    __slots__ = ("_closed", "_events", "_waiters")

    def __init__(self) -> None:
        self._events: list[PredictionEvent] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once no further event will be appended."""
        return self._closed

    @property
    def last_id(self) -> int:
        """Id of the newest event (0 when the log is empty)."""
        return len(self._events)

    def __len__(self) -> int:
        return len(self._events)

    def append(self, type: str, data: dict[str, Any], created_at: str) -> PredictionEvent:
        """Record an event and wake everyone awaiting one."""
        if self._closed:
            raise RuntimeError("the event log is closed")
        event = PredictionEvent(len(self._events) + 1, type, data, created_at)
        self._events.append(event)
        self._wake()
        return event

    def close(self) -> None:
        """Mark the log complete and wake everyone awaiting an event."""
        self._closed = True
        self._wake()

    def since(self, after: int = 0) -> list[PredictionEvent]:
        """The events whose id is greater than `after`, oldest first."""
        return self._events[max(0, after) :]

    async def wait(self, after: int = 0, timeout: float | None = None) -> list[PredictionEvent]:
        """Events after id `after`, waiting until there is at least one.

        Returns at once when such events exist; returns `[]` when the log is closed with none
        left, or when `timeout` seconds pass first.
        """
        pending = self.since(after)
        if pending or self._closed:
            return pending
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait((waiter,), timeout=timeout)
        finally:
            if not waiter.done():
                waiter.cancel()
                self._waiters.remove(waiter)
        return self.since(after)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
