"""A reduced chaos run (`benchmarks/chaos.py`): 15% of requests faulted, every kind included,
with the emulator ignoring `Idempotency-Key` (as the documented service does) and honouring it."""

from __future__ import annotations

import pytest
from benchmarks.chaos import MODES, chaos_run, goals, table


@pytest.mark.parametrize(("seed", "mode"), [(11, "keys ignored"), (12, "keys honoured")])
def test_every_prediction_is_created_once_and_completes_under_faults(seed: int, mode: str) -> None:
    figures = chaos_run(
        150, fault_rate=0.15, seed=seed, budget=25.0, honour_idempotency=MODES[mode]
    )
    assert figures["completed"] == 150
    assert figures["on_emulator"] == 150 and figures["duplicates"] == 0
    assert figures["lost"] == 0 and figures["still_queued"] == 0
    assert figures["open_connections"] == 0
    assert all(goals(figures).values())
    fired = figures["faults_fired"]
    assert sum(fired.values()) > 0.1 * figures["http_requests"]  # the faults did fire
    lost_after_commit = sum(n for kind, n in fired.items() if kind.startswith("post_commit"))
    assert lost_after_commit > 0  # answers were lost after the work: exactly-once is no luck
    lines = table({mode: figures})
    assert any(line.split()[:3] == ["on_emulator", "/", "requested"] for line in lines)
