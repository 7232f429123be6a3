"""`SKYTELLS_LOG`: the level's spellings, unknown values said once, and the debug lines of the
long requests (the event stream a wait holds open, `stream()`, downloads), key never shown."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import skytells._logging as sdk_logging
from skytells import AsyncSkytellsClient, NotFoundError, SkytellsClient

DEAD = "http://127.0.0.1:9/v1"  # clients built here send nothing
KEY = "sk-test-logging-0123456789"


@pytest.fixture
def clean_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[logging.Logger]:
    """The `skytells` logger as it was after the test, the SDK's stderr handler removed."""
    logger = logging.getLogger("skytells")
    level = logger.level
    monkeypatch.setattr(sdk_logging, "_warned", set())
    yield logger
    if sdk_logging._handler is not None:
        logger.removeHandler(sdk_logging._handler)
        sdk_logging._handler = None
    logger.setLevel(level)


@pytest.mark.parametrize(
    ("value", "level"),
    [
        ("debug", logging.DEBUG),
        ("DEBUG", logging.DEBUG),
        ("Debug", logging.DEBUG),
        (" info\n", logging.INFO),
        ("warning", logging.WARNING),
        ("WARN", logging.WARNING),
        ("error", logging.ERROR),
        ("critical", logging.CRITICAL),
        ("10", logging.DEBUG),
        ("20", logging.INFO),
    ],
)
def test_common_spellings_of_a_level(
    clean_logging: logging.Logger, monkeypatch: pytest.MonkeyPatch, value: str, level: int
) -> None:
    monkeypatch.setenv("SKYTELLS_LOG", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a known spelling warns of nothing
        SkytellsClient(KEY, base_url=DEAD).close()
    assert clean_logging.level == level
    assert sdk_logging._handler is not None and sdk_logging._handler.level == level


def test_the_latest_clients_setting_applies(
    clean_logging: logging.Logger,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SKYTELLS_LOG", "debug")
    SkytellsClient(KEY, base_url=DEAD).close()
    clean_logging.debug("while on")
    monkeypatch.setenv("SKYTELLS_LOG", "off")  # a later client: logging stops
    SkytellsClient(KEY, base_url=DEAD).close()
    clean_logging.debug("after off")
    assert sdk_logging._handler is None and not clean_logging.isEnabledFor(logging.DEBUG)
    monkeypatch.delenv("SKYTELLS_LOG")  # unset: changes nothing
    SkytellsClient(KEY, base_url=DEAD).close()
    monkeypatch.setenv("SKYTELLS_LOG", "info")  # and on again
    SkytellsClient(KEY, base_url=DEAD).close()
    clean_logging.info("on again")
    err = capsys.readouterr().err
    assert "while on" in err and "after off" not in err and "on again" in err


@pytest.mark.parametrize("value", ["", "off", "OFF", "none", "0"])
def test_off_attaches_nothing_and_says_nothing(
    clean_logging: logging.Logger, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SKYTELLS_LOG", value)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SkytellsClient(KEY, base_url=DEAD).close()
    assert sdk_logging._handler is None


def test_an_unknown_value_is_said_once_at_the_callers_line(
    clean_logging: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYTELLS_LOG", "verbose")
    with pytest.warns(RuntimeWarning, match=r"SKYTELLS_LOG='verbose' is not a log level") as seen:
        SkytellsClient(KEY, base_url=DEAD).close()
    assert [Path(w.filename).name for w in seen] == ["test_logging.py"]
    assert sdk_logging._handler is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same value again: said already
        SkytellsClient(KEY, base_url=DEAD).close()
        AsyncSkytellsClient(KEY, base_url=DEAD)
    monkeypatch.setenv("SKYTELLS_LOG", "\x1b[31mtrace")  # another value, escaped when shown
    with pytest.warns(RuntimeWarning) as seen:
        AsyncSkytellsClient(KEY, base_url=DEAD)
    (warning,) = seen
    assert "\x1b" not in str(warning.message) and "\\x1b[31mtrace" in str(warning.message)


STARTED = re.compile(r"^GET (\S+): (event stream|download) started$")
ENDED = re.compile(
    r"^GET (\S+) -> HTTP (\d+): (event stream|download) ended after [\d.]+ ms, (\d+) bytes"
    r"(?:, (\d+) events)? \((.*)\)$"
)


def _long_requests(caplog: pytest.LogCaptureFixture, kind: str) -> list[re.Match[str]]:
    """The start and end lines of ``kind``, in order, checked to pair up."""
    lines = [r.getMessage() for r in caplog.records if r.name == "skytells"]
    matches = [m for line in lines if (m := STARTED.match(line) or ENDED.match(line))]
    matches = [m for m in matches if kind in m.groups()]
    assert matches and len(matches) % 2 == 0, lines
    for start, end in zip(matches[::2], matches[1::2], strict=True):
        assert STARTED.match(start.string) and ENDED.match(end.string)
        assert start.group(1) == end.group(1)
    return matches


def _check_stream_log(caplog: pytest.LogCaptureFixture, emu: Any, prediction_id: str) -> None:
    start, end = _long_requests(caplog, "event stream")[-2:]
    assert start.group(1) == f"{emu.base_url}/predictions/{prediction_id}/stream"
    assert end.group(2) == "200"
    assert int(end.group(4)) > 0 and int(end.group(5)) >= 2  # status events, then done
    assert end.group(6) == "done event, prediction succeeded"
    assert emu.api_key not in caplog.text


def test_a_wait_logs_its_event_stream(
    client: SkytellsClient, emu: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emu.configure(time_scale=0.05)
    created = client.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    with caplog.at_level(logging.DEBUG, logger="skytells"):
        assert client.wait(created)["status"] == "succeeded"
    _check_stream_log(caplog, emu, created["id"])


@pytest.mark.anyio
async def test_an_async_wait_logs_its_event_stream(
    aclient: AsyncSkytellsClient, emu: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emu.configure(time_scale=0.05)
    created = await aclient.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    with caplog.at_level(logging.DEBUG, logger="skytells"):
        assert (await aclient.wait(created))["status"] == "succeeded"
    _check_stream_log(caplog, emu, created["id"])


def test_stream_logs_its_get(
    client: SkytellsClient, emu: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emu.configure(time_scale=0.05)
    created = client.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    with caplog.at_level(logging.DEBUG, logger="skytells"), client.stream(created) as events:
        assert [e for e in events if e.terminal][-1].status == "succeeded"
    _check_stream_log(caplog, emu, created["id"])


def test_leaving_a_stream_early_logs_it_abandoned(
    client: SkytellsClient, emu: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emu.configure(time_scale=0.05)
    created = client.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    with caplog.at_level(logging.DEBUG, logger="skytells"), client.stream(created) as events:
        assert next(iter(events)).event == "status"
    url = f"{emu.base_url}/predictions/{created['id']}/stream"
    lines = [
        r.getMessage() for r in caplog.records if r.name == "skytells" and url in r.getMessage()
    ]
    assert lines[0] == f"GET {url}: event stream started"
    assert re.fullmatch(rf"GET {re.escape(url)}: event stream abandoned after \d+ bytes", lines[-1])


@pytest.mark.anyio
async def test_async_stream_logs_its_get(
    aclient: AsyncSkytellsClient, emu: Any, caplog: pytest.LogCaptureFixture
) -> None:
    emu.configure(time_scale=0.05)
    created = await aclient.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    with caplog.at_level(logging.DEBUG, logger="skytells"):
        async with aclient.stream(created) as events:
            assert [e async for e in events if e.terminal][-1].status == "succeeded"
    _check_stream_log(caplog, emu, created["id"])


def _check_download_log(
    caplog: pytest.LogCaptureFixture, paths: list[Path], urls: list[str]
) -> None:
    matches = _long_requests(caplog, "download")
    assert [m.group(1) for m in matches[::2]] == urls
    ends = matches[1::2]
    assert [int(m.group(4)) for m in ends] == [p.stat().st_size for p in paths]
    assert all(m.group(2) == "200" and m.group(6) == "saved" for m in ends)


def test_saving_logs_each_download(
    client: SkytellsClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    prediction = client.run("truefusion", input={"prompt": "x", "num_outputs": 2})
    with caplog.at_level(logging.DEBUG, logger="skytells"):
        paths = prediction.save(tmp_path)
    _check_download_log(caplog, paths, prediction.outputs())


@pytest.mark.anyio
async def test_async_saving_logs_each_download(
    aclient: AsyncSkytellsClient, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    prediction = await aclient.run("truefusion", input={"prompt": "x", "num_outputs": 2})
    with caplog.at_level(logging.DEBUG, logger="skytells"):
        paths = await prediction.save(tmp_path)
    _check_download_log(caplog, paths, prediction.outputs())


def test_a_failed_download_logs_its_status(
    client: SkytellsClient, emu: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    prediction = client.run("flux-edge", input={"prompt": "x"})
    prediction.delete()  # its files go with it: 404
    with caplog.at_level(logging.DEBUG, logger="skytells"), pytest.raises(NotFoundError):
        prediction.save(tmp_path)
    _, end = _long_requests(caplog, "download")[:2]
    assert end.group(2) == "404" and end.group(4) == "0" and end.group(6) == "not saved"
