"""`progress`: the state a progress bar shows, from the prediction states a wait reports."""

from __future__ import annotations

import math

from skytells._core.progress import ProgressTracker


def state(status: str, progress: object = None, **fields: object) -> dict[str, object]:
    data: dict[str, object] = {"id": "0f8c6a2e-1111", "status": status, **fields}
    if progress is not None:
        data["metrics"] = {"progress": progress}
    return data


def test_a_run_goes_from_pending_to_100_percent() -> None:
    tracker = ProgressTracker(100.0, "flux-pro")
    first = tracker.update(state("pending"), 100.5)
    assert (first.label, first.status, first.percent, first.elapsed) == (
        "flux-pro 0f8c6a2e",
        "pending",
        0.0,
        0.5,
    )
    assert tracker.update(state("processing", 40), 102.0).percent == 40.0
    done = tracker.update(state("succeeded"), 103.0)  # no metrics: succeeded is 100%
    assert (done.percent, done.status, done.final, done.elapsed) == (100.0, "succeeded", True, 3.0)


def test_the_percent_never_goes_back_and_stays_within_0_and_100() -> None:
    tracker = ProgressTracker(0.0)
    assert tracker.update(state("processing", 60), 1).percent == 60.0
    assert tracker.update(state("processing", 30), 2).percent == 60.0  # a stale poll
    assert tracker.update(state("processing", 250), 3).percent == 100.0
    tracker = ProgressTracker(0.0)
    for odd in (-5, math.nan, math.inf, "50", True, None, 10**400):
        assert tracker.update(state("processing", odd), 1).percent == 0.0


def test_the_model_and_id_come_from_the_states_and_cancelled_has_one_spelling() -> None:
    tracker = ProgressTracker(0.0)
    assert tracker.update({}, 0).label == "prediction"
    view = tracker.update(state("canceled", model={"name": "mera", "type": "video"}), 1)
    assert (view.label, view.status, view.final, view.percent) == (
        "mera 0f8c6a2e",
        "cancelled",
        True,
        0.0,
    )
    assert ProgressTracker(0.0).update(state("processing", model="flux-pro"), 0).label == (
        "flux-pro 0f8c6a2e"
    )


def test_a_wait_that_ends_without_a_terminal_status_says_why() -> None:
    tracker = ProgressTracker(0.0, "mera")
    tracker.update(state("processing", 30), 1)
    end = tracker.end(5.0, reason="timed out")
    assert (end.status, end.percent, end.final, end.elapsed) == ("timed out", 30.0, True, 5.0)
    assert tracker.final


def test_the_end_keeps_a_terminal_status_it_was_given() -> None:
    tracker = ProgressTracker(0.0)
    end = tracker.end(2.0, state("failed", 70), reason="error")
    assert (end.status, end.percent, end.final) == ("failed", 70.0, True)
