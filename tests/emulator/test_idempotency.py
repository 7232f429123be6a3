"""Idempotent creates: ignored by default (as by the documented service); when honoured: replay, a
reused key, a request in progress, keys scoped per API key."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator
from skytells.emulator._idempotency import IdempotencyStore, fingerprint
from tests.openapi_hook import response_validator_hooks

CREATE = {"model": "flux-pro", "input": {"prompt": "a lighthouse", "seed": 7}}


def _key(name: str) -> dict[str, str]:
    return {"idempotency-key": name}


@pytest.fixture
def honouring(emu: Emulator) -> Emulator:
    """The session emulator, honouring idempotency keys (the next reset turns it off again)."""
    emu.configure(honour_idempotency=True)
    return emu


def test_keys_are_ignored_by_default(http: httpx.Client, emu: Emulator) -> None:
    assert emu.config.honour_idempotency is False
    first = http.post("/predict", json=CREATE, headers=_key("k-0"))
    again = http.post("/predict", json=CREATE, headers=_key("k-0"))
    assert first.status_code == again.status_code == 200
    assert "idempotent-replayed" not in again.headers
    assert first.json()["id"] != again.json()["id"]  # a duplicate, as the real service makes
    other = http.post("/predict", json={**CREATE, "input": {"prompt": "y"}}, headers=_key("k-0"))
    assert other.status_code == 200
    assert http.post("/predict", json=CREATE, headers=_key("k" * 256)).status_code == 200
    assert emu.state()["predictions_created"] == 4


def test_honouring_keys_is_a_setting_of_the_control_api(
    http: httpx.Client, anon: httpx.Client, emu: Emulator
) -> None:
    key = {"x-api-key": emu.api_key}
    switched = anon.patch("/_emulator/config", json={"honour_idempotency": True}, headers=key)
    assert switched.status_code == 200 and switched.json()["honour_idempotency"] is True
    first = http.post("/predict", json=CREATE, headers=_key("k-c"))
    again = http.post("/predict", json=CREATE, headers=_key("k-c"))
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    refused = anon.patch("/_emulator/config", json={"honour_idempotency": "yes"}, headers=key)
    assert refused.status_code == 400


def test_same_key_and_body_replays_the_first_response(
    http: httpx.Client, emu: Emulator, honouring: Emulator
) -> None:
    first = http.post("/predict", json=CREATE, headers=_key("k-1"))
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    # The same payload serialised differently, on the other spelling of the endpoint.
    reordered = json.dumps({"input": {"seed": 7, "prompt": "a lighthouse"}, "model": "flux-pro"})
    again = http.post(
        "/predictions",
        content=f"  {reordered}\n",
        headers={**_key("k-1"), "content-type": "application/json"},
    )
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert "x-skytells-ratelimit-remaining-requests" in again.headers
    state = emu.state()
    assert state["predictions_created"] == 1 and len(state["predictions"]) == 1


def test_same_key_with_another_body_is_refused(
    http: httpx.Client, emu: Emulator, honouring: Emulator
) -> None:
    assert http.post("/predict", json=CREATE, headers=_key("k-2")).status_code == 200
    other = {**CREATE, "input": {"prompt": "a different lighthouse"}}
    refused = http.post("/predict", json=other, headers=_key("k-2"))
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["error_id"] == "IDEMPOTENCY_KEY_REUSED"
    assert error["details"] == {"idempotency_key": "k-2"}
    assert emu.state()["predictions_created"] == 1


def test_a_request_in_progress_answers_409(
    http: httpx.Client, honouring: Emulator, poll: Callable[..., Any]
) -> None:
    emu = honouring
    emu.configure(time_scale=1.0)  # flux-pro takes seconds: the first create is held
    held: list[httpx.Response] = []
    body = {**CREATE, "await": True}
    thread = threading.Thread(
        target=lambda: held.append(http.post("/predict", json=body, headers=_key("k-3")))
    )
    thread.start()
    try:
        (prediction,) = poll(emu.predictions, lambda predictions: len(predictions) == 1)
        busy = http.post("/predict", json=body, headers=_key("k-3"))
        assert busy.status_code == 409
        assert busy.json()["error"]["error_id"] == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
        emu.fail_prediction(prediction["id"])  # ends the held request
    finally:
        thread.join(15)
    assert not thread.is_alive() and held[0].status_code == 200
    assert held[0].json()["status"] == "failed"
    replay = http.post("/predict", json=body, headers=_key("k-3"))
    assert replay.status_code == 200 and replay.content == held[0].content
    assert emu.state()["predictions_created"] == 1


def test_keys_are_scoped_per_api_key() -> None:
    with (
        Emulator(
            time_scale=0,
            api_keys=["sk-first-account", "sk-other-account"],
            honour_idempotency=True,
        ) as emu,
        httpx.Client(base_url=emu.base_url, event_hooks=response_validator_hooks()) as client,
    ):
        ids = {
            client.post(
                "/predict", json=CREATE, headers={**_key("shared"), "x-api-key": api_key}
            ).json()["id"]
            for api_key in emu.api_keys
        }
        assert len(ids) == 2 and emu.state()["predictions_created"] == 2
        replay = client.post(
            "/predict", json=CREATE, headers={**_key("shared"), "x-api-key": "sk-other-account"}
        )
        assert replay.headers["idempotent-replayed"] == "true" and replay.json()["id"] in ids


def test_errors_are_not_kept(http: httpx.Client, emu: Emulator, honouring: Emulator) -> None:
    invalid = http.post("/predict", json={"model": "flux-pro"}, headers=_key("k-4"))
    assert invalid.status_code == 422 and invalid.json()["error"]["error_id"] == "VALIDATION_ERROR"
    fixed = http.post("/predict", json=CREATE, headers=_key("k-4"))
    assert fixed.status_code == 200 and "idempotent-replayed" not in fixed.headers


def test_without_a_key_every_create_creates(http: httpx.Client, emu: Emulator) -> None:
    for _ in range(2):
        assert http.post("/predict", json=CREATE).status_code == 200
    assert emu.state()["predictions_created"] == 2


def test_reset_forgets_every_key(http: httpx.Client, emu: Emulator, honouring: Emulator) -> None:
    first = http.post("/predict", json=CREATE, headers=_key("k-5")).json()
    emu.reset()
    emu.configure(honour_idempotency=True)
    again = http.post("/predict", json=CREATE, headers=_key("k-5"))
    assert "idempotent-replayed" not in again.headers and again.json()["id"] != first["id"]


def test_an_overlong_key_is_refused(http: httpx.Client, honouring: Emulator) -> None:
    response = http.post("/predict", json=CREATE, headers=_key("k" * 256))
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"parameter": "Idempotency-Key"}


def test_kept_responses_expire() -> None:
    now = [0.0]
    store = IdempotencyStore(ttl=10.0, clock=lambda: now[0])
    scope = ("sk-a", "key")
    entry = store.begin(scope, fingerprint(b'{"a": 1}'))
    assert not isinstance(entry, bytes)
    store.finish(entry, b"first")
    now[0] = 9.0
    assert store.begin(scope, fingerprint(b'{ "a" : 1 }')) == b"first"
    now[0] = 10.5
    assert not isinstance(store.begin(scope, fingerprint(b'{"a": 2}')), bytes)  # a new entry


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        (b'{"a":1,"b":[1,2]}', b'{ "b": [1, 2], "a": 1 }', True),
        (b'{"a":1}', b'{"a":2}', False),
        (b"not json", b"not json", True),
        (b"not json", b"not  json", False),
    ],
)
def test_bodies_compare_as_canonical_json(left: bytes, right: bytes, same: bool) -> None:
    assert (fingerprint(left) == fingerprint(right)) is same
