"""The optional per-key rate limit: headers on 2xx, 429 RATE_LIMIT_EXCEEDED with Retry-After."""

from __future__ import annotations

from typing import Any

import httpx

from skytells.emulator import Emulator
from tests.openapi_hook import response_validator_hooks


def test_limit_headers_count_down_then_429(http: httpx.Client, emu: Emulator) -> None:
    emu.configure(rate_limit=3)
    remaining = []
    for _ in range(3):
        response = http.get("/models")
        assert response.status_code == 200
        assert response.headers["x-skytells-ratelimit-limit-requests"] == "3"
        assert response.headers["x-skytells-ratelimit-window"] == "60s"
        remaining.append(response.headers["x-skytells-ratelimit-remaining-requests"])
    assert remaining == ["2", "1", "0"]
    refused = http.get("/predictions")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    body = refused.json()
    assert body["status"] is False and body["error"]["error_id"] == "RATE_LIMIT_EXCEEDED"
    assert body["error"]["http_status"] == 429
    state = emu.state()
    assert state["rate_limited"] == 1 and state["requests"] == 4


def test_limits_are_per_key_and_reset_clears_them() -> None:
    with (
        Emulator(time_scale=0, api_keys=["sk-a", "sk-b"], rate_limit=1) as emu,
        httpx.Client(base_url=emu.base_url, event_hooks=response_validator_hooks()) as client,
    ):
        assert client.get("/models", headers={"x-api-key": "sk-a"}).status_code == 200
        assert client.get("/models", headers={"x-api-key": "sk-a"}).status_code == 429
        assert client.get("/models", headers={"x-api-key": "sk-b"}).status_code == 200
        emu.reset()
        assert client.get("/models", headers={"x-api-key": "sk-a"}).status_code == 200


def test_unauthenticated_requests_do_not_spend_the_budget(
    http: httpx.Client, emu: Emulator
) -> None:
    emu.configure(rate_limit=1)
    assert http.get("/models", headers={"x-api-key": "sk-wrong"}).status_code == 401
    assert http.get("/models").status_code == 200


def test_the_window_is_configurable_and_429_says_the_exact_wait(
    http: httpx.Client, emu: Emulator, poll: Any
) -> None:
    emu.configure(rate_limit=1, rate_limit_window=0.5)
    first = http.get("/models")
    assert first.headers["x-skytells-ratelimit-window"] == "0.5s"
    refused = http.get("/models")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert 1 <= int(refused.headers["retry-after-ms"]) <= 500
    # Once the window has passed, the key has its budget again.
    poll(lambda: {"status": http.get("/models").status_code}, lambda r: r["status"] == 200)
    assert emu.config.to_json()["rate_limit_window_seconds"] == 0.5
