"""Webhook deliveries of the emulator: signed POSTs to loopback receivers, retries, the log."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator
from skytells.emulator._webhooks import MAX_ATTEMPTS, is_loopback_url, subscribed_event
from tests.scripted_server import Reply, ScriptedServer


@pytest.fixture(scope="module")
def _receiver_server() -> Iterator[ScriptedServer]:
    with ScriptedServer().running() as server:
        yield server


@pytest.fixture
def receiver(_receiver_server: ScriptedServer) -> ScriptedServer:
    """A real HTTP server on 127.0.0.1 recording what it receives (answers 200 by default)."""
    _receiver_server.script(Reply(200, {"ok": True}))
    return _receiver_server


def _hook_url(server: ScriptedServer) -> str:
    return server.base_url.removesuffix("/v1") + "/hooks/skytells"


def _create(http: httpx.Client, webhook: Any, model: str = "truefusion") -> dict[str, Any]:
    body = {"model": model, "input": {"prompt": "a lighthouse"}, "webhook": webhook}
    response = http.post("/predict", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _deliveries(
    emu: Emulator, poll: Callable[..., Any], prediction_id: str, done: Callable[[list[Any]], bool]
) -> list[dict[str, Any]]:
    return list(poll(lambda: emu.webhook_deliveries(prediction_id), done))


def _signature(body: bytes, key: str) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def test_subscribed_events_are_delivered_signed_in_either_vocabulary(
    emu: Emulator, http: httpx.Client, receiver: ScriptedServer, poll: Callable[..., Any]
) -> None:
    url = _hook_url(receiver)
    old = _create(http, {"url": url, "events": ["started", "completed"]})
    new = _create(http, {"url": url, "events": ["prediction.started", "prediction.succeeded"]})
    for created in (old, new):
        _deliveries(emu, poll, created["id"], lambda log: len(log) == 2)
    assert len(receiver.requests) == 4
    by_prediction: dict[str, list[Any]] = {}
    for seen in receiver.requests:
        assert seen.method == "POST" and seen.path == "/hooks/skytells"
        assert seen.headers["content-type"] == "application/json"
        assert seen.headers["x-skytells-signature"] == _signature(seen.body, emu.api_key)
        by_prediction.setdefault(seen.json()["id"], []).append(seen)
    for created, names in (
        (old, ["started", "completed"]),
        (new, ["prediction.started", "prediction.succeeded"]),
    ):
        seen = by_prediction[created["id"]]
        assert [s.headers["x-skytells-event"] for s in seen] == names  # in order
        assert [s.json()["status"] for s in seen] == ["starting", "succeeded"]
        final = http.get(f"/predictions/{created['id']}").json()
        assert seen[-1].json() == final  # the body is what GET answers
    log = emu.webhook_deliveries(old["id"])
    assert [(d["event"], d["attempt"], d["outcome"], d["status_code"]) for d in log] == [
        ("started", 1, "delivered", 200),
        ("completed", 1, "delivered", 200),
    ]


def test_a_webhook_secret_signs_instead_of_the_api_key(
    emu: Emulator, http: httpx.Client, receiver: ScriptedServer, poll: Callable[..., Any]
) -> None:
    emu.configure(webhook_secret="whsec_test")
    created = _create(http, _hook_url(receiver))  # a bare URL: completed and failed
    _deliveries(emu, poll, created["id"], lambda log: len(log) == 1)
    (seen,) = receiver.requests
    assert seen.headers["x-skytells-event"] == "completed"
    assert seen.headers["x-skytells-signature"] == _signature(seen.body, "whsec_test")
    assert emu.config.to_json()["webhook_secret_set"] is True


def test_failed_and_cancelled_predictions_are_delivered(
    emu: Emulator, http: httpx.Client, receiver: ScriptedServer, poll: Callable[..., Any]
) -> None:
    url = _hook_url(receiver)
    emu.fail_next(message="NSFW content detected.")
    failed = _create(http, {"url": url, "events": ["prediction.failed"]})
    _deliveries(emu, poll, failed["id"], lambda log: len(log) == 1)
    emu.configure(time_scale=1.0)
    running = _create(http, {"url": url, "events": ["canceled", "prediction.cancelled"]}, "mera")
    assert http.post(f"/predictions/{running['id']}/cancel").status_code == 200
    _deliveries(emu, poll, running["id"], lambda log: len(log) == 1)
    bodies = {seen.json()["id"]: seen for seen in receiver.requests}
    assert bodies[failed["id"]].headers["x-skytells-event"] == "prediction.failed"
    assert bodies[failed["id"]].json()["error"] == "NSFW content detected."
    assert bodies[running["id"]].headers["x-skytells-event"] == "canceled"
    assert bodies[running["id"]].json()["status"] == "cancelled"


def test_deliveries_have_the_shape_of_the_configured_variants(
    emu: Emulator, http: httpx.Client, receiver: ScriptedServer, poll: Callable[..., Any]
) -> None:
    emu.configure(variants=["canceled", "model_string"], time_scale=1000.0)
    running = _create(http, {"url": _hook_url(receiver), "events": ["canceled"]})
    assert http.post(f"/predictions/{running['id']}/cancel").status_code == 200
    _deliveries(emu, poll, running["id"], lambda log: len(log) == 1)
    (delivered,) = receiver.requests
    assert delivered.json()["status"] == "canceled" and delivered.json()["model"] == "truefusion"


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    emu: Emulator, http: httpx.Client, receiver: ScriptedServer, poll: Callable[..., Any]
) -> None:
    receiver.script(Reply(503, {"busy": True}), Reply(500, "oops"), Reply(204, b""))
    created = _create(http, {"url": _hook_url(receiver), "events": ["completed"]})
    log = _deliveries(emu, poll, created["id"], lambda log: len(log) == 3)
    assert [(d["attempt"], d["status_code"], d["outcome"]) for d in log] == [
        (1, 503, "retrying"),
        (2, 500, "retrying"),
        (3, 204, "delivered"),
    ]
    assert all(d["started_at"] <= d["finished_at"] for d in log)
    bodies = {seen.body for seen in receiver.requests}
    assert len(receiver.requests) == 3 and len(bodies) == 1  # the same signed body each time


def test_an_unreachable_receiver_is_given_up_after_the_last_attempt(
    emu: Emulator, http: httpx.Client, poll: Callable[..., Any]
) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    created = _create(http, {"url": f"http://127.0.0.1:{port}/hook", "events": ["completed"]})
    log = _deliveries(emu, poll, created["id"], lambda log: len(log) == MAX_ATTEMPTS)
    assert [d["attempt"] for d in log] == list(range(1, MAX_ATTEMPTS + 1))
    assert [d["outcome"] for d in log] == ["retrying"] * (MAX_ATTEMPTS - 1) + ["failed"]
    assert all(d["status_code"] is None and "ConnectError" in d["error"] for d in log)


def test_a_non_loopback_receiver_is_skipped_and_logged(
    emu: Emulator, http: httpx.Client, control: httpx.Client, poll: Callable[..., Any]
) -> None:
    created = _create(http, {"url": "https://your-server.com/skytells-webhook"})
    (entry,) = _deliveries(emu, poll, created["id"], lambda log: len(log) == 1)
    assert entry["outcome"] == "skipped" and entry["attempt"] == 0
    assert entry["event"] == "completed" and "loopback" in entry["skipped"]
    assert entry["status_code"] is None and entry["error"] is None
    listed = control.get("/_emulator/webhooks", params={"prediction_id": created["id"]}).json()
    assert listed == [entry]
    assert control.get("/_emulator/webhooks").json() == emu.webhook_deliveries()


def test_reset_stops_deliveries_in_progress(
    emu: Emulator, http: httpx.Client, poll: Callable[..., Any]
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    emu.configure(time_scale=1000.0)  # the retry after a failed attempt waits for ever
    created = _create(http, {"url": f"http://127.0.0.1:{port}/hook", "events": ["failed"]})
    emu.fail_prediction(created["id"])
    _deliveries(emu, poll, created["id"], lambda log: len(log) == 1)
    assert emu.state()["webhooks_pending"] == 1
    emu.reset()
    assert emu.state()["webhooks_pending"] == 0 and emu.webhook_deliveries() == []


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/hook", True),
        ("http://127.8.9.10/hook", True),
        ("http://[::1]:9000/hook", True),
        ("http://localhost/hook", True),
        ("HTTP://LOCALHOST:1/hook", True),
        ("https://your-server.com/skytells-webhook", False),
        ("http://localhost.example.com/hook", False),  # a name: never resolved
        ("http://10.0.0.1/hook", False),
        ("http://0.0.0.0/hook", False),
        ("http://[::ffff:8.8.8.8]/hook", False),
        ("http:///nohost", False),
        ("http://[bad/hook", False),
    ],
)
def test_only_loopback_hosts_count_as_loopback(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_event_names_map_to_status_changes() -> None:
    assert subscribed_event("starting", ["completed", "prediction.started"]) == "prediction.started"
    assert subscribed_event("succeeded", ["prediction.succeeded", "completed"]) == (
        "prediction.succeeded"
    )
    assert subscribed_event("cancelled", ["cancelled"]) == "cancelled"
    assert subscribed_event("processing", ["started", "completed"]) is None
    assert subscribed_event("failed", ["completed"]) is None


def test_remote_webhooks_need_an_explicit_option() -> None:
    with Emulator(time_scale=0.0, allow_remote_webhooks=True) as emu:
        assert emu.config.allow_remote_webhooks is True
        assert emu.config.to_json()["allow_remote_webhooks"] is True
    with pytest.raises(ValueError, match="unknown setting"):
        Emulator(time_scale=0.0).config.replace(allow_remote_webhooks=True)


def test_deliveries_are_json_of_the_prediction_at_that_moment(
    emu: Emulator, http: httpx.Client, receiver: ScriptedServer, poll: Callable[..., Any]
) -> None:
    created = _create(http, {"url": _hook_url(receiver), "events": ["started", "completed"]})
    _deliveries(emu, poll, created["id"], lambda log: len(log) == 2)
    started, completed = (json.loads(seen.body) for seen in receiver.requests)
    assert started["status"] == "starting" and started["output"] is None
    assert started["started_at"] is not None and started["completed_at"] is None
    assert completed["status"] == "succeeded" and completed["output"]
