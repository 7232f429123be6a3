"""Run a coroutine to completion from synchronous code, in a private event loop.

`SkytellsClient.dispatch()` and `run_many()` create many predictions at once. With aiohttp
installed they do it as asyncio tasks over one aiohttp pool, which sends about twice the creates a
second of 32 threads sharing the GIL over httpx (``benchmarks/dispatch.py``). The loop runs in a
short-lived thread of its own, so this works whether or not the calling thread already runs an
event loop, and never replaces the calling thread's loop. A ``KeyboardInterrupt`` (Ctrl-C) in the
calling thread cancels the coroutine, lets it unwind (its connections closed), then propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# The calling thread waits in slices so that Ctrl-C reaches it on every platform (a lock wait
# without a timeout cannot be interrupted on Windows); a finished thread ends the wait at once.
_JOIN_SLICE = 0.25


class _Outcome:
    """What the coroutine returned or raised."""

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``make()`` in a new event loop on a new thread and return its result (or raise)."""
    loop = asyncio.new_event_loop()
    outcome = _Outcome()
    tasks: list[asyncio.Task[T]] = []

    def target() -> None:
        try:
            task = loop.create_task(make())
            tasks.append(task)
            outcome.value = loop.run_until_complete(task)
        except BaseException as exc:  # handed to the calling thread
            outcome.error = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def cancel() -> None:
        for task in tasks:
            task.cancel()

    thread = threading.Thread(target=target, name="skytells-private-loop", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(_JOIN_SLICE)
    except BaseException:  # Ctrl-C: stop the coroutine, wait for it to unwind, re-raise
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to stop
            loop.call_soon_threadsafe(cancel)
        thread.join()
        raise
    if outcome.error is not None:
        raise outcome.error
    result: T = outcome.value
    return result
