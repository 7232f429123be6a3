"""`events`: typed stream events, the tracker that turns polls into events, and following a
stream with resumption after a drop (in memory, fake clock)."""

from __future__ import annotations

from typing import Any

import pytest

import skytells
from skytells._core.events import StreamEvent, StreamTracker, read_stream, stream_url
from skytells._core.protocol import OpenStream, StreamResponse
from skytells._core.sse import SSEDecoder

from .driver import Driver, context, prediction

URL = "https://api.skytells.ai/v1/predictions/p1/stream"
SSE = {"content-type": "text/event-stream"}


def test_events_without_their_own_id_are_not_dropped() -> None:
    raw = SSEDecoder().feed(
        b'id: 1\nevent: status\ndata: {"status": "processing"}\n\n'
        b'event: log\ndata: {"message": "hello"}\n\n'
        b'event: log\ndata: {"message": "again"}\n\n'
        b'id: 1\nevent: status\ndata: {"status": "processing"}\n\n'  # a real duplicate
    )
    events = StreamTracker("p1", None).accept(raw)
    assert [e.event for e in events] == ["status", "log", "log"]


def test_polls_become_the_events_they_stand_for() -> None:
    track = StreamTracker("p1", None)
    assert [e.event for e in track.observe(prediction("processing", progress=10))] == [
        "status",
        "progress",
    ]
    final = track.observe(prediction("succeeded", output="hi"))
    assert [e.event for e in final] == ["output", "status", "done"]
    assert final[-1].prediction is not None and track.finished
    assert track.observe(prediction("succeeded")) == []


def test_typed_event_properties() -> None:
    event = StreamEvent("error", {"id": "p1", "status": "failed", "error": "boom"})
    assert (event.status, event.text, event.terminal) == ("failed", "boom", True)
    assert StreamEvent("progress", {"progress": 5}).progress == 5.0
    assert StreamEvent("log", "raw text").text == "raw text"


def test_stream_urls_must_be_absolute_http() -> None:
    assert stream_url({"urls": {"stream": URL}}) == URL
    assert stream_url({"urls": {"stream": "/relative"}}) is None
    assert stream_url({"urls": {"stream": "http://[::1"}}) is None


def _ignore(events: Any, state: Any) -> Any:
    yield from ()


def test_a_dropped_stream_resumes_after_the_last_event_id() -> None:
    done = b'id: 2\nevent: done\ndata: {"id": "p1", "status": "succeeded"}\n\n'
    driver = Driver(
        streams=[StreamResponse(200, SSE, 1), StreamResponse(200, SSE, 2)],
        chunks={
            1: [
                b'id: 1\nevent: status\ndata: {"status": "processing"}\n\n',
                skytells.APIConnectionError("dropped", "NETWORK_ERROR"),
            ],
            2: [done],
        },
    )
    track = StreamTracker("p1", None)
    end = driver.run(read_stream(context(), URL, track, driver.now + 60, _ignore))
    assert end is not None and end.prediction == {"id": "p1", "status": "succeeded"}
    first, second = [a for a in driver.actions if isinstance(a, OpenStream)]
    assert "last-event-id" not in first.headers and second.headers["last-event-id"] == "1"
    assert first.authenticated  # the API's own origin
    assert driver.sleeps == [0.5]


def test_a_stream_that_keeps_failing_hands_over_to_polling() -> None:
    drop = skytells.APIConnectionError("dropped", "NETWORK_ERROR")
    driver = Driver(streams=[drop, drop, drop])
    track = StreamTracker("p1", None)
    assert driver.run(read_stream(context(), URL, track, driver.now + 60, _ignore)) is None
    assert len(driver.sleeps) == 2  # the policy's two retries


def test_a_stream_past_its_deadline_times_out() -> None:
    driver = Driver(streams=[StreamResponse(200, SSE, 1)], chunks={1: []})
    with pytest.raises(skytells.APITimeoutError):
        driver.run(read_stream(context(), URL, StreamTracker("p1", None), driver.now, _ignore))


def test_a_json_answer_is_remembered_for_the_origin() -> None:
    ctx = context()
    driver = Driver(streams=[StreamResponse(200, {"content-type": "application/json"})] * 2)
    for _ in range(2):
        assert driver.run(read_stream(ctx, URL, StreamTracker("p1", None), 2000.0, _ignore)) is None
    assert not ctx.state.streams.usable(URL, driver.now)
