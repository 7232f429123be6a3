"""Unknown paths, wrong methods and the error envelope shared by every error."""

from __future__ import annotations

import httpx
import pytest


def envelope(response: httpx.Response, status: int, error_id: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"status", "response", "error"}
    assert set(body["error"]) == {"http_status", "message", "details", "error_id"}
    assert body["status"] is False and body["response"] == body["error"]["message"]
    assert body["error"]["http_status"] == status and body["error"]["error_id"] == error_id


@pytest.mark.parametrize(
    "path",
    ["/v1/nothing", "/v1/predictions/", "/v1/predictions/x/y/z", "/v2/predictions", "/", "/v1"],
)
def test_unknown_paths_are_endpoint_not_found(anon: httpx.Client, path: str) -> None:
    envelope(anon.get(path), 404, "ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/predictions"),
        ("DELETE", "/models"),
        ("GET", "/predict"),
        ("PATCH", "/predictions/some-id"),
        ("GET", "/predictions/some-id/cancel"),
        ("POST", "/models/truefusion"),
    ],
)
def test_wrong_method_is_405_in_the_envelope(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path)
    envelope(response, 405, "INVALID_REQUEST")
    assert response.headers["allow"]


def test_errors_carry_no_rate_limit_headers_but_successes_do(http: httpx.Client) -> None:
    ok = http.get("/models")
    assert ok.headers["x-skytells-ratelimit-limit-requests"] == "-"
    assert ok.headers["x-skytells-ratelimit-remaining-requests"] == "-"
    assert ok.headers["x-skytells-ratelimit-window"] == "-"
    missing = http.get("/models/nope")
    envelope(missing, 404, "MODEL_NOT_FOUND")
    assert "x-skytells-ratelimit-limit-requests" not in missing.headers


def test_405_lists_every_method_of_the_path(http: httpx.Client) -> None:
    response = http.request("PUT", "/predictions/some-id")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD"
    assert response.json()["error"]["details"] == {"allowed": "DELETE, GET, HEAD"}
