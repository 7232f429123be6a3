"""The `skytells_emulator` pytest fixture, exercised in a separate pytest run (pytester)."""

from __future__ import annotations

import pytest

TEST_FILE = """
import httpx
import pytest


def test_without_the_fixture_no_emulator_is_imported():
    import sys
    assert "skytells.emulator._server" not in sys.modules


def test_a_real_request(skytells_emulator):
    response = httpx.post(
        skytells_emulator.base_url + "/predict",
        headers={"x-api-key": skytells_emulator.api_key},
        json={"model": "flux-edge", "input": {"prompt": "x"}, "await": True},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


def test_state_is_reset_between_tests(skytells_emulator):
    assert skytells_emulator.predictions() == []


@pytest.mark.skytells_emulator(time_scale=0.5, rate_limit=7)
def test_marker_configures(skytells_emulator):
    assert skytells_emulator.config.time_scale == 0.5
    assert skytells_emulator.config.rate_limit == 7


def test_the_marker_does_not_leak(skytells_emulator):
    assert skytells_emulator.config.time_scale == 0.25
    assert skytells_emulator.config.rate_limit is None

"""


def test_fixture_in_a_user_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nskytells_emulator_time_scale = 0.25\n")
    pytester.makepyfile(test_user=TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


ANYIO_CONFTEST = """
import pytest


@pytest.fixture
def anyio_backend():
    return "asyncio"
"""

APPLICATION_TEST_FILE = """
import os

import pytest

from skytells import AsyncSkytellsClient, SkytellsClient, SkytellsError

REAL_KEY = "sk-real-0123456789abcdef"
CLIENTS = []


def make_thumbnail():  # application code: it builds its client from the environment
    with SkytellsClient() as client:
        return client.run("truefusion", input={"prompt": "a thumbnail"})


def test_application_code_talks_to_the_emulator(skytells_emulator):
    assert os.environ["SKYTELLS_BASE_URL"] == skytells_emulator.base_url
    assert os.environ["SKYTELLS_API_KEY"] == skytells_emulator.api_key
    assert "SKYTELLS_AI_API_URL" not in os.environ
    prediction = make_thumbnail()
    assert prediction.status == "succeeded"
    assert [p["id"] for p in skytells_emulator.predictions()] == [prediction.id]


def test_the_environment_is_restored_after_the_test():
    assert os.environ["SKYTELLS_API_KEY"] == REAL_KEY
    assert "SKYTELLS_BASE_URL" not in os.environ
    assert os.environ["SKYTELLS_AI_API_URL"] == "http://127.0.0.1:9/v1"


def test_monkeypatch_of_the_test_undone_in_order(monkeypatch, skytells_emulator):
    monkeypatch.setenv("SKYTELLS_API_KEY", "sk-set-by-the-test-000")


def test_still_restored():
    assert os.environ["SKYTELLS_API_KEY"] == REAL_KEY
    assert "SKYTELLS_BASE_URL" not in os.environ


def test_the_sync_client_fixture(skytells_client, skytells_emulator):
    prediction = skytells_client.run("flux-edge", input={"prompt": "x"})
    assert skytells_emulator.predictions()[0]["id"] == prediction.id
    CLIENTS.append(skytells_client)


@pytest.mark.anyio
async def test_the_async_client_fixture(async_skytells_client, skytells_emulator):
    prediction = await async_skytells_client.run("flux-edge", input={"prompt": "x"})
    assert skytells_emulator.predictions()[0]["id"] == prediction.id
    CLIENTS.append(async_skytells_client)


def test_both_clients_were_closed_after_their_tests():
    import gc

    sync_client, async_client = CLIENTS
    CLIENTS.clear()
    with pytest.raises(SkytellsError) as info:
        sync_client.models.list()
    assert info.value.error_id == "CLIENT_CLOSED"
    del sync_client, async_client
    gc.collect()  # an unclosed aiohttp session or socket warns here: an error under -W error
"""

UNCLOSED_TEST_FILE = """
import gc
import socket
from urllib.parse import urlsplit

LEAKED = []


def test_a_leaked_socket(skytells_emulator):
    LEAKED.append(socket.create_connection(("127.0.0.1", urlsplit(skytells_emulator.base_url).port)))


def test_collects_it():
    LEAKED.clear()
    gc.collect()
"""


def test_the_fixture_points_application_code_at_the_emulator(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A developer with a real key exported, and the CLI's variable aimed at a dead port: a
    # request that escaped the emulator would fail (or, in real life, be paid for).
    monkeypatch.setenv("SKYTELLS_API_KEY", "sk-real-0123456789abcdef")
    monkeypatch.delenv("SKYTELLS_BASE_URL", raising=False)
    monkeypatch.setenv("SKYTELLS_AI_API_URL", "http://127.0.0.1:9/v1")
    pytester.makeconftest(ANYIO_CONFTEST)
    pytester.makepyfile(test_app=APPLICATION_TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=7)


def test_the_closing_check_catches_an_unclosed_client(pytester: pytest.Pytester) -> None:
    """The check above can fail: a client left open is an error in the test that collects it."""
    pytester.makeconftest(ANYIO_CONFTEST)
    pytester.makepyfile(test_unclosed=UNCLOSED_TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1, failed=1)
    assert "unclosed <socket.socket" in result.stdout.str()


ISOLATION_TEST_FILE = """
import os

import pytest

import skytells

EARLY = []


def test_application_code_built_the_default_client_first():
    EARLY.append(skytells.default_client())  # the real key and URL of the environment


def test_the_default_client_is_the_emulators_inside(skytells_emulator):
    prediction = skytells.run("flux-edge", input={"prompt": "x"})
    assert [p["id"] for p in skytells_emulator.predictions()] == [prediction.id]
    assert skytells.default_client() is not EARLY[0]


def test_and_forgotten_after_it():
    client = skytells.default_client()  # built anew from the restored environment
    assert client is not EARLY[0]
    assert os.environ["SKYTELLS_API_KEY"] == "sk-real-0123456789abcdef"


def test_a_proxy_of_the_environment_is_bypassed(skytells_emulator):
    host = skytells_emulator.base_url.split("//")[1].split(":")[0]
    assert host in os.environ["NO_PROXY"].split(",") and host in os.environ["no_proxy"]
    assert "localhost" in os.environ["NO_PROXY"]  # the developer's entries stay
    with skytells.SkytellsClient() as client:
        assert client.run("flux-edge", input={"prompt": "x"}).status == "succeeded"


@pytest.mark.anyio
@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
async def test_async_clients_bypass_it_too(skytells_emulator, monkeypatch, backend):
    monkeypatch.setenv("SKYTELLS_ASYNC_HTTP", backend)
    async with skytells.AsyncSkytellsClient() as client:
        assert (await client.run("flux-edge", input={"prompt": "x"})).status == "succeeded"


def test_no_proxy_is_restored():
    assert os.environ["NO_PROXY"] == "localhost" and "no_proxy" not in os.environ
"""


def test_the_fixture_isolates_the_default_client_and_bypasses_proxies(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A developer with a real key, the real service's address, and a proxy for everything:
    # a request that escaped the emulator, or went through the proxy, would fail.
    monkeypatch.setenv("SKYTELLS_API_KEY", "sk-real-0123456789abcdef")
    monkeypatch.setenv("SKYTELLS_BASE_URL", "http://127.0.0.1:9/v1")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SKYTELLS_ASYNC_HTTP"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "localhost")
    pytester.makeconftest(ANYIO_CONFTEST)
    pytester.makepyfile(test_isolation=ISOLATION_TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=7)
