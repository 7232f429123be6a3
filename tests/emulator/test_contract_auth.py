"""Authentication: `x-api-key` or `Authorization: Bearer`; 401 UNAUTHORIZED otherwise."""

from __future__ import annotations

import re

import httpx
import pytest

from skytells.emulator import DEFAULT_API_KEY, Emulator
from tests.openapi_hook import response_validator_hooks

V1_REQUESTS = [
    ("GET", "/models"),
    ("GET", "/models/truefusion"),
    ("GET", "/model/truefusion"),
    ("GET", "/predictions"),
    ("POST", "/predict"),
    ("POST", "/predictions"),
    ("GET", "/predictions/some-id"),
    ("GET", "/predictions/some-id/stream"),
    ("POST", "/predictions/some-id/cancel"),
    ("DELETE", "/predictions/some-id"),
    ("DELETE", "/predictions/some-id/delete"),
]


def _client(emu: Emulator, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(
        base_url=emu.base_url, headers=headers, event_hooks=response_validator_hooks()
    )


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["status"] is False
    assert body["error"]["error_id"] == "UNAUTHORIZED"
    assert body["error"]["http_status"] == 401
    assert body["response"] == body["error"]["message"]


def test_default_key_is_the_documented_development_key() -> None:
    assert DEFAULT_API_KEY == "sk-emulator-0000000000000000"
    assert not re.fullmatch(r"sk-[A-Za-z0-9]{20,}", DEFAULT_API_KEY)


def test_x_api_key_header_is_accepted(emu: Emulator) -> None:
    with _client(emu, {"x-api-key": emu.api_key}) as client:
        assert client.get("/models").status_code == 200


def test_bearer_token_is_accepted(emu: Emulator) -> None:
    with _client(emu, {"Authorization": f"Bearer {emu.api_key}"}) as client:
        assert client.get("/models").status_code == 200


@pytest.mark.parametrize(("method", "path"), V1_REQUESTS)
def test_missing_key_is_401_on_every_endpoint(emu: Emulator, method: str, path: str) -> None:
    with _client(emu, {}) as client:
        assert_unauthorized(client.request(method, path, json={"model": "truefusion"}))


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": "sk-wrong"},
        {"Authorization": "Bearer sk-wrong"},
        {"Authorization": f"Basic {DEFAULT_API_KEY}"},
        {"x-api-key": ""},
    ],
)
def test_wrong_key_is_401(emu: Emulator, headers: dict[str, str]) -> None:
    with _client(emu, headers) as client:
        response = client.get("/predictions")
    assert_unauthorized(response)


def test_configured_keys_replace_the_default() -> None:
    with (
        Emulator(time_scale=0, api_keys=["sk-one", "sk-two"]) as emu,
        _client(emu, {}) as client,
    ):
        assert emu.api_key == "sk-one" and emu.api_keys == ("sk-one", "sk-two")
        assert client.get("/models", headers={"x-api-key": "sk-two"}).status_code == 200
        assert client.get("/models", headers={"Authorization": "Bearer sk-one"}).status_code == 200
        assert_unauthorized(client.get("/models", headers={"x-api-key": DEFAULT_API_KEY}))


def test_files_need_no_key_the_control_api_does(anon: httpx.Client, emu: Emulator) -> None:
    assert_unauthorized(anon.get("/_emulator/state"))
    assert_unauthorized(anon.post("/_emulator/reset", headers={"x-api-key": "sk-wrong"}))
    assert anon.get("/_emulator/state", headers={"x-api-key": emu.api_key}).status_code == 200
    bearer = {"Authorization": f"Bearer {emu.api_key}"}
    assert anon.get("/_emulator/state", headers=bearer).status_code == 200
    response = anon.get("/files/unknown/out-0.webp")
    assert response.status_code == 404  # not 401: files are public, like a CDN
