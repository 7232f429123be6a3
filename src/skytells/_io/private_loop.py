"""Run a coroutine to completion from synchronous code, in a private event loop.

`SkytellsClient.dispatch()` and `run_many()` create their batch as asyncio tasks over one aiohttp
pool, which sends about twice the creates a second of 32 threads sharing the GIL over urllib3
(``benchmarks/dispatch.py``). The loop (``asyncio.run``: remaining tasks cancelled, async
generators and the default executor shut down) runs in a short-lived thread of its own, so this
works whether or not the calling thread already runs an event loop, and never replaces the
calling thread's loop. A ``KeyboardInterrupt`` (Ctrl-C) in the calling thread cancels the
coroutine and waits for it to unwind (its connections closed) before it propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# The calling thread waits in slices so that Ctrl-C reaches it on every platform (a lock wait
# without a timeout cannot be interrupted on Windows). It waits on an Event, not Thread.join():
# an interrupted join() marks a running thread as stopped on Python 3.10-3.12.
_WAIT_SLICE = 0.25


class _Run:
    """One run's shared state: the loop and task to cancel, the outcome, the end."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.stop = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self.value: Any = None
        self.error: BaseException | None = None

    def cancel(self) -> None:
        """Ask the coroutine to stop, whether or not it has started."""
        with self.lock:
            self.stop = True
            loop, task = self.loop, self.task
        if loop is not None and task is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to stop
                loop.call_soon_threadsafe(task.cancel)

    def wait(self) -> None:
        while not self.done.wait(_WAIT_SLICE):
            pass


def run_coroutine(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``make()`` in a new event loop on a new thread and return its result (or raise)."""
    run = _Run()

    async def main() -> T:
        with run.lock:
            if run.stop:
                raise asyncio.CancelledError
            run.loop, run.task = asyncio.get_running_loop(), asyncio.current_task()
        return await make()

    def target() -> None:
        try:
            run.value = asyncio.run(main())
        except BaseException as exc:  # handed to the calling thread
            run.error = exc
        finally:
            run.done.set()

    thread = threading.Thread(target=target, name="skytells-private-loop", daemon=True)
    try:
        thread.start()
        run.wait()
    except BaseException:  # Ctrl-C: stop the coroutine, wait for it to unwind, re-raise
        run.cancel()
        if thread.ident is not None:
            run.wait()
        raise
    thread.join()
    if run.error is not None:
        raise run.error
    result: T = run.value
    return result
