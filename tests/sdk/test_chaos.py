"""A reduced chaos run (`benchmarks/chaos.py`): 15% of requests faulted, every kind included."""

from __future__ import annotations

import pytest
from benchmarks.chaos import chaos_run


@pytest.mark.parametrize("seed", [11, 12])
def test_every_prediction_is_created_once_and_completes_under_faults(seed: int) -> None:
    figures = chaos_run(150, fault_rate=0.15, seed=seed, budget=18.0)
    assert figures["completed"] == 150
    assert figures["on_emulator"] == 150 and figures["duplicates"] == 0
    assert figures["lost"] == 0 and figures["still_queued"] == 0
    assert figures["open_connections"] == 0
    fired = figures["faults_fired"]
    assert sum(fired.values()) > 0.1 * figures["http_requests"]  # the faults did fire
