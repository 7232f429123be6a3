"""The API key stays secret: not in reprs, log lines, exceptions, nor sent to another host."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

import skytells._logging as sdk_logging
from skytells import AsyncSkytellsClient, SkytellsClient, SkytellsError
from skytells.emulator import Emulator
from tests.scripted_server import Reply, ScriptedServer, prediction

SECRET = "sk-live-very-secret-key-0123456789"


@pytest.fixture
def debug_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """SKYTELLS_LOG=debug for clients built in the test; the stderr handler is removed after."""
    monkeypatch.setenv("SKYTELLS_LOG", "debug")
    logger = logging.getLogger("skytells")
    level = logger.level
    yield
    if sdk_logging._handler is not None:
        logger.removeHandler(sdk_logging._handler)
        sdk_logging._handler = None
    logger.setLevel(level)


@pytest.fixture(scope="module")
def other_host() -> Iterator[ScriptedServer]:
    """A second scripted server: "another host" that redirects may point at."""
    with ScriptedServer().running() as server:
        yield server


def _everything_about(error: SkytellsError) -> str:
    return " ".join(
        str(part)
        for part in (error, repr(error), error.message, error.details, error.body, error.headers)
    )


def test_reprs_never_show_the_key(emu: Emulator) -> None:
    with SkytellsClient(SECRET, base_url=emu.base_url) as client:
        derived = client.with_options(timeout=1000)
        texts = [repr(client), repr(derived), repr(client._config), str(vars(client.predictions))]
    async_client = AsyncSkytellsClient(SECRET, base_url=emu.base_url)
    texts.append(repr(async_client))
    assert all(SECRET not in text for text in texts)


def test_errors_never_carry_the_key(emu: Emulator) -> None:
    with SkytellsClient(SECRET, base_url=emu.base_url, max_retries=0) as client:
        with pytest.raises(SkytellsError) as unauthorized:
            client.models.list()  # the emulator does not know this key: 401
        assert unauthorized.value.error_id == "UNAUTHORIZED"
        with pytest.raises(SkytellsError) as invalid:
            client.predictions.create({"model": "flux-pro", "input": {"x": object()}})
    with SkytellsClient(SECRET, base_url="http://127.0.0.1:9/v1", max_retries=0) as offline:
        with pytest.raises(SkytellsError) as unreachable:
            offline.predictions.get("abc")  # nothing listens on port 9
    for caught in (unauthorized, invalid, unreachable):
        assert SECRET not in _everything_about(caught.value)


def test_debug_log_lines_never_show_the_key(
    debug_log: None, emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.add_fault("drop", count=1)
    with SkytellsClient(emu.api_key, base_url=emu.base_url, retry={"retry_delay": 1}) as client:
        client.models.list()  # dropped once, then retried: two attempts logged
    with SkytellsClient(SECRET, base_url=emu.base_url, max_retries=0) as wrong:
        with pytest.raises(SkytellsError):
            wrong.models.list()
    logger = logging.getLogger("skytells")
    logger.debug("the key is %s, or in the message: %s", SECRET, f"x-api-key={emu.api_key}")
    logger.info("another account's key: sk-abcdefghijkl_0123")
    try:
        raise RuntimeError(f"failed with {SECRET}")
    except RuntimeError:
        logger.exception("a traceback")
    lines = capsys.readouterr().err.splitlines()
    text = "\n".join(lines)
    assert any("GET /models -> NETWORK_ERROR" in line and "(attempt 1)" in line for line in lines)
    assert any("GET /models -> 200" in line and "(attempt 2)" in line for line in lines)
    assert any("GET /models -> 401" in line for line in lines)
    assert "the key is sk-***, or in the message: x-api-key=sk-***" in text
    assert "another account's key: sk-***" in text and "failed with sk-***" in text
    assert SECRET not in text and emu.api_key not in text and "sk-abcdefghijkl" not in text


def test_log_level_comes_from_the_environment_at_construction(
    debug_log: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = logging.getLogger("skytells")
    monkeypatch.setenv("SKYTELLS_LOG", "info")
    SkytellsClient(SECRET, base_url="http://127.0.0.1:9/v1").close()
    assert logger.level == logging.INFO
    monkeypatch.setenv("SKYTELLS_LOG", "debug")
    SkytellsClient(SECRET, base_url="http://127.0.0.1:9/v1").close()
    assert logger.level == logging.DEBUG
    handlers = [h for h in logger.handlers if h is sdk_logging._handler]
    assert len(handlers) == 1  # attached once


def test_redaction_applies_to_records_of_any_handler(caplog: pytest.LogCaptureFixture) -> None:
    SkytellsClient(SECRET, base_url="http://127.0.0.1:9/v1").close()  # registers the key
    with caplog.at_level(logging.DEBUG, logger="skytells"):
        logging.getLogger("skytells").warning("%s", {"x-api-key": SECRET})
    assert SECRET not in caplog.text and "sk-***" in caplog.text


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("follow", [False, True])
def test_redirects_to_another_host_are_not_followed(
    scripted: ScriptedServer, other_host: ScriptedServer, status: int, follow: bool
) -> None:
    other_host.script(Reply(200, prediction()))
    target = f"{other_host.base_url}/predictions/pred_abc123"
    scripted.script(Reply(status, {"moved": True}, headers={"location": target}))
    # Even an http_client configured to follow redirects must not carry the key elsewhere.
    http = httpx.Client(follow_redirects=follow)
    with SkytellsClient(SECRET, base_url=scripted.base_url, http_client=http) as client:
        with pytest.raises(SkytellsError) as caught:
            client.predictions.get("pred_abc123")
    http.close()
    error = caught.value
    assert error.http_status == status and error.error_id == "HTTP_ERROR"
    assert "redirect" in error.message and target in error.message
    assert len(scripted.requests) == 1  # a redirect is definitive: not retried either
    assert other_host.requests == []
    assert SECRET not in _everything_about(error)


def test_a_redirect_on_create_is_reported_not_followed(
    scripted: ScriptedServer, other_host: ScriptedServer
) -> None:
    other_host.script(Reply(200, prediction("pending")))
    scripted.script(Reply(307, b"", headers={"location": f"{other_host.base_url}/predict"}))
    with SkytellsClient(SECRET, base_url=scripted.base_url) as client:
        with pytest.raises(SkytellsError, match="redirect"):
            client.predictions.create({"model": "flux-pro", "input": {}})
    assert other_host.requests == [] and len(scripted.requests) == 1


@pytest.mark.anyio
async def test_the_async_client_does_not_follow_redirects_either(
    scripted: ScriptedServer, other_host: ScriptedServer
) -> None:
    other_host.script(Reply(200, prediction()))
    scripted.script(Reply(302, b"", headers={"location": f"{other_host.base_url}/x"}))
    async with AsyncSkytellsClient(SECRET, base_url=scripted.base_url) as client:
        with pytest.raises(SkytellsError, match="redirect"):
            await client.predictions.get("pred_abc123")
    assert other_host.requests == []
