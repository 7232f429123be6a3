"""Scaled sleeping for the lifecycle: nominal seconds times `time_scale`, rescaled in flight."""

from __future__ import annotations

import asyncio


def _wake(waiter: asyncio.Future[bool], expired: bool) -> None:
    if not waiter.done():
        waiter.set_result(expired)


class ScaledClock:
    """Sleeps nominal durations scaled by a `time_scale` that may change while sleeping.

    A sleeper is one timer handle and one future (no task), so thousands cost nothing while
    idle. When the scale changes every sleeper wakes, keeps the nominal time it has already
    served and sleeps the rest at the new scale; scale 0 ends every pause at once.
    """

    def __init__(self, time_scale: float) -> None:
        self._scale = time_scale
        self._sleepers: set[asyncio.Future[bool]] = set()

    def set_time_scale(self, time_scale: float) -> None:
        """Change the scale; pauses in progress continue at the new one."""
        self._scale = time_scale
        for waiter in list(self._sleepers):
            _wake(waiter, False)

    async def pause(self, nominal: float) -> None:
        """Sleep `nominal` seconds times the scale; returns without yielding when that is 0."""
        remaining = nominal
        while remaining > 0 and self._scale > 0:
            scale = self._scale
            loop = asyncio.get_running_loop()
            waiter: asyncio.Future[bool] = loop.create_future()
            handle = loop.call_later(remaining * scale, _wake, waiter, True)
            self._sleepers.add(waiter)
            started = loop.time()
            try:
                expired = await waiter
            finally:
                handle.cancel()
                self._sleepers.discard(waiter)
            if expired:
                return
            remaining -= (loop.time() - started) / scale
