"""A key with stray characters: stripped or refused at once, never shown (exceptions, CLI, logs).

A key read from a file or a CRLF ``.env`` ends with ``\\n`` or ``\\r\\n``: it is stripped and
works. A key with a control or non-ASCII character inside cannot be a header value: it is refused
when the client is built, with an `AuthenticationError` whose text never holds the key, and no
request is sent. No log record of any logger (httpx and httpcore at debug level included) shows
the key, on success or failure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from skytells import AsyncSkytellsClient, AuthenticationError, SkytellsClient, SkytellsError
from skytells.cli import main
from tests.scripted_server import Reply, ScriptedServer

SECRET = "sk-live-hygiene-secret-0123456789abcdef"

STRAY = ["\n", "\r\n", " ", "\t", " \r\n"]
"""What a file, a CRLF .env or a copy and paste leaves around a key."""

BROKEN = {
    "newline inside": SECRET[:20] + "\n" + SECRET[20:],
    "carriage return inside": SECRET[:20] + "\r" + SECRET[20:],
    "NUL": SECRET[:20] + "\x00" + SECRET[20:],
    "escape": SECRET[:20] + "\x1b" + SECRET[20:],
    "DEL": SECRET[:20] + "\x7f" + SECRET[20:],
    "non-ASCII": SECRET[:20] + "é" + SECRET[20:],
    "non-breaking space": SECRET[:20] + "\u00a0" + SECRET[20:],
    "space inside": SECRET[:20] + " " + SECRET[20:],
}


def _everything_about(error: SkytellsError) -> str:
    return " ".join(
        str(part)
        for part in (error, repr(error), error.message, error.details, error.body, error.headers)
    )


def _shows_the_key(text: str, key: str) -> bool:
    """Whether ``text`` shows ``key`` or a telling part of it (either half)."""
    clean = key.strip()
    return any(part in text for part in (clean, clean[: len(clean) // 2], clean[len(clean) // 2 :]))


@pytest.fixture
def all_debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG (the root, httpx, httpcore, the SDK), captured; caplog restores
    each level afterwards."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "skytells"):
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def _logged_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts.append(record.getMessage())
        if record.exc_text:
            parts.append(record.exc_text)
    return "\n".join(parts)


# ── stray whitespace: stripped, the key works ────────────────────────────────


@pytest.mark.parametrize("stray", STRAY, ids=repr)
def test_a_key_with_stray_whitespace_works_sync(
    emu: Any, stray: str, all_debug_logs: pytest.LogCaptureFixture
) -> None:
    with SkytellsClient(emu.api_key + stray, base_url=emu.base_url, max_retries=0) as client:
        models = client.models.list()
        prediction = client.run("flux-pro", input={"prompt": "x"})
    assert models and prediction.status == "succeeded"
    assert any("/models" in r.getMessage() for r in all_debug_logs.records)  # logs were on
    assert emu.api_key not in _logged_text(all_debug_logs)


@pytest.mark.anyio
@pytest.mark.parametrize("stray", STRAY, ids=repr)
async def test_a_key_with_stray_whitespace_works_async(
    emu: Any, stray: str, all_debug_logs: pytest.LogCaptureFixture
) -> None:
    async with AsyncSkytellsClient(
        stray + emu.api_key + stray, base_url=emu.base_url, max_retries=0
    ) as client:
        models = await client.models.list()
        prediction = await client.run("flux-pro", input={"prompt": "x"})
    assert models and prediction.status == "succeeded"
    assert emu.api_key not in _logged_text(all_debug_logs)


def test_a_key_from_a_crlf_env_file_works(emu: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYTELLS_API_KEY", emu.api_key + "\r\n")
    with SkytellsClient(base_url=emu.base_url, max_retries=0) as client:
        assert client.models.list()


def test_a_blank_key_is_no_key(scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SKYTELLS_API_KEY", raising=False)
    with SkytellsClient(" \r\n", base_url=scripted.base_url) as client:
        with pytest.raises(AuthenticationError, match="No API key"):
            client.models.list()
    assert scripted.requests == []


# ── broken keys: refused at once, never shown ────────────────────────────────


@pytest.mark.parametrize("key", BROKEN.values(), ids=BROKEN.keys())
def test_a_broken_key_is_refused_at_construction_sync(
    scripted: ScriptedServer, key: str, all_debug_logs: pytest.LogCaptureFixture
) -> None:
    scripted.script(Reply(200, []))
    with pytest.raises(AuthenticationError) as info:
        with SkytellsClient(key, base_url=scripted.base_url) as client:
            client.models.list()
    error = info.value
    assert error.error_id == "UNAUTHORIZED" and "API key" in error.message
    assert "U+" in error.message  # names the character, not the key
    assert not _shows_the_key(_everything_about(error), key)
    assert scripted.requests == []  # nothing sent, nothing retried
    assert not _shows_the_key(_logged_text(all_debug_logs), key)


@pytest.mark.anyio
@pytest.mark.parametrize("key", BROKEN.values(), ids=BROKEN.keys())
async def test_a_broken_key_is_refused_at_construction_async(
    scripted: ScriptedServer, key: str, all_debug_logs: pytest.LogCaptureFixture
) -> None:
    scripted.script(Reply(200, []))
    with pytest.raises(AuthenticationError) as info:
        async with AsyncSkytellsClient(key, base_url=scripted.base_url) as client:
            await client.models.list()
    assert info.value.error_id == "UNAUTHORIZED"
    assert not _shows_the_key(_everything_about(info.value), key)
    assert scripted.requests == []
    assert not _shows_the_key(_logged_text(all_debug_logs), key)


def test_a_broken_key_from_the_environment_is_refused(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYTELLS_API_KEY", BROKEN["non-ASCII"])
    with pytest.raises(AuthenticationError) as info:
        SkytellsClient(base_url=scripted.base_url)
    assert not _shows_the_key(_everything_about(info.value), SECRET)


# ── the command line ─────────────────────────────────────────────────────────


def test_the_cli_works_with_a_stray_newline_and_never_prints_a_broken_key(
    emu: Any, scripted: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--api-key", emu.api_key + "\n", "--base-url", emu.base_url, "models", "list"])
    out, err = capsys.readouterr()
    assert code == 0 and "truefusion" in out
    for key in (BROKEN["non-ASCII"], BROKEN["newline inside"]):
        code = main(["--api-key", key, "--base-url", scripted.base_url, "models", "list"])
        out, err = capsys.readouterr()
        assert code == 1 and err.startswith("error: UNAUTHORIZED:")
        assert "--api-key" in err and "network" not in err  # the right hint
        assert not _shows_the_key(out + err, key)
    assert scripted.requests == []


# ── logs of every library, on a normal request too ───────────────────────────


def test_no_log_record_of_any_logger_shows_the_key(
    emu: Any, all_debug_logs: pytest.LogCaptureFixture
) -> None:
    with SkytellsClient(emu.api_key, base_url=emu.base_url) as client:  # a normal request
        client.models.list()
    with SkytellsClient(emu.api_key + "\n", base_url=emu.base_url) as client:
        client.predictions.create({"model": "flux-pro", "input": {"prompt": "x"}})
    # Whatever a library logs about the request, in any logger, is redacted as it is created.
    logging.getLogger("httpcore.http11").debug("headers=%r", [(b"x-api-key", emu.api_key)])
    logging.getLogger("some.library").warning("failed with key %s", emu.api_key)
    try:
        raise RuntimeError(f"Illegal header value {emu.api_key!r}")
    except RuntimeError:
        logging.getLogger("httpx").exception("request failed")
    text = _logged_text(all_debug_logs)
    assert '"GET /v1/models' in text  # the HTTP library's (urllib3's) own lines were captured
    assert "Starting new HTTP connection" in text
    assert "sk-***" in text and "request failed" in text
    assert emu.api_key not in text


def test_a_traceback_with_locals_never_shows_the_key(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import traceback

    # A refused key from the environment: not in any frame's locals of the SDK.
    monkeypatch.setenv("SKYTELLS_API_KEY", "sk-REFUSEDSECRET\x1bX")
    with pytest.raises(AuthenticationError) as refused:
        SkytellsClient()
    text = "".join(
        traceback.TracebackException.from_exception(refused.value, capture_locals=True).format()
    )
    assert "REFUSEDSECRET" not in text
    # A valid key: a failed request's locals (the headers sent) show it as sk-***.
    monkeypatch.delenv("SKYTELLS_API_KEY")
    scripted.script(Reply(503, {"error": {"message": "down"}}))
    with SkytellsClient("sk-VALIDSECRET123", base_url=scripted.base_url, max_retries=0) as client:
        with pytest.raises(SkytellsError) as failed:
            client.models.list()
        assert "VALIDSECRET" not in repr(client._config)
    text = "".join(
        traceback.TracebackException.from_exception(failed.value, capture_locals=True).format()
    )
    assert "VALIDSECRET" not in text


def test_repr_of_a_client_whose_construction_failed_is_safe() -> None:
    client = SkytellsClient.__new__(SkytellsClient)
    assert repr(client) == "SkytellsClient(base_url=None)"
