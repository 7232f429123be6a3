"""The bookkeeping of `dispatch()`: nothing created is lost, nothing uncreated leaves the queue."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Sequence
from typing import Any, cast

from .._exceptions import DispatchError, SkytellsError
from .._options import QueueItem
from .._types import PredictionPayload, PredictionResponse
from .context import Context
from .predictions import create_prediction
from .protocol import Op

logger = logging.getLogger("skytells")


class PredictionQueue:
    """The client's local queue of create requests, safe to share between threads.

    Lock-free: the items sit in a dict under increasing numbers (insertion order is queue
    order), and every change is one dict operation, atomic in CPython (free-threaded builds
    included): an item queued while another thread dispatches is never lost."""

    def __init__(self) -> None:
        self._items: dict[int, QueueItem] = {}
        self._claimed: dict[int, tuple[int, QueueItem]] = {}  # id(item): (number, item)
        self._numbers = itertools.count()

    def add(self, payload: dict[str, Any]) -> None:
        """Queue one payload with its own idempotency key, reused until it is created."""
        self._items[next(self._numbers)] = QueueItem(payload)

    def snapshot(self) -> list[QueueItem]:
        """The queued items, oldest first."""
        return [item for _, item in sorted(self._items.copy().items(), key=_number)]

    def take(self) -> list[QueueItem]:
        """Claim every queued item for one `dispatch()`, oldest first: another dispatch running
        at the same time (another thread) does not see them, so nothing is sent twice. `settle`
        or `release` gives back what was not created."""
        taken: list[QueueItem] = []
        for number in sorted(self._items.copy()):
            item = self._items.pop(number, None)  # atomic: one dispatch gets each item
            if item is not None:
                self._claimed[id(item)] = (number, item)
                taken.append(item)
        return taken

    def release(self, items: Sequence[QueueItem]) -> None:
        """Put claimed items that were not settled back in the queue, in their place."""
        for item in items:
            claim = self._claimed.pop(id(item), None)
            if claim is not None:
                self._items[claim[0]] = claim[1]

    def clear(self) -> list[dict[str, Any]]:
        """Empty the queue; returns the payloads that were in it. Requests a dispatch is sending
        right now are dropped too: those that fail do not come back."""
        taken = [self._items.pop(number, None) for number in list(self._items.copy())]
        claimed = [self._claimed.pop(key, (0, None))[1] for key in list(self._claimed.copy())]
        return [item.payload for item in taken + claimed if item is not None]

    def __len__(self) -> int:
        return len(self._items)

    def settle(
        self, items: Sequence[QueueItem], outcomes: Sequence[PredictionResponse | SkytellsError]
    ) -> list[PredictionResponse]:
        """Remove what was created; return the responses in queue order or raise `DispatchError`
        carrying the created responses and the failed payloads (which stay queued)."""
        created_items = {
            id(item) for item, out in zip(items, outcomes, strict=True) if isinstance(out, dict)
        }
        for item in items:
            if id(item) in created_items:
                self._claimed.pop(id(item), None)
        self.release(items)  # the claimed ones that failed go back in their place
        for number, item in self._items.copy().items():
            if id(item) in created_items:
                self._items.pop(number, None)
        created = [out for out in outcomes if isinstance(out, dict)]
        failed: list[tuple[PredictionPayload, SkytellsError]] = [
            (cast(PredictionPayload, item.payload), out)
            for item, out in zip(items, outcomes, strict=True)
            if isinstance(out, SkytellsError)
        ]
        if failed:
            first = failed[0][1]
            raise DispatchError(
                f"{len(failed)} of {len(items)} queued predictions could not be created "
                f"(first error: {first.error_id}: {first.message}); they stay queued",
                "DISPATCH_FAILED",
                {"created": len(created), "failed": len(failed)},
                first.http_status,
                created=created,
                failed=failed,
            )
        return created


def queued_create(ctx: Context, item: QueueItem) -> Op[PredictionResponse]:
    """The background create of a queued item, with its key. An item sent before (by a
    dispatch that failed or was interrupted) is first looked for in the listing, within the
    window of its first send: what that send created is adopted, not created twice."""

    def sent(since: dt.datetime) -> None:
        if item.sent_since is None:
            item.sent_since = since

    return create_prediction(
        ctx,
        item.payload,
        background=True,
        idempotency_key=item.idempotency_key,
        since=item.sent_since,
        look_first=item.sent_since is not None,
        on_sent=sent,
        kept_files=item.encoded_files,
    )


def _number(entry: tuple[int, QueueItem]) -> int:
    return entry[0]


def note_interrupted(interrupt: BaseException, count: int) -> None:
    """Tell the caller of an interrupted `dispatch()` how to recover (a note, and the log)."""
    text = (
        f"dispatch() was interrupted: its {count} requests stay queued, each with its "
        "idempotency key; dispatch() again returns those already created without creating "
        "them twice."
    )
    if hasattr(interrupt, "add_note"):  # Python 3.11+
        interrupt.add_note(text)
    logger.warning(text)
