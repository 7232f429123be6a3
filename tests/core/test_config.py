"""`config`: `ClientConfig` and the checks of every setting (the environment is read by the
public surface, `_clients/settings.py`; see tests/sdk/test_config.py)."""

from __future__ import annotations

import dataclasses

import pytest

import skytells
from skytells._core.config import (
    ApiKey,
    ClientConfig,
    api_key_problem,
    check_base_url,
    check_headers,
    check_max_response_bytes,
    concurrency_limit,
    non_negative_ms,
    with_changes,
)


def test_the_config_is_immutable_and_its_repr_hides_the_key() -> None:
    config = ClientConfig(api_key="sk-secret-123")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.timeout_ms = 1  # type: ignore[misc]
    assert "sk-secret-123" not in repr(config)
    assert {f.name for f in dataclasses.fields(config)}.isdisjoint({"rate_limits", "streams"})


def test_base_headers_put_the_callers_extras_under_the_key() -> None:
    headers = ClientConfig(api_key="k", headers={"X-Extra": "1", "x-api-key": "other"})
    assert headers.base_headers()["x-extra"] == "1"
    assert headers.base_headers()["x-api-key"] == "k"
    assert headers.base_headers()["accept-encoding"] == "gzip, deflate"


def test_with_changes_checks_each_setting() -> None:
    config = ClientConfig(api_key="k")
    changed = with_changes(config, max_retries=0, timeout=5, headers={"a": "b"}, await_hold=0)
    assert (changed.retry.retries, changed.timeout_ms, changed.await_hold_ms) == (0, 5.0, 0.0)
    assert changed.headers == {"a": "b"} and config.retry.retries == 2
    for bad in ({"max_retries": -1}, {"timeout": 0}, {"max_response_bytes": 0}):
        with pytest.raises(skytells.SkytellsError):
            with_changes(config, **bad)  # type: ignore[arg-type]


def test_setting_checks() -> None:
    assert check_base_url(" http://127.0.0.1:8080/v1/ ") == "http://127.0.0.1:8080/v1"
    with pytest.raises(skytells.SkytellsError):
        check_base_url("api.skytells.ai")
    assert check_max_response_bytes(10) == 10
    with pytest.raises(skytells.SkytellsError):
        check_max_response_bytes(True)  # type: ignore[arg-type]
    with pytest.raises(skytells.SkytellsError):
        non_negative_ms("await_hold", float("inf"))
    problem = api_key_problem("sk-abc\ndef")
    assert problem is not None and "position 7" in problem and "sk-abc" not in problem
    assert api_key_problem("sk-abc") is None


def test_an_api_key_never_shows_in_a_repr() -> None:
    key = ApiKey("sk-secret-123")
    assert key == "sk-secret-123" and repr(key) == "'sk-***'"
    assert "sk-secret" not in repr({"x-api-key": key})


def test_extra_headers_and_concurrency_are_checked() -> None:
    assert check_headers({"X-Team": "a b"}) == {"X-Team": "a b"}
    for bad in ({"x": "caf\u00e9"}, {"x": "1\r\n"}, {"a b": "1"}, {1: "x"}, 5):
        with pytest.raises(skytells.SkytellsError):
            check_headers(bad)
    assert concurrency_limit(None, 32) == 32 and concurrency_limit(4, 32) == 4
    for bad_limit in (0, -1, 2.5, float("nan"), "3", True):
        with pytest.raises(skytells.SkytellsError):
            concurrency_limit(bad_limit, 32)
