"""The emulator's event stream (`urls.stream`): Server-Sent Events with ids, resumption, the end."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from skytells._core.sse import ServerSentEvent, SSEDecoder
from skytells.emulator import Emulator

TIMEOUT = httpx.Timeout(30.0)
SSE = {"accept": "text/event-stream"}
"""`urls.stream` answers Server-Sent Events to a request that asks for them (JSON otherwise)."""


def _create(http: httpx.Client, model: str = "truefusion", **extra: Any) -> dict[str, Any]:
    body = {"model": model, "input": {"prompt": "hello there"}, **extra}
    response = http.post("/predict", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _read_all(http: httpx.Client, url: str, **headers: str | bytes) -> list[ServerSentEvent]:
    """Every event of a stream, read to its end (the prediction must end)."""
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    with http.stream("GET", url, headers={**SSE, **headers}, timeout=TIMEOUT) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        for chunk in response.iter_bytes():
            events.extend(decoder.feed(chunk))
    return events


@pytest.fixture
def stream_of(http: httpx.Client) -> Callable[..., list[ServerSentEvent]]:
    return lambda url, **headers: _read_all(http, url, **headers)


def test_every_logged_event_then_done_with_the_final_prediction(
    emu: Emulator, http: httpx.Client, stream_of: Callable[..., list[ServerSentEvent]]
) -> None:
    created = _create(http, "skytells-chat")
    events = stream_of(created["urls"]["stream"])
    logged = emu.events(created["id"])
    assert [e.id for e in events] == [str(n) for n in range(1, len(logged) + 2)]
    assert [(e.event, json.loads(e.data)) for e in events[:-1]] == [
        (entry["type"], entry["data"]) for entry in logged
    ]
    assert events[0].event == "status" and json.loads(events[0].data) == {"status": "pending"}
    done = events[-1]
    assert done.event == "done"
    assert json.loads(done.data) == http.get(f"/predictions/{created['id']}").json()
    pieces = [json.loads(e.data)["text"] for e in events if e.event == "output"]
    assert len(pieces) > 1 and "".join(pieces) == json.loads(done.data)["output"]
    state = emu.state()
    assert state["requests_by_endpoint"]["stream"] == 1 and state["open_streams"] == 0


def test_last_event_id_resumes_after_that_event(
    emu: Emulator, http: httpx.Client, stream_of: Callable[..., list[ServerSentEvent]]
) -> None:
    created = _create(http)
    url = created["urls"]["stream"]
    whole = stream_of(url)
    assert [e.id for e in stream_of(url, **{"last-event-id": "5"})] == [e.id for e in whole[5:]]
    last = whole[-1].id
    assert last is not None
    assert [e.event for e in stream_of(url, **{"last-event-id": str(int(last) - 1)})] == ["done"]
    assert stream_of(url, **{"last-event-id": last}) == []  # nothing after the end
    for garbage in ("abc", "-3", "²".encode("latin-1"), "9" * 40):
        assert [e.id for e in stream_of(url, **{"last-event-id": garbage})] == [e.id for e in whole]


def test_a_failed_prediction_ends_with_an_error_event(
    emu: Emulator, http: httpx.Client, stream_of: Callable[..., list[ServerSentEvent]]
) -> None:
    emu.fail_next(message="Input resolution too high.")
    created = _create(http)
    events = stream_of(created["urls"]["stream"])
    assert events[-2].event == "status"
    assert json.loads(events[-2].data) == {
        "status": "failed",
        "error": "Input resolution too high.",
    }
    final = json.loads(events[-1].data)
    assert events[-1].event == "error"
    assert final["status"] == "failed" and final["error"] == "Input resolution too high."


def test_first_events_arrive_while_the_prediction_runs_and_cancel_ends_it(
    emu: Emulator, http: httpx.Client, poll: Callable[..., Any]
) -> None:
    emu.configure(time_scale=1.0)
    created = _create(http, "mera")  # about a minute at this scale
    decoder = SSEDecoder()
    seen: list[ServerSentEvent] = []
    with http.stream("GET", created["urls"]["stream"], headers=SSE, timeout=TIMEOUT) as response:
        chunks = response.iter_bytes()
        while not seen:
            seen.extend(decoder.feed(next(chunks)))
        assert seen[0].event == "status"
        assert http.get(f"/predictions/{created['id']}").json()["status"] not in (
            "succeeded",
            "failed",
            "cancelled",
        )
        assert emu.state()["open_streams"] == 1
        assert http.post(f"/predictions/{created['id']}/cancel").status_code == 200
        for chunk in chunks:
            seen.extend(decoder.feed(chunk))
    assert seen[-1].event == "done" and json.loads(seen[-1].data)["status"] == "cancelled"
    poll(emu.state, lambda state: state["open_streams"] == 0)


def test_a_quiet_stream_gets_keep_alive_comments(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(time_scale=1000.0, sse_keepalive=0.02)  # pending for a long while
    created = _create(http)
    decoder = SSEDecoder()
    with http.stream("GET", created["urls"]["stream"], headers=SSE, timeout=TIMEOUT) as response:
        received = b""
        for chunk in response.iter_bytes():
            received += chunk
            decoder.feed(chunk)
            if decoder.comments >= 2:
                break
    assert b": keep-alive\n\n" in received
    assert [e.event for e in SSEDecoder().feed(received)] == ["status"]  # comments are no events


def test_a_client_that_disconnects_ends_its_stream(
    emu: Emulator, http: httpx.Client, poll: Callable[..., Any]
) -> None:
    emu.configure(time_scale=1000.0)
    created = _create(http)
    with http.stream("GET", created["urls"]["stream"], headers=SSE, timeout=TIMEOUT) as response:
        chunks = response.iter_bytes()  # kept: a dropped iterator would close the response
        next(chunks)
        assert emu.state()["open_streams"] == 1
    poll(emu.state, lambda state: state["open_streams"] == 0)


def test_head_answers_the_headers_and_opens_no_stream(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(time_scale=1000.0)  # pending for a long while: a GET would stay open
    created = _create(http)
    response = http.head(created["urls"]["stream"], headers=SSE, timeout=TIMEOUT)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "content-length" not in response.headers  # the headers a GET would get
    assert emu.state()["open_streams"] == 0
    assert http.get(f"/predictions/{created['id']}").status_code == 200  # the connection is free


def test_reset_ends_open_streams(emu: Emulator, http: httpx.Client) -> None:
    emu.configure(time_scale=1000.0)
    created = _create(http)
    with http.stream("GET", created["urls"]["stream"], headers=SSE, timeout=TIMEOUT) as response:
        chunks = response.iter_bytes()
        next(chunks)
        emu.reset()
        rest = b"".join(chunks)  # the stream ends: no terminal event for a forgotten prediction
    assert b"event: done" not in rest and emu.state()["open_streams"] == 0


def test_the_stream_is_authenticated_like_the_api(
    emu: Emulator, http: httpx.Client, anon: httpx.Client
) -> None:
    created = _create(http)
    url = created["urls"]["stream"]
    refused = anon.get(url)
    assert refused.status_code == 401 and refused.json()["error"]["error_id"] == "UNAUTHORIZED"
    bearer = {"authorization": f"Bearer {emu.api_key}", **SSE}
    with anon.stream("GET", url, headers=bearer, timeout=TIMEOUT) as response:
        assert response.status_code == 200
        assert response.headers["x-skytells-ratelimit-limit-requests"] == "-"
        assert b"event: done" in response.read()
    unknown = http.get("/predictions/nope/events")
    assert unknown.status_code == 502 and unknown.json()["error"]["error_id"] == "PREDICTION_FAILED"


def test_predictions_without_stream_true_are_served_too(
    http: httpx.Client, stream_of: Callable[..., list[ServerSentEvent]]
) -> None:
    plain, streamed = _create(http), _create(http, stream=True)
    assert plain["stream"] is False and streamed["stream"] is True
    for created in (plain, streamed):
        assert stream_of(created["urls"]["stream"])[-1].event == "done"


def test_the_decoder_handles_any_chunking_and_line_ending() -> None:
    text = (
        '\ufeff: hello\r\nid: 7\r\nevent: status\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        "retry: 250\ndata: twö☃\n\n"
        "id\rdata: three\r\rid: bad\0id\nevent: x\ndata\n\n"
        "data: partial"
    ).encode()
    for size in (1, 2, 3, 7, len(text)):
        decoder = SSEDecoder()
        events = []
        for start in range(0, len(text), size):
            events.extend(decoder.feed(text[start : start + size]))
        assert events == [
            ServerSentEvent("status", '{"a":\n1}', "7", own_id=True),
            ServerSentEvent("message", "twö☃", "7", 250),  # inherits the id: not its own
            ServerSentEvent("message", "three", "", own_id=True),
            ServerSentEvent("x", "", ""),  # its id line had a NUL: ignored
        ], size
        assert decoder.comments == 1


def test_urls_stream_is_the_stream_path_and_answers_json_unless_asked_for_events(
    emu: Emulator, http: httpx.Client, anon: httpx.Client
) -> None:
    created = _create(http, stream=True)
    url = created["urls"]["stream"]
    assert url == f"{emu.base_url}/predictions/{created['id']}/stream"
    # What the official TypeScript SDK does: GET it and parse JSON (validated by the hook).
    for accept in (None, "application/json", "*/*", "text/*", "text/event-stream;q=0"):
        headers = {"accept": accept} if accept else {}
        answer = http.get(url, headers=headers)
        assert answer.headers["content-type"].startswith("application/json"), accept
        assert answer.json()["id"] == created["id"] and answer.headers["vary"] == "Accept"
    preferred = "application/json;q=0.5, text/event-stream"
    with http.stream("GET", url, headers={"accept": preferred}, timeout=TIMEOUT) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["vary"] == "Accept"
        assert b"event: done" in response.read()
    # The address `urls.stream` had before stays an alias that always streams.
    alias = f"/predictions/{created['id']}/events"
    with http.stream("GET", alias, headers={"accept": "application/json"}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert b"event: done" in response.read()
    assert emu.state()["requests_by_endpoint"]["events"] == 1


def test_statuses_in_the_stream_follow_the_spelling_variants(
    emu: Emulator, http: httpx.Client, stream_of: Callable[..., list[ServerSentEvent]]
) -> None:
    emu.configure(variants=["canceled", "queued"], time_scale=1000.0)
    created = _create(http)
    assert created["status"] == "queued"
    http.post(f"/predictions/{created['id']}/cancel")
    events = stream_of(created["urls"]["stream"])
    statuses = [json.loads(e.data)["status"] for e in events if e.event == "status"]
    assert statuses == ["queued", "canceled"]
    assert events[-1].event == "done" and json.loads(events[-1].data)["status"] == "canceled"
