"""What the SDK puts on the wire: headers, encoding, idempotency keys, retries (scripted server)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

import skytells
from skytells import SkytellsClient
from tests.scripted_server import Reply, ScriptedServer, prediction


def test_headers_of_every_request(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, prediction()))
    scripted_client.predictions.get("pred_abc123")
    seen = scripted.requests[0]
    assert seen.headers["x-api-key"] == "sk-test-key"
    assert seen.headers["user-agent"] == f"skytells-python/{skytells.__version__}"
    assert seen.headers["accept"] == "application/json"
    assert "authorization" not in seen.headers


@pytest.mark.parametrize(
    ("raw_id", "encoded"),
    [
        ("a b", "a%20b"),
        ("a&b=c", "a%26b%3Dc"),
        ("a/b", "a%2Fb"),
        ("../x", "..%2Fx"),
        ("é?#", "%C3%A9%3F%23"),
    ],
)
def test_path_segments_are_percent_encoded(
    scripted: ScriptedServer, scripted_client: SkytellsClient, raw_id: str, encoded: str
) -> None:
    scripted.script(Reply(200, prediction()))
    scripted_client.predictions.get(raw_id)
    scripted_client.cancel_prediction(raw_id)
    scripted_client.delete_prediction(raw_id)
    scripted_client.stream_prediction(raw_id)
    scripted_client.models.get(raw_id)
    paths = [r.path for r in scripted.requests]
    assert paths == [
        f"/v1/predictions/{encoded}",
        f"/v1/predictions/{encoded}/cancel",
        f"/v1/predictions/{encoded}/delete",
        f"/v1/predictions/{encoded}/stream",
        f"/v1/model/{encoded}",
    ]


def test_query_values_are_encoded_and_dates_accepted(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, {"data": [], "pagination": {}}))
    scripted_client.predictions.list(
        model="a&b c", since=dt.date(2026, 1, 1), until=dt.datetime(2026, 3, 16, 12), page=2
    )
    path = scripted.requests[0].path
    assert path.startswith("/v1/predictions?")
    assert "model=a%26b+c" in path or "model=a%26b%20c" in path
    assert "from=2026-01-01" in path and "to=2026-03-16" in path and "page=2" in path


def test_empty_ids_are_refused_without_a_request(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    with pytest.raises(skytells.ValidationError):
        scripted_client.predictions.get("")
    with pytest.raises(skytells.ValidationError):
        scripted_client.models.get("  ")
    assert scripted.requests == []


def test_create_sends_an_idempotency_key_reused_on_retries(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(
        Reply(503, "busy", content_type="text/plain"),
        Reply(502, "bad gateway", content_type="text/html"),
        Reply(200, {"data": [], "pagination": {"current_page": 1, "last_page": 1}}),
        Reply(200, {"data": [], "pagination": {"current_page": 1, "last_page": 1}}),
        Reply(200, prediction("pending")),
    )
    scripted_client.predictions.create({"model": "flux-pro", "input": {"prompt": "x"}})
    # A gateway's 502 may have passed the create on: it is looked for (twice: a listing may be
    # late) before it is sent again.
    assert [r.method for r in scripted.requests] == ["POST", "POST", "GET", "GET", "POST"]
    posts = [r for r in scripted.requests if r.method == "POST"]
    keys = {r.headers["idempotency-key"] for r in posts}
    bodies = {r.body for r in posts}
    assert len(keys) == 1 and len(bodies) == 1
    assert json.loads(next(iter(bodies)))["await"] is False


def test_each_logical_create_gets_its_own_key(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, prediction("pending")))
    scripted_client.predictions.create({"model": "m", "input": {}})
    scripted_client.predictions.create({"model": "m", "input": {}}, idempotency_key="mine-1")
    keys = [r.headers["idempotency-key"] for r in scripted.requests]
    assert keys[0] != keys[1] and keys[1] == "mine-1"


def test_predict_sends_exactly_the_payload_given(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, prediction()))
    payload = {"model": "flux-pro", "input": {"prompt": "x"}, "await": True, "custom": 1}
    scripted_client.predict(payload)
    assert scripted.requests[0].json() == payload
    assert scripted.requests[0].path == "/v1/predict"


def test_create_is_always_background(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, prediction("pending")))
    with pytest.warns(UserWarning, match="background"):
        scripted_client.predictions.create({"model": "m", "input": {}, "await": True})
    assert scripted.requests[0].json()["await"] is False


@pytest.mark.parametrize(
    ("status", "error_id", "attempts"),
    [
        (408, None, 3),
        (409, None, 3),
        (429, "RATE_LIMIT_EXCEEDED", 3),
        (500, "INTERNAL_ERROR", 3),
        (502, None, 3),
        (503, "SERVICE_UNAVAILABLE", 3),
        (504, "INFERENCE_TIMEOUT", 3),
        (400, "INVALID_PARAMETER", 1),
        (401, "UNAUTHORIZED", 1),
        (402, "INSUFFICIENT_CREDITS", 1),
        (403, "FORBIDDEN", 1),
        (404, "MODEL_NOT_FOUND", 1),
        (422, "INVALID_INPUT", 1),
        (451, "CONTENT_POLICY_VIOLATION", 1),
        (502, "PREDICTION_FAILED", 1),
    ],
)
def test_attempt_counts_per_status(
    scripted: ScriptedServer,
    scripted_client: SkytellsClient,
    status: int,
    error_id: str | None,
    attempts: int,
) -> None:
    body = {"status": False, "response": "x"}
    if error_id:
        body["error"] = {
            "http_status": status,
            "message": "x",
            "details": None,
            "error_id": error_id,
        }
    scripted.script(Reply(status, body))
    with pytest.raises(skytells.SkytellsError) as info:
        scripted_client.predictions.get("pred_1")
    assert info.value.http_status == status
    assert len(scripted.requests) == attempts


def test_retry_after_over_the_cap_raises_at_once(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(
        Reply(429, {"status": False, "response": "slow down"}, headers={"retry-after": "3600"})
    )
    with pytest.raises(skytells.RateLimitError) as info:
        scripted_client.predictions.get("pred_1")
    assert info.value.retry_after == 3600
    assert len(scripted.requests) == 1


def test_retry_after_is_honoured(scripted: ScriptedServer, scripted_client: SkytellsClient) -> None:
    scripted.script(
        Reply(429, {"status": False, "response": "slow down"}, headers={"retry-after-ms": "20"}),
        Reply(200, prediction()),
    )
    assert scripted_client.predictions.get("pred_abc123")["id"] == "pred_abc123"
    assert len(scripted.requests) == 2


def test_max_retries_zero_disables_retries(scripted: ScriptedServer) -> None:
    scripted.script(Reply(503, {"status": False, "response": "down"}))
    with (
        SkytellsClient("k", base_url=scripted.base_url, max_retries=0) as client,
        pytest.raises(skytells.ServerError),
    ):
        client.predictions.get("p")
    assert len(scripted.requests) == 1


def test_official_retry_options_are_accepted(scripted: ScriptedServer) -> None:
    scripted.script(Reply(500, {"status": False, "response": "down"}))
    retry = skytells.RetryOptions(retries=1, retry_delay=1, retry_on=[500])
    with (
        SkytellsClient("k", base_url=scripted.base_url, retry=retry) as client,
        pytest.raises(skytells.ServerError),
    ):
        client.predictions.get("p")
    assert len(scripted.requests) == 2


def test_with_options_shares_the_pool(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    derived = scripted_client.with_options(max_retries=0, headers={"x-extra": "1"})
    assert derived._http is scripted_client._http
    assert derived.max_retries == 0 and scripted_client.max_retries == 2
    scripted.script(Reply(200, prediction()))
    derived.predictions.get("p")
    assert scripted.requests[0].headers["x-extra"] == "1"


def test_keep_alive_reuses_one_connection(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    scripted.script(Reply(200, prediction()))
    for _ in range(5):
        scripted_client.predictions.get("p")
    from skytells._io.urllib3_transport import Urllib3Transport

    transport = scripted_client._http
    assert isinstance(transport, Urllib3Transport) and transport.connections_opened() == 1


def test_timeout_is_a_deadline_for_a_slow_server(scripted: ScriptedServer) -> None:
    scripted.script(Reply(200, prediction(), delay=1.0))
    with SkytellsClient("k", base_url=scripted.base_url, timeout=200, max_retries=0) as client:
        with pytest.raises(skytells.APITimeoutError) as info:
            client.predictions.get("p")
    assert info.value.error_id == "REQUEST_TIMEOUT"


def test_timeout_is_a_deadline_for_a_dripping_server(scripted: ScriptedServer) -> None:
    # Each byte arrives well within a per-read timeout; only a deadline on the whole exchange stops it.
    scripted.script(Reply(200, {"id": "p", "status": "succeeded", "pad": "x" * 40}, drip=0.05))
    with SkytellsClient("k", base_url=scripted.base_url, timeout=300, max_retries=0) as client:
        with pytest.raises(skytells.APITimeoutError):
            client.predictions.get("p")


@pytest.mark.anyio
async def test_async_timeout_is_a_deadline_for_a_dripping_server(scripted: ScriptedServer) -> None:
    scripted.script(Reply(200, {"id": "p", "status": "succeeded", "pad": "x" * 40}, drip=0.05))
    async with skytells.AsyncSkytellsClient(
        "k", base_url=scripted.base_url, timeout=300, max_retries=0
    ) as client:
        with pytest.raises(skytells.APITimeoutError):
            await client.predictions.get("p")


def test_timeouts_are_retried_within_the_retry_budget(scripted: ScriptedServer) -> None:
    scripted.script(Reply(200, prediction(), delay=0.6), Reply(200, prediction()))
    with SkytellsClient(
        "k", base_url=scripted.base_url, timeout=200, retry={"retry_delay": 1}
    ) as client:
        assert client.predictions.get("p")["id"] == "pred_abc123"
    assert len(scripted.requests) == 2


def test_the_rate_limit_tracker_reads_the_emulators_headers(client: Any, emu: Any) -> None:
    emu.configure(rate_limit=40)
    client.models.list()
    tracker = client._core.state.rate_limits
    assert (tracker.limit, tracker.remaining, tracker.window) == (40, 39, 60.0)
    assert client.with_options(max_retries=0)._core.state.rate_limits is tracker  # one budget
