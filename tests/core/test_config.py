"""`config`: `ClientConfig` and the checks of every setting (the environment is read by the
public surface, `_clients/settings.py`; see tests/sdk/test_config.py)."""

from __future__ import annotations

import dataclasses

import pytest

import skytells
from skytells._core.config import (
    ClientConfig,
    check_api_key,
    check_base_url,
    check_max_response_bytes,
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
    with pytest.raises(skytells.AuthenticationError) as info:
        check_api_key("sk-abc\ndef")
    assert "position 7" in info.value.message and "sk-abc" not in info.value.message
