"""Client construction: key and base URL from arguments or the environment, secrecy of the key."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import skytells
from skytells import SkytellsClient
from tests.scripted_server import Reply, ScriptedServer, prediction

SECRET = "sk-secret-value-do-not-leak"


def test_key_and_base_url_from_the_environment(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYTELLS_API_KEY", SECRET)
    monkeypatch.setenv("SKYTELLS_BASE_URL", scripted.base_url)
    scripted.script(Reply(200, prediction()))
    with SkytellsClient() as client:
        client.predictions.get("p")
    assert scripted.requests[0].headers["x-api-key"] == SECRET


def test_cli_style_base_url_variable(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKYTELLS_BASE_URL", raising=False)
    monkeypatch.setenv("SKYTELLS_AI_API_URL", scripted.base_url + "/")
    with SkytellsClient("k") as client:
        assert client.base_url == scripted.base_url


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYTELLS_BASE_URL", "http://127.0.0.1:9/v1")
    with SkytellsClient("k", base_url="http://127.0.0.1:8/v1") as client:
        assert client.base_url == "http://127.0.0.1:8/v1"
    with SkytellsClient("k", {"base_url": "http://127.0.0.1:7/v1"}) as client:
        assert client.base_url == "http://127.0.0.1:7/v1"


def test_default_base_url_is_the_real_service(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SKYTELLS_BASE_URL", "SKYTELLS_AI_API_URL"):
        monkeypatch.delenv(name, raising=False)
    with SkytellsClient("k") as client:
        assert client.base_url == skytells.API_BASE_URL == "https://api.skytells.ai/v1"


def test_environment_is_read_at_construction_not_import() -> None:
    code = (
        "import os, skytells; os.environ['SKYTELLS_BASE_URL'] = 'http://127.0.0.1:5/v1'; "
        "print(skytells.SkytellsClient('k').base_url)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "http://127.0.0.1:5/v1"


def test_no_key_fails_clearly_without_sending(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKYTELLS_API_KEY", raising=False)
    with (
        SkytellsClient(base_url=scripted.base_url) as client,
        pytest.raises(skytells.AuthenticationError, match="SKYTELLS_API_KEY") as info,
    ):
        client.models.list()
    assert info.value.error_id == "UNAUTHORIZED"
    assert scripted.requests == []


@pytest.mark.parametrize("url", ["api.skytells.ai/v1", "ftp://x/v1", "", "http://"])
def test_invalid_base_url_is_refused(url: str) -> None:
    with pytest.raises(skytells.SkytellsError) as info:
        SkytellsClient("k", base_url=url or " ")
    assert info.value.error_id == "INVALID_PARAMETER"


@pytest.mark.parametrize("bad", [0, -5, "60s"])
def test_invalid_timeout_is_refused(bad: object) -> None:
    with pytest.raises(skytells.SkytellsError):
        SkytellsClient("k", timeout=bad)  # type: ignore[arg-type]


def test_key_never_appears_in_reprs_errors_or_logs(
    scripted: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    scripted.script(
        Reply(503, {"status": False, "response": "down"}),
        Reply(
            401,
            {
                "status": False,
                "response": "bad key",
                "error": {
                    "http_status": 401,
                    "message": "bad key",
                    "details": None,
                    "error_id": "UNAUTHORIZED",
                },
            },
        ),
    )
    client = SkytellsClient(SECRET, base_url=scripted.base_url, retry={"retry_delay": 1})
    with pytest.raises(skytells.AuthenticationError) as info:
        client.predictions.get("p")
    error = info.value
    texts = [
        repr(client),
        str(client),
        repr(error),
        str(error),
        str(error.details),
        str(error.body),
    ]
    texts += [repr(client._config), str(error.headers)]
    texts += [record.getMessage() for record in caplog.records]
    assert any("retrying" in t for t in texts)  # the retry was logged ...
    assert not any(SECRET in t for t in texts)  # ... without the key
    client.close()


def test_factory_and_official_client_options(scripted: ScriptedServer) -> None:
    options = skytells.ClientOptions(base_url=scripted.base_url, timeout=5000, headers={"x-a": "1"})
    client = skytells.Skytells("k", options)
    assert isinstance(client, SkytellsClient)
    scripted.script(Reply(200, prediction()))
    client.predictions.get("p")
    assert scripted.requests[0].headers["x-a"] == "1"
    assert skytells.create_client is skytells.Skytells
    client.close()
