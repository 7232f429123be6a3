"""Bad input from either side gets a clear `SkytellsError`; errors and warnings say what users need.

- ids and slugs always stay one path segment (``.`` and ``..`` are refused, never sent);
- JSON nested too deeply is an ``INVALID_JSON``/``SERVER_ERROR`` error, not a `RecursionError`;
- ``str(ValidationError)`` names each field at fault and why;
- a client-side timeout is ``REQUEST_TIMEOUT`` with ``http_status`` 408, as the official packages;
- warnings point at the caller's line, whatever the entry point, sync and async.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import skytells
from skytells import AsyncSkytellsClient, SkytellsClient
from tests.scripted_server import Reply, ScriptedServer, prediction

# ── dot segments ─────────────────────────────────────────────────────────────

SyncCall = Callable[[SkytellsClient, str], Any]
AsyncCall = Callable[[AsyncSkytellsClient, str], Awaitable[Any]]

SYNC_CALLS: dict[str, SyncCall] = {
    "get": lambda c, i: c.predictions.get(i),
    "cancel": lambda c, i: c.cancel_prediction(i),
    "delete": lambda c, i: c.delete_prediction(i),
    "wait": lambda c, i: c.wait(i),
    "models.get": lambda c, i: c.models.get(i),
}
ASYNC_CALLS: dict[str, AsyncCall] = {
    "get": lambda c, i: c.predictions.get(i),
    "cancel": lambda c, i: c.cancel_prediction(i),
    "delete": lambda c, i: c.delete_prediction(i),
    "wait": lambda c, i: c.wait(i),
    "models.get": lambda c, i: c.models.get(i),
}


@pytest.mark.parametrize("dots", [".", ".."])
@pytest.mark.parametrize("name", SYNC_CALLS)
def test_dot_segment_ids_are_refused_before_sending(
    scripted: ScriptedServer, scripted_client: SkytellsClient, name: str, dots: str
) -> None:
    scripted.script(Reply(200, prediction()))
    with pytest.raises(skytells.ValidationError) as info:
        SYNC_CALLS[name](scripted_client, dots)
    assert info.value.error_id == "INVALID_PARAMETER" and repr(dots) in info.value.message
    assert scripted.requests == []  # GET /v1, POST /v1/cancel... never reach the server


@pytest.mark.anyio
@pytest.mark.parametrize("dots", [".", ".."])
@pytest.mark.parametrize("name", ASYNC_CALLS)
async def test_dot_segment_ids_are_refused_before_sending_async(
    scripted: ScriptedServer, name: str, dots: str
) -> None:
    scripted.script(Reply(200, prediction()))
    async with AsyncSkytellsClient("sk-test-key", base_url=scripted.base_url) as client:
        with pytest.raises(skytells.ValidationError) as info:
            await ASYNC_CALLS[name](client, dots)
    assert info.value.error_id == "INVALID_PARAMETER"
    assert scripted.requests == []


@pytest.mark.parametrize(
    ("raw_id", "wire"),
    [
        ("...", "..."),
        ("a/..", "a%2F.."),
        ("../x", "..%2Fx"),
        ("%2e%2e", "%252e%252e"),
        (". .", ".%20."),
    ],
)
def test_ids_with_dots_stay_one_segment(
    scripted: ScriptedServer, scripted_client: SkytellsClient, raw_id: str, wire: str
) -> None:
    scripted.script(Reply(200, prediction()))
    scripted_client.predictions.get(raw_id)
    scripted_client.delete_prediction(raw_id)
    assert [r.path for r in scripted.requests] == [
        f"/v1/predictions/{wire}",
        f"/v1/predictions/{wire}/delete",
    ]


# ── deeply nested JSON ───────────────────────────────────────────────────────

DEEP = [b"[" * 100_000, b'{"a":' * 100_000, b'{"id": "p", "x": ' + b"[" * 100_000]


@pytest.mark.parametrize("body", DEEP, ids=["arrays", "objects", "inside a prediction"])
@pytest.mark.parametrize("status", [200, 500])
def test_deeply_nested_json_is_a_clear_error(
    scripted: ScriptedServer, scripted_client: SkytellsClient, body: bytes, status: int
) -> None:
    scripted.script(Reply(status, body))
    with pytest.raises(skytells.SkytellsError) as info:
        scripted_client.predictions.get("p")
    _check_deep_json_error(info.value, status)


@pytest.mark.anyio
@pytest.mark.parametrize("body", DEEP, ids=["arrays", "objects", "inside a prediction"])
@pytest.mark.parametrize("status", [200, 500])
async def test_deeply_nested_json_is_a_clear_error_async(
    scripted: ScriptedServer, body: bytes, status: int
) -> None:
    scripted.script(Reply(status, body))
    async with AsyncSkytellsClient(
        "sk-test-key", base_url=scripted.base_url, retry={"retries": 1, "retry_delay": 1}
    ) as client:
        with pytest.raises(skytells.SkytellsError) as info:
            await client.predictions.get("p")
    _check_deep_json_error(info.value, status)


def _check_deep_json_error(error: skytells.SkytellsError, status: int) -> None:
    assert not isinstance(error.__cause__, RecursionError)
    assert error.http_status == status and "nested too deeply" in error.message
    if status == 200:
        assert error.error_id == "INVALID_JSON"
    else:
        assert isinstance(error, skytells.ServerError) and error.error_id == "SERVER_ERROR"
    assert len(str(error)) < 2000 and len(str(error.details)) < 2000  # a snippet, bounded


# ── validation messages name the fields ──────────────────────────────────────


def test_validation_errors_name_the_field_and_the_reason(client: SkytellsClient) -> None:
    with pytest.raises(skytells.ValidationError) as info:
        client.run("mera", input={"prompt": "x", "seconds": 4})
    error = info.value
    assert str(error) == "Invalid input for model mera (seconds: 4 is not of type 'string')"
    assert error.message == "Invalid input for model mera"  # the server's text, as before
    assert error.details == {"fields": {"seconds": "4 is not of type 'string'"}}
    with pytest.raises(skytells.ValidationError) as several:
        client.predictions.create(
            {"model": "mera", "input": {"prompt": "x", "size": "9x9", "bogus": 1}}
        )
    assert "size: '9x9' is not one of" in str(several.value)
    assert "bogus: 'bogus' is not a known input of mera" in str(several.value)


@pytest.mark.anyio
async def test_validation_errors_name_the_field_and_the_reason_async(
    aclient: AsyncSkytellsClient,
) -> None:
    with pytest.raises(skytells.ValidationError) as info:
        await aclient.run("mera", input={"seconds": "4"})
    assert (
        str(info.value) == "Invalid input for model mera (prompt: 'prompt' is a required property)"
    )


@pytest.mark.parametrize(
    ("details", "shown"),
    [
        ([{"loc": ["body", "input", "seconds"], "msg": "not a string"}], "body.input.seconds"),
        ([{"field": "seconds", "message": "must be a string"}], "seconds: must be a string"),
        ("seconds must be one of 4, 8, 12", "seconds must be one of 4, 8, 12"),
        ({"seconds": "must be a string"}, "seconds: must be a string"),
    ],
)
def test_other_detail_shapes_are_named_too(
    scripted: ScriptedServer, scripted_client: SkytellsClient, details: Any, shown: str
) -> None:
    body = {"error": {"message": "Bad input", "error_id": "INVALID_INPUT", "details": details}}
    scripted.script(Reply(422, body))
    with pytest.raises(skytells.ValidationError) as info:
        scripted_client.predictions.create({"model": "mera", "input": {}})
    assert str(info.value).startswith("Bad input (") and shown in str(info.value)


# ── client-side timeouts: REQUEST_TIMEOUT, 408 ───────────────────────────────


def test_a_client_side_timeout_is_408(scripted: ScriptedServer) -> None:
    scripted.script(Reply(200, prediction(), delay=1.0))
    with SkytellsClient("k", base_url=scripted.base_url, timeout=150, max_retries=0) as client:
        with pytest.raises(skytells.APITimeoutError) as info:
            client.predictions.get("p")
    assert (info.value.error_id, info.value.http_status) == ("REQUEST_TIMEOUT", 408)


@pytest.mark.anyio
async def test_a_client_side_timeout_is_408_async(scripted: ScriptedServer) -> None:
    scripted.script(Reply(200, prediction(), delay=1.0))
    async with AsyncSkytellsClient(
        "k", base_url=scripted.base_url, timeout=150, max_retries=0
    ) as client:
        with pytest.raises(skytells.APITimeoutError) as info:
            await client.predictions.get("p")
    assert (info.value.error_id, info.value.http_status) == ("REQUEST_TIMEOUT", 408)


# ── warnings point at the caller's line ──────────────────────────────────────

AWAITING = {"model": "flux-pro", "input": {"prompt": "x"}, "await": True}


def _next_line() -> int:
    return sys._getframe(1).f_lineno + 1


def _the_warning(caught: list[warnings.WarningMessage], category: type[Warning]) -> Any:
    (found,) = [w for w in caught if issubclass(w.category, category)]
    return found


def test_the_await_warning_points_at_the_callers_line(client: SkytellsClient) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _next_line()
        created = client.predictions.create(AWAITING)
    warning = _the_warning(caught, UserWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)
    assert "ignores 'await'" in str(warning.message) and created["status"] == "pending"
    client.queue(AWAITING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _next_line()
        client.dispatch()  # another entry point: the same warning, the same attribution
    warning = _the_warning(caught, UserWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)


@pytest.mark.anyio
async def test_the_await_warning_points_at_the_callers_line_async(
    aclient: AsyncSkytellsClient,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _next_line()
        await aclient.predictions.create(AWAITING)
    warning = _the_warning(caught, UserWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)
    aclient.queue(AWAITING)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _next_line()
        await aclient.dispatch()
    warning = _the_warning(caught, UserWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)


def test_deprecation_warnings_point_at_the_callers_line(client: SkytellsClient) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _next_line()
        client.list_predictions()
    warning = _the_warning(caught, DeprecationWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)


@pytest.mark.anyio
async def test_deprecation_warnings_point_at_the_callers_line_async(
    aclient: AsyncSkytellsClient,
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _next_line()
        await aclient.list_models()
    warning = _the_warning(caught, DeprecationWarning)
    assert (warning.filename, warning.lineno) == (__file__, line)


def _deep_event_stream(scripted: ScriptedServer) -> None:
    stream = f"{scripted.base_url}/predictions/pred_abc123/stream"
    done = prediction("succeeded", output="ok")
    events = (
        "id: 1\nevent: log\ndata: " + "[" * 20_000 + "\n\n"
        "id: 2\nevent: done\ndata: " + json.dumps(done) + "\n\n"
    )
    scripted.script(
        Reply(200, prediction("processing", stream=True, urls={"stream": stream})),
        Reply(200, events, content_type="text/event-stream"),
        Reply(200, done),
    )


def test_a_deeply_nested_event_is_kept_as_text(scripted: ScriptedServer) -> None:
    _deep_event_stream(scripted)
    with SkytellsClient("sk-test-key", base_url=scripted.base_url) as client:
        events = list(client.stream("pred_abc123"))
    log = [e for e in events if e.event == "log"]
    assert [len(e.data) for e in log] == [20_000] and events[-1].event == "done"


@pytest.mark.anyio
async def test_a_deeply_nested_event_is_kept_as_text_async(scripted: ScriptedServer) -> None:
    _deep_event_stream(scripted)
    async with AsyncSkytellsClient("sk-test-key", base_url=scripted.base_url) as client:
        events = [e async for e in client.stream("pred_abc123")]
    log = [e for e in events if e.event == "log"]
    assert [len(e.data) for e in log] == [20_000] and events[-1].event == "done"
