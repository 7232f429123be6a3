"""Fault injection, observed over real sockets with plain httpx: every kind, matching, control."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from skytells.emulator import ApiError, Emulator

CREATE = {"model": "flux-pro", "input": {"prompt": "a lighthouse"}}


@pytest.fixture
def raw(emu: Emulator) -> Iterator[httpx.Client]:
    """A plain authenticated client (no response validation: faults break responses)."""
    with httpx.Client(
        base_url=emu.base_url, headers={"x-api-key": emu.api_key}, timeout=10
    ) as client:
        yield client


def _created(emu: Emulator) -> int:
    return int(emu.state()["predictions_created"])


# ---- each kind ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_id"),
    [
        # The spec's table of ids and statuses (section 3).
        (400, "INVALID_REQUEST"),
        (401, "UNAUTHORIZED"),
        (402, "PAYMENT_REQUIRED"),
        (403, "FORBIDDEN"),
        (404, "ENDPOINT_NOT_FOUND"),
        (422, "VALIDATION_ERROR"),
        (451, "CONTENT_POLICY_VIOLATION"),
        (500, "INTERNAL_ERROR"),
        (503, "SERVICE_UNAVAILABLE"),
        (504, "INFERENCE_TIMEOUT"),
        # Not in the table (the spec is silent): the id of the status's class.
        (409, "INVALID_REQUEST"),
    ],
)
def test_status_answers_the_error_envelope(
    http: httpx.Client, emu: Emulator, status: int, error_id: str
) -> None:
    rule = emu.add_fault("status", status=status, path="/v1/models", count=1)
    faulted = http.get("/models")  # the OpenAPI hook validates the envelope
    assert faulted.status_code == status
    error = faulted.json()["error"]
    assert error["error_id"] == error_id and error["http_status"] == status
    assert error["details"] == {"fault": rule["id"]}
    assert http.get("/models").status_code == 200  # count=1: it fired once


def test_502_answers_as_a_failing_gateway_does(http: httpx.Client, emu: Emulator) -> None:
    # The spec's only 502 id, PREDICTION_FAILED, is the API's definitive answer to an unknown
    # prediction id; a fault stands for a gateway, whose body is not the API's JSON.
    emu.add_fault("status", status=502, path="/v1/models", count=1)
    faulted = http.get("/models")
    assert faulted.status_code == 502
    assert faulted.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in faulted.text
    emu.add_fault("status", status=502, error_id="PREDICTION_FAILED", path="/v1/models", count=1)
    chosen = http.get("/models")
    assert chosen.json()["error"] == {**chosen.json()["error"], "error_id": "PREDICTION_FAILED"}


def test_429_carries_retry_after_in_seconds_and_milliseconds(
    http: httpx.Client, emu: Emulator
) -> None:
    emu.add_fault("status", status=429, retry_after=0.25, count=1)
    response = http.get("/predictions")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1" and response.headers["retry-after-ms"] == "250"
    assert response.json()["error"]["error_id"] == "RATE_LIMIT_EXCEEDED"


def test_status_body_is_configurable(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("status", status=502, body="<html>Bad gateway</html>", count=1)
    emu.add_fault("status", status=500, body={"message": "flat"}, error_id="IGNORED", count=1)
    html = raw.get("/models")
    assert html.status_code == 502 and html.text == "<html>Bad gateway</html>"
    assert html.headers["content-type"].startswith("text/plain")
    flat = raw.get("/models")
    assert flat.status_code == 500 and flat.json() == {"message": "flat"}


def test_latency_delays_then_handles_the_request(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("latency", latency_ms=2000, path="/v1/models", count=1)
    with pytest.raises(httpx.ReadTimeout):
        raw.get("/models", timeout=0.2)
    emu.add_fault("latency", latency_ms=20, path="/v1/models")
    assert raw.get("/models").status_code == 200  # latency composes with normal handling
    assert emu.faults()[1]["fired"] == 1


def test_drop_closes_before_any_byte(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("drop", path="/v1/predict", count=1)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        raw.post("/predict", json=CREATE)
    assert _created(emu) == 0  # dropped before it was handled
    assert raw.post("/predict", json=CREATE).status_code == 200


def test_reset_aborts_the_connection_with_rst(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("reset", method="GET", count=1)
    with pytest.raises((httpx.ReadError, httpx.WriteError)) as caught:
        raw.get("/models")
    assert "reset" in str(caught.value).lower()  # ECONNRESET, not an orderly close
    assert raw.get("/models").status_code == 200


def test_truncate_sends_headers_and_part_of_the_body(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("truncate", path="/v1/predict", fraction=0.3, count=1)
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError, match="complete message body"),
        raw.stream("POST", "/predict", json=CREATE) as response,
    ):
        assert response.status_code == 200
        expected = int(response.headers["content-length"])
        for chunk in response.iter_raw():
            received += chunk
    assert 0 < len(received) < expected
    assert _created(emu) == 1  # the request was handled; only its answer was cut


def test_hang_never_answers_until_the_client_gives_up(
    raw: httpx.Client, emu: Emulator, poll: Callable[..., Any]
) -> None:
    emu.add_fault("hang", path="/v1/models", count=1)
    with pytest.raises(httpx.ReadTimeout):
        raw.get("/models", timeout=0.3)
    raw.close()
    poll(emu.state, lambda state: state["open_connections"] == 0)  # the server let go too


def test_clearing_faults_ends_hung_requests(emu: Emulator) -> None:
    emu.add_fault("hang")
    outcome: list[BaseException] = []

    def request() -> None:
        try:
            httpx.get(f"{emu.base_url}/models", headers={"x-api-key": emu.api_key}, timeout=30)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=request)
    thread.start()
    try:
        _wait_for_open_connection(emu)
        assert emu.clear_faults() == 1
    finally:
        thread.join(10)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)


def test_stopping_is_not_blocked_by_a_hung_request() -> None:
    emulator = Emulator(time_scale=0, stop_timeout=5).start()
    outcome: list[BaseException] = []

    def request() -> None:
        try:
            httpx.get(f"{emulator.base_url}/models", timeout=30)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=request)
    try:
        emulator.add_fault("hang")
        thread.start()
        _wait_for_open_connection(emulator)
    finally:
        emulator.stop()  # TimeoutError if the hang held the server
        thread.join(10)
    assert not thread.is_alive() and isinstance(outcome[0], httpx.RemoteProtocolError)


def test_post_commit_creates_then_loses_the_answer(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("post_commit", path="/v1/predict", count=1)
    with pytest.raises(httpx.RemoteProtocolError):
        raw.post("/predict", json=CREATE)
    (prediction,) = emu.predictions()  # it exists, although the client got no response
    assert prediction["model"]["name"] == "flux-pro"


def test_post_commit_can_reset_the_connection(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("post_commit", path="/v1/predict", count=1, then="reset")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        raw.post("/predict", json=CREATE)
    assert _created(emu) == 1


def test_post_commit_can_hang_after_the_work_is_done(emu: Emulator) -> None:
    emu.add_fault("post_commit", path="/v1/predict", count=1, then="hang")
    with (
        httpx.Client(
            base_url=emu.base_url, headers={"x-api-key": emu.api_key}, timeout=0.5
        ) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post("/predict", json=CREATE)
    assert _created(emu) == 1  # created, although the client timed out waiting for the answer


def test_post_commit_can_answer_a_gateway_error(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("post_commit", path="/v1/predict", count=1, status=504)
    answer = raw.post("/predict", json=CREATE)
    assert answer.status_code == 504 and answer.json()["error"]["error_id"] == "INFERENCE_TIMEOUT"
    assert _created(emu) == 1
    assert raw.get("/models").status_code == 200  # the connection was kept


def test_late_does_the_work_then_holds_the_answer(emu: Emulator) -> None:
    emu.add_fault("late", path="/v1/predict", latency_ms=60_000, count=1)
    with (
        httpx.Client(
            base_url=emu.base_url, headers={"x-api-key": emu.api_key}, timeout=0.5
        ) as impatient,
        pytest.raises(httpx.ReadTimeout),
    ):
        impatient.post("/predict", json=CREATE)
    assert _created(emu) == 1  # made at once; only its answer is late
    emu.clear_faults()  # releases the held answer


def test_late_answers_in_the_end(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("late", path="/v1/predict", latency_ms=50, count=1)
    answer = raw.post("/predict", json=CREATE)
    assert answer.status_code == 200 and answer.json()["id"] == emu.predictions()[0]["id"]


@pytest.mark.parametrize(
    "spec", [{"kind": "post_commit", "then": "explode"}, {"kind": "drop", "then": "reset"}]
)
def test_then_is_only_an_ending_of_post_commit(emu: Emulator, spec: dict[str, Any]) -> None:
    with pytest.raises(ApiError) as caught:
        emu.add_fault(**spec)
    assert caught.value.details == {"parameter": "then"}


# ---- matching ----------------------------------------------------------------------------


def test_rules_match_method_and_path_glob(raw: httpx.Client, emu: Emulator) -> None:
    created = raw.post("/predict", json=CREATE).json()
    emu.add_fault("status", status=500, method="get", path="/v1/predictions/*")
    assert raw.get(f"/predictions/{created['id']}").status_code == 500
    assert raw.get(f"/predictions/{created['id']}/stream").status_code == 500
    assert raw.get("/predictions").status_code == 200  # not under the glob
    assert raw.delete(f"/predictions/{created['id']}").status_code == 200  # not a GET


def test_a_plain_path_is_a_prefix_on_segment_boundaries(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("status", status=503, path="/v1/predict")
    assert raw.post("/predict", json=CREATE).status_code == 503
    assert raw.post("/predictions", json=CREATE).status_code == 200  # /v1/predict is no prefix


def test_rules_match_the_model_of_a_create(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("status", status=503, model="flux-pro")
    assert raw.post("/predict", json=CREATE).status_code == 503
    other = {"model": "mera", "input": {"prompt": "hello"}}
    accepted = raw.post("/predict", json=other)
    assert accepted.status_code == 200 and accepted.json()["model"]["name"] == "mera"
    assert raw.get("/models").status_code == 200  # no body, no model: no match


def test_the_control_api_is_never_faulted(control: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("drop", path="/*")
    assert control.get("/_emulator/state").status_code == 200


def _pattern(raw: httpx.Client, emu: Emulator, seed: int) -> list[int]:
    emu.clear_faults()
    emu.add_fault("status", status=503, probability=0.5, seed=seed)
    return [raw.get("/models").status_code for _ in range(24)]


def test_probability_with_a_seed_is_reproducible(raw: httpx.Client, emu: Emulator) -> None:
    first = _pattern(raw, emu, seed=42)
    assert _pattern(raw, emu, seed=42) == first
    assert {200, 503} == set(first)  # some fired, some did not
    assert emu.faults()[0]["fired"] == first.count(503)


def test_count_limits_firing(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("status", status=500, count=3)
    assert [raw.get("/models").status_code for _ in range(5)] == [500, 500, 500, 200, 200]
    (rule,) = emu.faults()
    assert rule["fired"] == 3 and rule["remaining"] == 0


def test_first_matching_rule_wins_after_latencies(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("latency", latency_ms=1)
    emu.add_fault("status", status=502, count=1)
    emu.add_fault("status", status=503)
    assert [raw.get("/models").status_code for _ in range(2)] == [502, 503]
    assert [rule["fired"] for rule in emu.faults()] == [2, 1, 1]


# ---- control ---------------------------------------------------------------------------


def test_control_api_adds_lists_and_clears_rules(
    control: httpx.Client, raw: httpx.Client, emu: Emulator
) -> None:
    added = control.post("/_emulator/faults", json={"kind": "status", "status": 504, "count": 2})
    assert added.status_code == 200
    rule = added.json()
    assert rule["id"] and rule["kind"] == "status" and rule["remaining"] == 2
    assert raw.get("/models").status_code == 504
    listed = control.get("/_emulator/faults").json()
    assert [r["id"] for r in listed] == [rule["id"]] and listed[0]["fired"] == 1
    assert control.get("/_emulator/state").json()["faults"] == listed
    assert control.delete("/_emulator/faults").json() == {"ok": True, "cleared": 1}
    assert control.get("/_emulator/faults").json() == [] and emu.faults() == []
    assert raw.get("/models").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "explode"},
        {"kind": "status", "probability": 2},
        {"kind": "status", "count": 0},
        {"kind": "status", "status": 200},
        {"kind": "latency"},
        {"kind": "truncate", "fraction": 1},
        {"kind": "drop", "path": "v1/models"},
        {"kind": "drop", "colour": "red"},
    ],
)
def test_invalid_rules_are_refused(control: httpx.Client, body: dict[str, Any]) -> None:
    response = control.post("/_emulator/faults", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["error_id"] == "INVALID_PARAMETER"


def test_python_api_validates_too(emu: Emulator) -> None:
    with pytest.raises(ApiError, match="probability"):
        emu.add_fault("status", probability=-0.1)
    assert emu.faults() == []


def test_reset_clears_fault_rules(raw: httpx.Client, emu: Emulator) -> None:
    emu.add_fault("status", status=500)
    emu.reset()
    assert emu.faults() == [] and raw.get("/models").status_code == 200


def test_state_counts_open_connections(
    emu: Emulator, raw: httpx.Client, poll: Callable[..., Any]
) -> None:
    assert raw.get("/models").status_code == 200  # a keep-alive connection stays open
    assert emu.state()["open_connections"] >= 1
    raw.close()
    poll(emu.state, lambda state: state["open_connections"] == 0)


def _wait_for_open_connection(emulator: Emulator) -> None:
    """Until the hanging request's connection is open on the server (bounded)."""
    for _ in range(2000):
        if emulator.state()["open_connections"] >= 1 and emulator.faults()[0]["fired"] == 1:
            return
        time.sleep(0.005)
    raise AssertionError("the request never reached the server")
