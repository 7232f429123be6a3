"""The lifecycle over HTTP: statuses, progress, event log, failures on demand, cancel, retention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from skytells.emulator import ApiError, Emulator

Poll = Callable[..., Any]


def create(http: httpx.Client, model: str = "truefusion", **input: Any) -> dict[str, Any]:
    response = http.post("/predictions", json={"model": model, "input": {"prompt": "x", **input}})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_time_scale_zero_is_terminal_at_once(
    http: httpx.Client, wait_for: Callable[..., dict[str, Any]]
) -> None:
    # The first prediction of an input renders its outputs (success states their sizes);
    # later ones with the same input reuse the known sizes and end at once.
    wait_for(create(http, "mera")["id"])
    created = create(http, "mera")
    assert created["status"] == "pending"
    # No time passes in the lifecycle at scale 0: it ends as soon as its task runs (on a busy
    # machine that may be after the next request rather than before it).
    done = wait_for(created["id"])
    assert done["status"] == "succeeded" and done["metrics"]["progress"] == 100


def test_event_log_records_the_whole_lifecycle(
    http: httpx.Client, emu: Emulator, wait_for: Callable[..., dict[str, Any]]
) -> None:
    created = create(http)
    wait_for(created["id"])
    events = emu.events(created["id"])
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    statuses = [e["data"]["status"] for e in events if e["type"] == "status"]
    assert statuses == ["pending", "starting", "processing", "succeeded"]
    progress = [e["data"]["progress"] for e in events if e["type"] == "progress"]
    assert progress == list(range(0, 101, 10))
    logs = [e["data"]["message"] for e in events if e["type"] == "log"]
    assert logs[0] == "Loading model weights" and len(logs) >= 3
    assert events[-1]["type"] == "status"
    assert emu.events(created["id"], after=len(events) - 1) == events[-1:]


def test_text_output_is_logged_in_pieces(
    http: httpx.Client, emu: Emulator, wait_for: Callable[..., dict[str, Any]]
) -> None:
    created = create(http, "skytells-chat")
    done = wait_for(created["id"])
    pieces = [e["data"]["text"] for e in emu.events(created["id"]) if e["type"] == "output"]
    assert len(pieces) > 3 and "".join(pieces) == done["output"]


def test_small_time_scale_shows_rising_progress(
    http: httpx.Client, emu: Emulator, poll: Poll
) -> None:
    emu.configure(time_scale=0.02)  # mera: about 1.2 s in all
    created = create(http, "mera")
    seen: list[tuple[str, int]] = []

    def observe() -> dict[str, Any]:
        body = http.get(f"/predictions/{created['id']}").json()
        point = (body["status"], body["metrics"]["progress"])
        if not seen or seen[-1] != point:
            seen.append(point)
        return dict(body)

    done = poll(observe, lambda b: b["status"] == "succeeded")
    order = ["pending", "starting", "processing", "succeeded"]
    assert [order.index(s) for s, _ in seen] == sorted(order.index(s) for s, _ in seen)
    progress = [p for s, p in seen if s == "processing"]
    assert len(progress) >= 3 and progress == sorted(progress)
    assert done["started_at"] >= done["created_at"] and done["completed_at"] >= done["started_at"]


def test_time_scale_change_applies_in_flight(
    http: httpx.Client, emu: Emulator, wait_for: Callable[..., dict[str, Any]]
) -> None:
    emu.configure(time_scale=1.0)
    created = create(http, "mera")  # a minute at real speed
    emu.configure(time_scale=0.0)
    assert wait_for(created["id"])["status"] == "succeeded"


def test_fail_next_by_model_with_a_message(
    http: httpx.Client, emu: Emulator, wait_for: Callable[..., dict[str, Any]]
) -> None:
    emu.fail_next(count=2, model="flux-pro", message="NSFW content detected.")
    other = wait_for(create(http, "truefusion")["id"])
    failed = [wait_for(create(http, "flux-pro")["id"]) for _ in range(2)]
    last = wait_for(create(http, "flux-pro")["id"])
    assert other["status"] == "succeeded" and last["status"] == "succeeded"
    for body in failed:
        assert body["status"] == "failed"
        assert body["error"] == body["response"] == "NSFW content detected."
        assert body["output"] is None and body["urls"] == {} and body["completed_at"]
        assert body["metadata"]["billing"]["credits_used"] == 0


def test_fail_next_defaults_to_the_first_documented_text(
    http: httpx.Client, emu: Emulator, wait_for: Callable[..., dict[str, Any]]
) -> None:
    emu.fail_next()
    assert wait_for(create(http)["id"])["error"] == "Failed to generate image."
    assert wait_for(create(http)["id"])["status"] == "succeeded"


def test_fail_a_running_prediction(http: httpx.Client, emu: Emulator) -> None:
    emu.configure(time_scale=1.0)
    created = create(http, "mera")
    failed = emu.fail_prediction(created["id"], "Input resolution too high.")
    assert failed["status"] == "failed" and failed["error"] == "Input resolution too high."
    assert http.get(f"/predictions/{created['id']}").json()["status"] == "failed"
    with pytest.raises(ApiError) as raised:
        emu.fail_prediction(created["id"])
    assert (raised.value.http_status, raised.value.error_id) == (400, "INVALID_REQUEST")


def test_cancel_mid_flight_stops_the_lifecycle(
    http: httpx.Client, emu: Emulator, poll: Poll
) -> None:
    emu.configure(time_scale=0.05)  # mera: about 3 s
    created = create(http, "mera")
    poll(
        lambda: http.get(f"/predictions/{created['id']}").json(),
        lambda b: b["status"] == "processing" and b["metrics"]["progress"] > 0,
    )
    cancelled = http.post(f"/predictions/{created['id']}/cancel").json()
    assert cancelled["status"] == "cancelled" and cancelled["completed_at"]
    events = emu.events(created["id"])
    assert events[-1]["data"] == {"status": "cancelled"}
    emu.configure(time_scale=0.0)  # a lifecycle still running would now race to the end
    after = http.get(f"/predictions/{created['id']}").json()
    assert after["status"] == "cancelled" and after["metrics"]["progress"] < 100
    assert emu.events(created["id"]) == events
    assert emu.state()["predictions"][0]["running"] is False


def test_retention_purges_outputs(
    http: httpx.Client,
    anon: httpx.Client,
    emu: Emulator,
    poll: Poll,
    wait_for: Callable[..., dict[str, Any]],
) -> None:
    emu.configure(retention_seconds=1.5)
    done = wait_for(create(http, "flux-edge")["id"])
    assert anon.get(done["output"][0]).status_code == 200
    purged = poll(
        lambda: http.get(f"/predictions/{done['id']}").json(), lambda b: b["data_removed"]
    )
    assert purged["metadata"]["data_available"] is False
    assert purged["metadata"]["storage"]["files"] == []
    assert anon.get(done["output"][0]).status_code == 404


def test_default_retention_keeps_files_at_time_scale_zero(emu: Emulator) -> None:
    assert emu.config.retention_seconds is None
    assert emu.config.retention_wall_seconds == 300.0
