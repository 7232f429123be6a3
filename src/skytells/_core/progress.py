"""The state a progress bar shows: label, status, percent and elapsed time (``progress=True``).

Pure: `ProgressTracker` turns the prediction states a wait reports (``on_progress``) and the
times it is given into `ProgressView`s; showing them (a notebook's live bar, a terminal's line,
a log's lines) is `skytells._progress`'s, the markup `display`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._enums import is_terminal, normalize_status
from .events import progress_number

__all__ = ["ProgressTracker", "ProgressView"]


@dataclass(frozen=True)
class ProgressView:
    """What a progress bar shows at one moment."""

    label: str
    """The model and the prediction's short id (raw text from the server: escape it to show)."""
    status: str
    """The status (normalised spelling), or why the wait ended without one (``timed out``...)."""
    percent: float
    """0 to 100; never goes back; 100 once succeeded."""
    elapsed: float
    """Seconds since the bar started."""
    final: bool
    """Whether this is the bar's last state."""


class ProgressTracker:
    """Follows one prediction's states; ``now`` values are seconds on any monotonic clock."""

    def __init__(self, started: float, model: str | None = None) -> None:
        self._started = started
        self._model = model
        self._id: str | None = None
        self._status = "pending"
        self._percent = 0.0
        self._final = False

    @property
    def final(self) -> bool:
        """Whether `end` was called (or a terminal state seen)."""
        return self._final

    def update(self, state: Mapping[str, Any], now: float) -> ProgressView:
        """The view after the prediction ``state`` (a dict as the API sends it)."""
        if not isinstance(state, Mapping):
            return self._view(now)
        model = state.get("model")
        name = model.get("name") if isinstance(model, Mapping) else model
        if isinstance(name, str) and name:
            self._model = name
        if isinstance(state.get("id"), str) and state["id"]:
            self._id = state["id"]
        status = state.get("status")
        if isinstance(status, str) and status:
            self._status = normalize_status(status)
        metrics = state.get("metrics")
        value = progress_number(metrics.get("progress") if isinstance(metrics, Mapping) else None)
        if value is not None:
            self._percent = max(self._percent, min(100.0, max(0.0, value)))
        if self._status == "succeeded":
            self._percent = 100.0
        if is_terminal(self._status):
            self._final = True
        return self._view(now)

    def end(
        self, now: float, state: Mapping[str, Any] | None = None, reason: str | None = None
    ) -> ProgressView:
        """The last view: after ``state`` (the final prediction, if known), with ``reason``
        (``timed out``, ``interrupted``, ``error``) as the status if the wait ended without a
        terminal one."""
        if state is not None:
            self.update(state, now)
        if reason is not None and not is_terminal(self._status):
            self._status = reason
        self._final = True
        return self._view(now)

    def _view(self, now: float) -> ProgressView:
        label = " ".join(part for part in (self._model, (self._id or "")[:8]) if part)
        return ProgressView(
            label=label or "prediction",
            status=self._status,
            percent=self._percent,
            elapsed=max(0.0, now - self._started),
            final=self._final,
        )
