"""What a client knows of its creates: those in flight and the prediction ids it claimed.

The reconcile of a create whose answer was lost (`reconcile`) reads it: a prediction this client
already returned or adopted is never adopted again, and identical creates still in flight land
before the listing is matched.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

CLAIM_TTL = 3600.0
"""Seconds a claimed id is remembered: far longer than any create (and its reconcile) lasts."""
MAX_CLAIMS = 200_000
"""A cap on remembered claims (some 20 MB at worst), oldest forgotten first."""


def canonical_json(value: Any) -> str:
    """The JSON value ``value`` stands for, as one string: keys sorted, integral floats written
    as integers (``1.0`` is ``1``), integers beyond 2**53 as the nearest double (what a server
    keeping numbers as doubles echoes), booleans kept apart from numbers. Two values are the same
    JSON value exactly when their canonical strings are equal. Raises ``ValueError`` or
    ``TypeError`` for what is not JSON."""
    return json.dumps(
        _canonical(value, 0), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )


def _canonical(value: Any, depth: int) -> Any:
    if depth > 200:
        raise ValueError("too deeply nested")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        # Beyond 2**53 a server keeping numbers as doubles echoes the nearest double.
        return value if abs(value) <= 2**53 else int(float(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a JSON number")
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): _canonical(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item, depth + 1) for item in value]
    raise TypeError(f"{type(value).__name__} is not JSON")


class _Flight:
    """One create in flight: its model and input (the canonical form computed only if a
    reconcile asks)."""

    __slots__ = ("_canonical", "input", "model")

    def __init__(self, model: str, input: Any) -> None:
        self.model, self.input = model, input
        self._canonical: str | None = None

    def same(self, model: str, canonical: str) -> bool:
        if self.model != model:
            return False
        if self._canonical is None:
            try:
                self._canonical = canonical_json(self.input)
            except (TypeError, ValueError):
                self._canonical = ""
        return self._canonical == canonical


class CreateLedger:
    """The creates of one client (and the clients derived from it): those in flight, and the
    prediction ids claimed (returned to the caller or adopted), remembered `CLAIM_TTL` seconds.

    Lock-free like the rest of `ClientState`: every change is one dict operation (atomic in
    CPython), so threads and event loops share it safely."""

    def __init__(self) -> None:
        self._flying: dict[object, _Flight] = {}
        self._claims: dict[str, tuple[float, object]] = {}
        self._since_prune = 0

    # in flight

    def depart(self, model: str, input: Any, token: object | None = None) -> object:
        """Note a create about to be sent (again, with its ``token``); returns its token for
        `land`."""
        token = object() if token is None else token
        self._flying[token] = _Flight(model, input)
        return token

    def land(self, token: object) -> None:
        """The create of ``token`` got its answer (claimed first) or failed."""
        self._flying.pop(token, None)

    def flying(self, model: str, canonical: str) -> set[object]:
        """The tokens of the creates of ``model`` and this input in flight now."""
        return {t for t, f in self._flying.copy().items() if f.same(model, canonical)}

    def any_flying(self, tokens: Iterable[object]) -> bool:
        """Whether one of ``tokens`` is still in flight."""
        return any(token in self._flying for token in tokens)

    # claims

    def claim(self, prediction_id: str, at: float) -> bool:
        """Claim ``prediction_id`` at monotonic time ``at``; False if it was claimed already."""
        mark = object()
        won = self._claims.setdefault(prediction_id, (at, mark))[1] is mark
        self._since_prune += 1
        if self._since_prune >= 1000 or len(self._claims) > MAX_CLAIMS:
            self._prune(at)
        return won

    def __contains__(self, prediction_id: object) -> bool:
        return prediction_id in self._claims

    def __len__(self) -> int:
        return len(self._claims)

    def _prune(self, now: float) -> None:
        self._since_prune = 0
        snapshot = list(self._claims.copy().items())
        excess = len(snapshot) - MAX_CLAIMS * 9 // 10 if len(snapshot) > MAX_CLAIMS else 0
        for number, (prediction_id, (at, _)) in enumerate(snapshot):  # oldest first
            if number >= excess and at >= now - CLAIM_TTL:
                break
            self._claims.pop(prediction_id, None)
