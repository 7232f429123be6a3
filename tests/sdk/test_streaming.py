"""`client.stream()` and waiting over the event stream, against the emulator and a scripted server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import skytells
from skytells import AsyncSkytellsClient, SkytellsClient, StreamEvent
from tests.conftest import apoll
from tests.scripted_server import Reply, ScriptedServer, prediction
from tests.sdk.pool_state import async_pool_is_clean, sync_pool_is_clean

pytestmark = pytest.mark.both_clients  # the default client and an http_client= one

TERMINAL = ("succeeded", "failed", "cancelled")


def _expected(emu: Any, prediction_id: str) -> list[tuple[str, str, Any]]:
    """What a complete stream must show: every logged event, then the terminal one."""
    logged = emu.events(prediction_id)
    final = emu.predictions()[-1] if emu.predictions() else None
    assert final is not None and final["id"] == prediction_id
    last = "error" if final["status"] == "failed" else "done"
    return [(str(e["id"]), e["type"], e["data"]) for e in logged] + [
        (str(len(logged) + 1), last, final)
    ]


def _seen(events: list[StreamEvent]) -> list[tuple[str, str, Any]]:
    return [(str(e.id), e.event, e.data) for e in events]


@pytest.fixture
def fast_client(emu: Any) -> Iterator[SkytellsClient]:
    """A client with quick retries (stream reconnects back off by milliseconds)."""
    retry = {"retries": 2, "retry_delay": 10}
    with SkytellsClient(emu.api_key, base_url=emu.base_url, retry=retry) as sdk:
        yield sdk


# ── the stream ───────────────────────────────────────────────────────────────


def test_first_events_arrive_before_the_prediction_ends(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=0.5)  # the chat model takes about 1.5 s
    created = client.predictions.create({"model": "skytells-chat", "input": {"prompt": "hi"}})
    events: list[StreamEvent] = []
    running_when_first_output = None
    with client.stream(created) as stream:
        for event in stream:
            if event.event == "output" and running_when_first_output is None:
                running_when_first_output = emu.predictions()[-1]["status"] not in TERMINAL
            events.append(event)
    assert events[0].event == "status" and events[0].status == "pending"
    assert running_when_first_output is True
    assert events[-1].event == "done" and events[-1].status == "succeeded"
    final = events[-1].prediction
    assert final is not None and final["output"] == "".join(
        e.text or "" for e in events if e.event == "output"
    )
    progress = [e.progress for e in events if e.event == "progress"]
    assert progress == sorted(progress) and progress[-1] == 100
    assert _seen(events) == _expected(emu, created["id"])  # no gap, no duplicate
    assert emu.state()["requests_by_endpoint"] == {"create": 1, "stream": 1}


def test_a_stream_cut_midway_resumes_without_gap_or_duplicate(
    fast_client: SkytellsClient, emu: Any
) -> None:
    created = fast_client.predictions.create(
        {"model": "skytells-chat", "input": {"prompt": "tell me more"}}
    )
    emu.add_fault("truncate", path="/v1/predictions/*/stream", count=1, fraction=0.5)
    events = list(fast_client.stream(created["id"]))
    assert _seen(events) == _expected(emu, created["id"])
    state = emu.state()
    assert state["faults"][0]["fired"] == 1  # the first stream really was cut
    assert state["requests_by_endpoint"]["stream"] == 2


@pytest.mark.anyio
async def test_async_stream_resumes_after_a_cut_too(emu: Any) -> None:
    async with AsyncSkytellsClient(
        emu.api_key, base_url=emu.base_url, retry={"retries": 2, "retry_delay": 10}
    ) as aclient:
        created = await aclient.predictions.create(
            {"model": "skytells-chat", "input": {"prompt": "tell me more"}}
        )
        emu.add_fault("truncate", path="/v1/predictions/*/stream", count=1, fraction=0.3)
        async with aclient.stream(created) as stream:
            events = [event async for event in stream]
    assert _seen(events) == _expected(emu, created["id"])
    assert emu.state()["requests_by_endpoint"]["stream"] == 2


def test_breaking_out_closes_the_connection(
    client: SkytellsClient, emu: Any, poll: Callable[..., Any]
) -> None:
    emu.configure(time_scale=1000.0)  # it would run for hours
    created = client.predictions.create({"model": "truefusion", "input": {"prompt": "x"}})
    for event in client.stream(created):
        assert event.status == "pending"
        assert emu.state()["open_streams"] == 1
        break
    poll(emu.state, lambda state: state["open_streams"] == 0)
    assert sync_pool_is_clean(client)
    held = client.stream(created)  # a stream kept in a variable closes on break too
    for _ in held:
        break
    poll(emu.state, lambda state: state["open_streams"] == 0)
    with client.stream(created) as stream:
        assert next(stream).event == "status"
    poll(emu.state, lambda state: state["open_streams"] == 0)
    assert list(stream) == []  # closed: nothing more


@pytest.mark.anyio
async def test_async_breaking_out_closes_the_connection(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=1000.0)
    created = await aclient.predictions.create({"model": "truefusion", "input": {"prompt": "x"}})
    async for event in aclient.stream(created):
        assert event.status == "pending"
        break
    async with aclient.stream(created) as stream:
        assert (await stream.__anext__()).event == "status"
    await apoll(
        lambda: emu.state()["open_streams"] == 0 and async_pool_is_clean(aclient._http),
        bool,
    )
    assert emu.state()["open_streams"] == 0 and async_pool_is_clean(aclient._http)


def test_a_stream_that_keeps_failing_falls_back_to_polling(
    fast_client: SkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=0.05)
    created = fast_client.predictions.create({"model": "truefusion", "input": {"prompt": "x"}})
    emu.add_fault("drop", path="/v1/predictions/*/stream")
    events = list(fast_client.stream(created))
    kinds = {e.event for e in events}
    assert {"status", "done"} <= kinds and kinds <= {"status", "progress", "done"}
    assert events[-1].status == "succeeded" and events[-1].prediction is not None
    statuses = [e.status for e in events if e.event == "status"]
    assert statuses == list(dict.fromkeys(statuses)) and statuses[-1] == "succeeded"
    state = emu.state()
    assert state["faults"][0]["fired"] == 3  # the stream: 1 + 2 retries, then polls
    assert state["requests_by_endpoint"]["get"] >= 1


def test_prediction_stream_method_and_typed_helpers(client: SkytellsClient, emu: Any) -> None:
    emu.fail_next(message="NSFW content detected.")
    with pytest.raises(skytells.PredictionFailedError) as failed:
        client.run("skytells-chat", input={"prompt": "x"})
    assert failed.value.prediction is not None
    done = client.run("skytells-chat", input={"prompt": "y"})
    events = list(done.stream())  # a finished prediction's stream replays its events
    assert events[-1].event == "done" and events[-1].prediction == done.raw()
    logs = [e.text for e in events if e.event == "log"]
    assert logs and all(isinstance(text, str) for text in logs)
    failed_id = failed.value.prediction["id"]
    error = list(client.stream(failed_id))[-1]  # failed: no urls.stream, one poll tells
    assert error.event == "error" and error.status == "failed"
    assert error.text == "NSFW content detected." and error.prediction is not None


# ── against a server that does not stream ────────────────────────────────────


@pytest.fixture
def polling_client(scripted: ScriptedServer) -> Iterator[SkytellsClient]:
    with SkytellsClient("sk-test-key", base_url=scripted.base_url, poll_interval=20) as sdk:
        yield sdk


def test_without_an_event_stream_polls_yield_the_same_kinds_of_events(
    scripted: ScriptedServer, polling_client: SkytellsClient
) -> None:
    port = scripted.base_url.split(":")[-1].split("/")[0]
    foreign = f"http://localhost:{port}/v1/predictions/pred_abc123/stream"  # another origin
    running = prediction("processing", metrics={"progress": 10}, urls={"stream": foreign})
    scripted.script(
        Reply(200, running),
        Reply(404, {"status": False, "response": "no such endpoint"}),  # JSON, not SSE
        Reply(200, prediction("processing", metrics={"progress": 60})),
        Reply(200, prediction("succeeded", output="Hello there.", metrics={"progress": 100})),
    )
    events = list(polling_client.stream("pred_abc123"))
    assert [(e.event, e.data) for e in events] == [
        ("status", {"status": "processing"}),  # what the first poll after the stream found
        ("progress", {"progress": 60.0}),
        ("output", {"text": "Hello there."}),
        ("progress", {"progress": 100.0}),
        ("status", {"status": "succeeded"}),
        ("done", prediction("succeeded", output="Hello there.", metrics={"progress": 100})),
    ]
    assert all(e.id is None for e in events)
    stream_request = scripted.requests[1]
    assert stream_request.path == "/v1/predictions/pred_abc123/stream"
    assert stream_request.headers["accept"] == "text/event-stream"
    assert "x-api-key" not in stream_request.headers  # never sent to another origin
    assert all(seen.headers["x-api-key"] == "sk-test-key" for seen in scripted.requests[::2])


@pytest.mark.parametrize(
    ("answer", "tried_again"),
    [
        (Reply(200, prediction("processing")), False),  # JSON where a stream was expected
        (Reply(406, {"status": False, "response": "not acceptable"}), False),
        (Reply(404, {"status": False, "response": "stream expired"}), True),  # this one only
        (Reply(503, {"status": False, "response": "busy"}), True),
    ],
)
def test_an_origin_without_event_streams_is_polled_directly_after_two_tries(
    scripted: ScriptedServer, polling_client: SkytellsClient, answer: Reply, tried_again: bool
) -> None:
    stream = f"{scripted.base_url}/predictions/pred_abc123/stream"
    running = prediction("processing", urls={"stream": stream})
    done = Reply(200, prediction("succeeded", output="ok"))
    scripted.script(answer, done, answer, done, *([answer] if tried_again else []), done)
    client = polling_client.with_options(max_retries=0)  # shares what the client learnt
    assert polling_client.wait(running)["status"] == "succeeded"
    assert client.wait(running)["status"] == "succeeded"
    assert polling_client.wait(running)["status"] == "succeeded"
    paths = [seen.path.rsplit("/", 1)[-1] for seen in scripted.requests]
    third = ["stream", "pred_abc123"] if tried_again else ["pred_abc123"]
    assert paths == ["stream", "pred_abc123"] * 2 + third


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_max_wait_bounds_the_first_lookup_of_a_bare_id(scripted: ScriptedServer, mode: str) -> None:
    # The lookup answers after 5 s with a finished prediction: within a 1 s max_wait, the
    # stream must end with WAIT_TIMEOUT rather than replay events that came too late. (The max
    # wait leaves a loaded machine ample time to send the lookup, which the test counts.)
    scripted.script(Reply(200, prediction("succeeded", output="late"), delay=5.0))
    with pytest.raises(skytells.WaitTimeoutError) as info:
        if mode == "sync":
            with SkytellsClient("sk-test-key", base_url=scripted.base_url) as client:
                list(client.stream("pred_abc123", max_wait=1000))
        else:

            async def consume() -> None:
                async with AsyncSkytellsClient(
                    "sk-test-key", base_url=scripted.base_url
                ) as aclient:
                    async with aclient.stream("pred_abc123", max_wait=1000) as events:
                        [event async for event in events]

            asyncio.run(consume())
    assert info.value.error_id == "WAIT_TIMEOUT"
    assert info.value.prediction == {"id": "pred_abc123", "status": "unknown"}  # nothing known
    assert len(scripted.requests) == 1  # no retry of a lookup cut short by the deadline


def _sse(*events: tuple[int, str, Any]) -> bytes:
    return b"".join(
        f"id: {i}\nevent: {name}\ndata: {json.dumps(data)}\n\n".encode() for i, name, data in events
    )


def test_a_stream_on_the_api_origin_gets_the_key_and_is_followed(
    scripted: ScriptedServer, polling_client: SkytellsClient
) -> None:
    url = f"{scripted.base_url}/predictions/pred_abc123/stream"
    final = prediction("succeeded", output=["https://cdn.example/a.png"])
    scripted.script(
        Reply(
            200,
            _sse((1, "status", {"status": "processing"}), (2, "done", final)),
            content_type="text/event-stream",
        ),
    )
    seen: list[dict[str, Any]] = []
    result = polling_client.wait(
        prediction("processing", urls={"stream": url}), on_progress=seen.append
    )
    assert result == final and seen[-1] == final
    (request,) = scripted.requests
    assert request.headers["x-api-key"] == "sk-test-key"
    assert "last-event-id" not in request.headers


def test_a_dropped_stream_resumes_from_the_last_event_id(scripted: ScriptedServer) -> None:
    url = f"{scripted.base_url}/predictions/pred_abc123/stream"
    final = prediction("succeeded", output=["https://cdn.example/a.png"])
    first = _sse((1, "status", {"status": "starting"}), (2, "progress", {"progress": 40}))
    scripted.script(
        Reply(200, first + b"id: 3\nevent: progr", content_type="text/event-stream"),
        Reply(
            200,
            _sse((3, "progress", {"progress": 80}), (4, "done", final)),
            content_type="text/event-stream",
        ),
    )  # the first ends mid-event, before the prediction did
    retry = {"retries": 1, "retry_delay": 10}
    with SkytellsClient("sk-test-key", base_url=scripted.base_url, retry=retry) as sdk:
        events = list(sdk.stream(prediction("processing", urls={"stream": url})))
    assert [(e.id, e.event) for e in events] == [
        ("1", "status"),
        ("2", "progress"),
        ("3", "progress"),
        ("4", "done"),
    ]
    assert "last-event-id" not in scripted.requests[0].headers
    assert scripted.requests[1].headers["last-event-id"] == "2"


def test_a_stream_without_ids_is_polled_not_resumed(
    scripted: ScriptedServer, polling_client: SkytellsClient
) -> None:
    url = f"{scripted.base_url}/predictions/pred_abc123/stream"
    scripted.script(
        Reply(
            200,
            b'event: status\ndata: {"status": "processing"}\n\n',
            content_type="text/event-stream",
        ),
        Reply(200, prediction("succeeded", output="Hi.")),
    )  # no ids, no end: reconnecting would hand out the same events again
    events = list(polling_client.stream(prediction("processing", urls={"stream": url})))
    assert [(e.event, e.id) for e in events] == [
        ("status", None),
        ("output", None),
        ("status", None),
        ("done", None),
    ]
    assert [r.path for r in scripted.requests] == [
        "/v1/predictions/pred_abc123/stream",
        "/v1/predictions/pred_abc123",
    ]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_max_wait_ends_a_stream_that_never_finishes(scripted: ScriptedServer, mode: str) -> None:
    url = f"{scripted.base_url}/predictions/pred_abc123/stream"
    # Keep-alive comments for minutes: every read returns data, yet the deadline must hold.
    scripted.script(Reply(200, b": k\n\n" * 20000, content_type="text/event-stream", drip=0.002))
    running = prediction("processing", urls={"stream": url})
    with pytest.raises(skytells.WaitTimeoutError) as info:
        if mode == "sync":
            with SkytellsClient("sk-test-key", base_url=scripted.base_url) as sdk:
                sdk.wait(running, {"max_wait": 300})
        else:

            async def wait() -> None:
                async with AsyncSkytellsClient("sk-test-key", base_url=scripted.base_url) as sdk:
                    await sdk.wait(running, {"max_wait": 300})

            asyncio.run(wait())
    assert info.value.prediction_id == "pred_abc123"
    assert len(scripted.requests) == 1


# ── waiting over the stream (fewer requests) ────────────────────────────────


def test_waiting_on_a_two_second_prediction_costs_two_requests(
    client: SkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=2 / 9)  # truefusion: 9 s nominal, 2 s here
    created = client.predictions.create({"model": "truefusion", "input": {"prompt": "x"}})
    seen: list[dict[str, Any]] = []
    final = client.wait(created, on_progress=seen.append)
    state = emu.state()
    assert state["requests"] <= 3  # create + stream (+ a final GET if the end lacked the state)
    assert state["requests_by_endpoint"] == {"create": 1, "stream": 1}
    assert final["status"] == "succeeded" and final == client.predictions.get(created["id"])
    progress = [p["metrics"]["progress"] for p in seen]
    assert progress == sorted(progress) and len(seen) > 5
    assert [p["status"] for p in seen][-1] == "succeeded" and seen[-1] == final


@pytest.mark.anyio
async def test_async_run_with_progress_follows_the_stream(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=0.05)
    statuses: list[str] = []
    result = await aclient.run(
        "truefusion", input={"prompt": "x"}, on_progress=lambda p: statuses.append(p["status"])
    )
    assert result.status == "succeeded"
    assert statuses[0] in ("pending", "starting") and statuses[-1] == "succeeded"
    assert emu.state()["requests_by_endpoint"] == {"create": 1, "stream": 1}


def test_max_wait_is_a_deadline_while_streaming(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    created = client.predictions.create({"model": "mera", "input": {"prompt": "waves"}})
    with pytest.raises(skytells.WaitTimeoutError) as info:
        client.wait(created, {"max_wait": 250}, cancel_on_timeout=True)
    assert info.value.prediction_id == created["id"]
    assert client.predictions.get(created["id"])["status"] == "cancelled"


def test_stream_prediction_keeps_its_meaning(client: SkytellsClient) -> None:
    created = client.predictions.create({"model": "truefusion", "input": {"prompt": "x"}})
    info = client.stream_prediction(created["id"])
    assert info["id"] == created["id"] and info["urls"]["stream"].endswith("/stream")
    with httpx.Client() as raw:  # the advertised stream is a real event stream
        with raw.stream("GET", info["urls"]["stream"], headers={"x-api-key": "x"}) as response:
            assert response.status_code == 401  # and it needs the key
