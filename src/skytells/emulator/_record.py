"""One prediction's state inside the emulator, and its JSON form as the API returns it."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from ._catalog import CatalogModel
from ._events import EventLog

TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
STATUSES = ("pending", "starting", "processing", "succeeded", "failed", "cancelled")
STATUS_ALIASES = {"queued": "pending", "started": "starting", "canceled": "cancelled"}

_RESPONSES = {
    "pending": "Prediction is queued.",
    "starting": "Model is starting.",
    "processing": "Prediction is processing.",
    "succeeded": "Prediction succeeded.",
    "cancelled": "Prediction was cancelled.",
}


def utc_now() -> tuple[datetime, str]:
    """The current UTC time and its ISO-8601 form as the service writes it: microseconds and a
    `Z` (`2026-01-01T00:00:00.000000Z`)."""
    now = datetime.now(timezone.utc)
    return now, now.isoformat(timespec="microseconds").replace("+00:00", "Z")


_SPELLINGS = {"canceled": ("cancelled", "canceled"), "queued": ("pending", "queued")}
"""Status variants: variant name -> (canonical status, the spelling it is sent as)."""


def spelled(status: str, variants: tuple[str, ...]) -> str:
    """`status` as sent under `variants` (`canceled`, `queued`: those spellings)."""
    for variant in variants:
        canonical, spelling = _SPELLINGS.get(variant, ("", ""))
        if status == canonical:
            return spelling
    return status


@dataclass
class StoredFile:
    """An output file of a succeeded prediction: its `size` in bytes is known from the moment the
    prediction succeeds; `rendered` says whether the file is on disk yet (it is written on first
    download when its size came from the cache of sizes)."""

    name: str
    content_type: str
    size: int
    rendered: bool = False


class PredictionRecord:
    """Mutable state of one prediction; mutated only on the server's event loop."""

    __slots__ = (
        "_done",
        "api_key",
        "completed_at",
        "completed_mono",
        "created_at",
        "created_date",
        "created_mono",
        "credits",
        "data_removed",
        "error",
        "files",
        "id",
        "input",
        "log",
        "model",
        "output",
        "planned_failure",
        "progress",
        "root",
        "started_at",
        "started_mono",
        "status",
        "stream",
        "task",
        "updated_at",
        "webhook",
    )

    def __init__(
        self,
        prediction_id: str,
        model: CatalogModel,
        input: dict[str, Any],
        root: str,
        stream: bool,
        webhook: dict[str, Any],
    ) -> None:
        created, created_at = utc_now()
        self.id = prediction_id
        self.model = model
        self.input = input
        self.root = root
        self.stream = stream
        self.webhook = webhook
        self.status = "pending"
        self.progress = 0
        self.created_date: date = created.date()
        self.created_at = created_at
        self.updated_at = created_at
        self.started_at: str | None = None
        self.completed_at: str | None = None
        self.created_mono = time.monotonic()
        self.started_mono: float | None = None
        self.completed_mono: float | None = None
        self.error: str | None = None
        self.output: str | list[str] | None = None
        self.files: list[StoredFile] = []
        self.credits = 0.0
        self.data_removed = False
        self.planned_failure: str | None = None
        self.task: asyncio.Task[None] | None = None
        self.log = EventLog()
        self.api_key: str | None = None  # the key that created it (signs its webhooks)
        self._done: asyncio.Event | None = None

    @property
    def terminal(self) -> bool:
        """True once the prediction succeeded, failed or was cancelled."""
        return self.status in TERMINAL

    @property
    def data_available(self) -> bool:
        """True while a succeeded prediction's outputs can still be fetched."""
        return self.status == "succeeded" and not self.data_removed

    def file_url(self, name: str) -> str:
        """Absolute URL of one output file (served without authentication)."""
        return f"{self.root}/files/{self.id}/{name}"

    def mark_done(self) -> None:
        """Release everyone in `wait_done` (called once the prediction is terminal)."""
        if self._done is not None:
            self._done.set()

    async def wait_done(self, timeout: float) -> None:
        """Wait until the prediction is terminal or `timeout` seconds pass."""
        if self.terminal:
            return
        if self._done is None:
            self._done = asyncio.Event()
        try:
            await asyncio.wait_for(self._done.wait(), timeout)
        except asyncio.TimeoutError:
            return

    def to_json(self, variants: tuple[str, ...] = ()) -> dict[str, Any]:
        """The prediction object exactly as the API returns it (in the shape of `variants`:
        see `EmulatorConfig`; only `canceled`, `queued` and `model_string` change it)."""
        status = self.status
        metrics: dict[str, Any] = {"progress": self.progress}
        if self.completed_mono is not None:
            started = self.started_mono if self.started_mono is not None else self.completed_mono
            metrics["predict_time"] = round(self.completed_mono - started, 3)
            metrics["total_time"] = round(self.completed_mono - self.created_mono, 3)
        if status == "succeeded":
            if self.model.type == "image":
                metrics["image_count"] = len(self.files)
            metrics["asset_count"] = len(self.files)
        if status == "failed":
            urls: dict[str, str] = {}
        else:
            base = f"{self.root}/v1/predictions/{self.id}"
            urls = {
                "get": base,
                "cancel": f"{base}/cancel",
                "stream": f"{base}/stream",
                "delete": f"{base}/delete",
            }
        files = [
            {"name": f.name, "type": f.content_type, "size": f.size, "url": self.file_url(f.name)}
            for f in self.files
        ]
        return {
            "id": self.id,
            "status": spelled(status, variants),
            "type": "inference",
            "stream": self.stream,
            "input": self.input,
            "output": self.output,
            "response": self.error if status == "failed" else _RESPONSES[status],
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "completed_at": self.completed_at,
            "updated_at": self.updated_at,
            "privacy": "private",
            "source": "api",
            "model": (
                self.model.slug
                if "model_string" in variants
                else {"name": self.model.slug, "type": self.model.type}
            ),
            "webhook": self.webhook,
            "metrics": metrics,
            "metadata": {
                "billing": {"credits_used": self.credits},
                "storage": {"files": [] if self.data_removed else files},
                "data_available": self.data_available,
            },
            "urls": urls,
            "data_removed": self.data_removed,
        }
