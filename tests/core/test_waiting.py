"""`waiting`: how a wait ends (terminal status, max_wait by the fake clock, a failure), polled
or over the event stream, driven in memory."""

from __future__ import annotations

import pytest

import skytells
from skytells._core.protocol import StreamResponse
from skytells._core.waiting import follow, progress_state, stream_events, wait_for

from .driver import Driver, context, json_reply, paths, prediction


def polls(*states: str) -> list[object]:
    return [json_reply(200, prediction(state)) for state in states]


def test_first_check_is_immediate_then_backs_off() -> None:
    driver = Driver().script(*polls("processing", "processing", "processing", "succeeded"))
    result = driver.run(wait_for(context(), prediction("pending")))
    assert driver.log == [
        "GET /predictions/p1",
        "sleep 0.25",
        "GET /predictions/p1",
        "sleep 0.5",
        "GET /predictions/p1",
        "sleep 1",
        "GET /predictions/p1",
    ]
    assert result["status"] == "succeeded"


def test_a_terminal_prediction_given_ends_the_wait_without_a_request() -> None:
    driver = Driver()
    assert driver.run(wait_for(context(), prediction("failed")))["status"] == "failed"
    assert driver.requests == []


def test_a_wait_ends_at_max_wait_by_the_fake_clock() -> None:
    driver = Driver().script(*polls(*["processing"] * 50))
    start = driver.now
    with pytest.raises(skytells.WaitTimeoutError) as info:
        driver.run(wait_for(context(), "p1", interval_ms=5000, max_wait_ms=2600))
    assert driver.now - start == pytest.approx(2.6)  # the last sleep was cut to the deadline
    assert info.value.prediction_id == "p1"
    assert info.value.error_id == "WAIT_TIMEOUT"
    assert all(r.deadline == pytest.approx(start + 2.6) for r in driver.requests)


def test_cancel_on_timeout_cancels_and_still_reports_the_timeout() -> None:
    driver = Driver().script(
        *polls("processing"),
        json_reply(200, prediction("cancelled")),  # the cancel
    )
    with pytest.raises(skytells.WaitTimeoutError) as info:
        driver.run(wait_for(context(), "p1", max_wait_ms=100, cancel_on_timeout=True))
    assert paths(driver.requests) == ["GET /predictions/p1", "POST /predictions/p1/cancel"]
    assert info.value.prediction["status"] == "cancelled"


def test_a_lookup_timing_out_at_the_deadline_is_a_wait_timeout() -> None:
    class SlowLookup(Driver):
        def perform(self, action: object) -> object:
            from skytells._core.protocol import HttpRequest

            if isinstance(action, HttpRequest):
                self.now = action.deadline  # the lookup used all the time left
            return super().perform(action)

    driver = SlowLookup().script(skytells.APITimeoutError("slow", "REQUEST_TIMEOUT", None, 408))
    with pytest.raises(skytells.WaitTimeoutError):
        driver.run(wait_for(context(), "p1", max_wait_ms=1000))


def test_the_interval_caps_every_gap() -> None:
    driver = Driver().script(*polls(*["processing"] * 8, "canceled"))
    result = driver.run(wait_for(context(), "p1", interval_ms=1500))
    assert max(driver.sleeps) == 1.5 and result["status"] == "canceled"


def test_on_progress_hears_each_change_once_with_float_progress() -> None:
    told: list[tuple[str, object]] = []
    driver = Driver().script(
        json_reply(200, prediction("processing", progress=10)),
        json_reply(200, prediction("processing", progress=10)),  # unchanged: not told again
        json_reply(200, prediction("processing", progress=60)),
        json_reply(200, prediction("succeeded", progress=100)),
    )
    driver.run(
        wait_for(
            context(),
            "p1",
            on_progress=lambda state: told.append((state["status"], state["metrics"]["progress"])),
        )
    )
    assert told == [("processing", 10.0), ("processing", 60.0), ("succeeded", 100.0)]
    assert progress_state(prediction("x", progress=5))["metrics"]["progress"] == 5.0


def test_the_event_stream_is_followed_to_its_end() -> None:
    url = "https://api.skytells.ai/v1/predictions/p1/stream"
    final = prediction("succeeded", output=["https://files.example/a.png"])
    driver = Driver(
        streams=[StreamResponse(200, {"content-type": "text/event-stream"}, 7)],
        chunks={
            7: [
                b'id: 1\nevent: status\ndata: {"status": "processing"}\n\n',
                b"id: 2\nevent: done\ndata: " + json_reply(200, final).content + b"\n\n",
            ]
        },
    )
    ctx = context()
    result = driver.run(follow(ctx, prediction("starting", urls={"stream": url}), _ignore))
    assert result == final
    assert driver.requests == []  # no poll: the stream told the end
    assert driver.log == [f"open {url}", "close"]


def test_an_origin_that_serves_no_stream_is_polled() -> None:
    url = "https://api.skytells.ai/v1/predictions/p1/stream"
    ctx = context()
    for _ in range(2):  # two answers that are not event streams: the origin is remembered
        driver = Driver(streams=[StreamResponse(200, {"content-type": "application/json"})])
        driver.script(*polls("succeeded"))
        driver.run(follow(ctx, prediction("starting", urls={"stream": url}), _ignore))
        assert driver.log == [f"open {url}", "GET /predictions/p1"]
    driver = Driver().script(*polls("succeeded"))
    driver.run(follow(ctx, prediction("starting", urls={"stream": url}), _ignore))
    assert driver.log == ["GET /predictions/p1"]  # straight to polling


def test_stream_events_emits_the_events_a_poll_stands_for() -> None:
    driver = Driver().script(
        json_reply(200, prediction("processing")),
        json_reply(200, prediction("succeeded", output="done")),
    )
    result = driver.run(stream_events(context(), "p1"))
    assert result["status"] == "succeeded"
    # The lookup of the bare id is where following starts; the next poll stands for the rest.
    assert [event.event for event in driver.emitted] == ["output", "status", "done"]
    assert driver.emitted[0].text == "done" and driver.emitted[-1].prediction == result


def _ignore(events: object, state: object) -> object:
    yield from ()
