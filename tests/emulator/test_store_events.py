"""The store's event-log API and the lifecycle at scale, driven directly on an event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from skytells.emulator import EmulatorConfig
from skytells.emulator._catalog import find_model
from skytells.emulator._events import EventLog
from skytells.emulator._store import Store


async def _until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Let the loop run until `condition()` holds (AssertionError after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.001)


def test_event_log_wait_returns_new_events_then_empty_when_closed() -> None:
    async def scenario() -> None:
        log = EventLog()
        log.append("status", {"status": "pending"}, "t")
        assert [e.id for e in await log.wait(0)] == [1]
        waiter = asyncio.ensure_future(log.wait(1))
        await _until(lambda: len(log._waiters) == 1)  # it is parked on the log, not returned
        assert not waiter.done()
        log.append("progress", {"progress": 10}, "t")
        assert [e.id for e in await waiter] == [2]
        assert await log.wait(2, timeout=0.01) == []  # timed out, still open
        closer = asyncio.ensure_future(log.wait(2))
        await _until(lambda: len(log._waiters) == 1)  # so that close() is what wakes it
        assert not closer.done()
        log.close()
        assert await closer == [] and log.closed and log.last_id == 2

    asyncio.run(scenario())


def test_store_event_log_follows_a_prediction() -> None:
    async def scenario() -> None:
        store = Store(EmulatorConfig(time_scale=0.001))
        model = find_model("skytells-chat")
        assert model is not None
        record = store.create(model, {"prompt": "hello"}, "http://h")
        log = store.event_log(record.id)
        seen, last = [], 0
        while True:
            events = await log.wait(last, timeout=5)
            if not events:
                break
            seen.extend(events)
            last = events[-1].id
        assert log.closed and seen[-1].data == {"status": "succeeded"}
        assert "".join(e.data["text"] for e in seen if e.type == "output") == record.output
        store.close()

    asyncio.run(scenario())


def test_a_thousand_concurrent_predictions() -> None:
    async def scenario() -> None:
        store = Store(EmulatorConfig(time_scale=1.0))
        model = find_model("truefusion")
        assert model is not None
        # One input for all: a succeeded prediction states its files' sizes, so distinct
        # inputs would each render an image; the same input is rendered once and shared.
        records = [store.create(model, {"prompt": "many"}, "http://h") for _ in range(1200)]
        # Every lifecycle has started and sleeps on the clock (its first pause, seconds long).
        await _until(lambda: len(store.clock._sleepers) == 1200)
        assert store.state()["active"] == 1200
        store.configure(time_scale=0.0)
        await _until(lambda: all(r.terminal for r in records))
        assert all(r.status == "succeeded" for r in records)
        assert all(r.task is None for r in records)
        store.close()

    asyncio.run(scenario())
