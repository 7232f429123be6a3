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
from skytells import AsyncSkytellsClient, CreateOutcomeUnknownError, SkytellsClient, SkytellsError
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


# ── What an outsider's attack found (second round) ─────────────────────────────────────────


def _in_progress_now() -> Reply:
    return Reply(
        409,
        {"error": {"message": "in progress", "error_id": "IDEMPOTENCY_REQUEST_IN_PROGRESS"}},
        headers={"retry-after": "0"},
    )


def test_a_409_in_progress_with_retry_after_0_is_asked_again_at_the_backoffs_pace(
    scripted: ScriptedServer,
) -> None:
    scripted.script(_in_progress_now())
    retry = {"retries": 2, "retry_delay": 100, "max_delay": 400}
    with SkytellsClient(
        "sk-test", base_url=scripted.base_url, timeout=1000, await_hold=500, retry=retry
    ) as client:
        with pytest.raises(CreateOutcomeUnknownError):
            client.run("flux-pro", {"prompt": "x"})
    posts = [r for r in scripted.requests if r.method == "POST"]
    assert 2 <= len(posts) <= 20  # 1.5 s at >= 0.1 s, doubling: a handful, never thousands


@pytest.mark.anyio
async def test_async_a_409_in_progress_with_retry_after_0_is_paced(
    scripted: ScriptedServer,
) -> None:
    scripted.script(_in_progress_now())
    retry = {"retries": 2, "retry_delay": 100, "max_delay": 400}
    async with AsyncSkytellsClient(
        "sk-test", base_url=scripted.base_url, timeout=1000, await_hold=500, retry=retry
    ) as client:
        with pytest.raises(CreateOutcomeUnknownError):
            await client.run("flux-pro", {"prompt": "x"})
    assert 2 <= len([r for r in scripted.requests if r.method == "POST"]) <= 20


@pytest.mark.parametrize("concurrency", [float("nan"), 0, -1, "3", 2.5, float("inf")])
def test_a_bad_concurrency_is_refused_before_anything_is_sent(
    scripted: ScriptedServer, concurrency: Any
) -> None:
    with SkytellsClient("sk-test", base_url=scripted.base_url) as client:
        client.queue({"model": "flux-edge", "input": {"prompt": "x"}})
        with pytest.raises(SkytellsError) as caught:
            client.dispatch(concurrency=concurrency)
        assert caught.value.error_id == "INVALID_PARAMETER"
        with pytest.raises(SkytellsError):
            client.run_many([{"model": "flux-edge", "input": {}}], concurrency=concurrency)
        assert client.queued == 1
    assert scripted.requests == []


@pytest.mark.anyio
async def test_async_a_bad_concurrency_is_refused_before_anything_is_sent(
    scripted: ScriptedServer,
) -> None:
    async with AsyncSkytellsClient("sk-test", base_url=scripted.base_url) as client:
        client.queue({"model": "flux-edge", "input": {"prompt": "x"}})
        for bad in (float("nan"), -1, "3"):
            with pytest.raises(SkytellsError):
                await client.dispatch(concurrency=bad)  # type: ignore[arg-type]
            with pytest.raises(SkytellsError):
                client.run_many([{"model": "flux-edge", "input": {}}], concurrency=bad)  # type: ignore[arg-type]
    assert scripted.requests == []


@pytest.mark.parametrize(
    ("progress", "shown"),
    [(1 * 10**400, None), ("0.5", None), ([1], None), (True, None), (None, None), (55, 55.0)],
)
def test_progress_the_server_sends_is_a_finite_float_or_left_out(
    scripted: ScriptedServer, progress: Any, shown: float | None
) -> None:
    running = prediction("processing", metrics={"progress": progress})
    scripted.script(Reply(body=running), Reply(body=prediction("succeeded")))
    seen: list[Any] = []
    with SkytellsClient("sk-test", base_url=scripted.base_url) as client:
        client.wait("pred_abc123", {"interval": 10}, on_progress=seen.append)
    first = seen[0].get("metrics", {})
    assert first.get("progress") == shown
    assert shown is None or type(first["progress"]) is float


@pytest.mark.anyio
async def test_async_a_huge_progress_is_no_progress(scripted: ScriptedServer) -> None:
    body = b'{"id":"pred_abc123","status":"processing","metrics":{"progress":1' + b"0" * 400 + b"}}"
    scripted.script(Reply(body=body), Reply(body=prediction("succeeded")))
    seen: list[Any] = []
    async with AsyncSkytellsClient("sk-test", base_url=scripted.base_url) as client:
        done = await client.wait("pred_abc123", {"interval": 10}, on_progress=seen.append)
    assert done["status"] == "succeeded" and "progress" not in seen[0]["metrics"]


@pytest.mark.parametrize(
    "options",
    [
        {"interval": 10**400},
        {"max_wait": -(10**400)},
        "notadict",
        [("interval", 5)],
        {"intervl": 5},
    ],
)
def test_wait_options_that_are_no_numbers_of_ms_are_refused(
    scripted: ScriptedServer, options: Any
) -> None:
    with SkytellsClient("sk-test", base_url=scripted.base_url) as client:
        for call in (
            lambda: client.wait("pred_abc123", options),
            lambda: client.wait_many(["pred_abc123"], options),
            lambda: list(client.run_many([{"model": "m", "input": {}}], options=options)),
        ):
            with pytest.raises(SkytellsError) as caught:
                call()
            assert caught.value.error_id == "INVALID_PARAMETER"
    assert scripted.requests == []


def test_a_max_wait_too_large_for_a_float_is_no_limit(scripted: ScriptedServer) -> None:
    scripted.script(Reply(body=prediction("succeeded")))
    with SkytellsClient("sk-test", base_url=scripted.base_url) as client:
        assert client.wait("pred_abc123", {"max_wait": 10**400})["status"] == "succeeded"


def test_a_key_the_server_echoes_back_never_reaches_the_error(scripted: ScriptedServer) -> None:
    key = "sk-echoed0123456789"
    scripted.script(
        Reply(
            401,
            {
                "error": {
                    "message": f"bad key {key}",
                    "error_id": "UNAUTHORIZED",
                    "details": {"key": key},
                }
            },
        )
    )
    with SkytellsClient(key, base_url=scripted.base_url) as client:
        with pytest.raises(SkytellsError) as caught:
            client.models.list()
    error = caught.value
    assert key not in str(error) and key not in repr(error) and key not in str(error.details)
    assert key not in str(error.body) and "sk-***" in str(error)


@pytest.mark.parametrize("error_id", [{"x": 1}, ["A"], "two words", "\x1b[2J", "A" * 65])
def test_an_error_id_that_is_no_identifier_gives_way_to_the_status(
    scripted: ScriptedServer, error_id: Any
) -> None:
    scripted.script(Reply(429, {"error": {"message": "slow down", "error_id": error_id}}))
    with SkytellsClient("sk-test", base_url=scripted.base_url, max_retries=0) as client:
        with pytest.raises(SkytellsError) as caught:
            client.models.list()
    assert caught.value.error_id == "RATE_LIMIT_EXCEEDED"


@pytest.mark.parametrize(
    "headers", [{"x-team": "café"}, {"x-a": "1\r\nx-b: 2"}, {"bad name": "1"}, 5]
)
def test_bad_extra_headers_are_refused_at_construction(headers: Any) -> None:
    with pytest.raises(SkytellsError) as caught:
        SkytellsClient("sk-test", headers=headers)
    assert caught.value.error_id == "INVALID_PARAMETER"
    with SkytellsClient("sk-test") as client, pytest.raises(SkytellsError):
        client.with_options(headers=headers)


@pytest.mark.anyio
async def test_a_request_id_that_is_not_utf8_can_always_be_printed(
    scripted: ScriptedServer,
) -> None:
    # Latin-1 on the wire: b"r\xe9q-\xff" is no UTF-8 (aiohttp keeps such bytes as surrogates).
    scripted.script(Reply(422, {"error": {"message": "bad"}}, headers={"x-request-id": "réq-ÿ"}))
    async with AsyncSkytellsClient("sk-test", base_url=scripted.base_url, max_retries=0) as client:
        with pytest.raises(SkytellsError) as caught:
            await client.models.list()
    assert caught.value.request_id == "réq-ÿ"  # as the other paths read it
    str(caught.value).encode("utf-8")  # never a lone surrogate
    json.dumps({"request_id": caught.value.request_id}).encode("utf-8")


def test_a_redirects_credentials_stay_out_of_the_error(scripted: ScriptedServer) -> None:
    scripted.script(Reply(302, "", headers={"location": "http://user:s3cret@127.0.0.1:9/v1/x"}))
    with SkytellsClient("sk-test", base_url=scripted.base_url, max_retries=0) as client:
        with pytest.raises(SkytellsError) as caught:
            client.models.list()
    assert "s3cret" not in str(caught.value) and "s3cret" not in str(caught.value.details)
    assert "s3cret" not in str(caught.value.headers)
    assert "127.0.0.1:9/v1/x" in str(caught.value)
