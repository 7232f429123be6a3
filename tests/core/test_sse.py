"""`sse`: the Server-Sent Events decoder, bytes in and events out."""

from __future__ import annotations

import pytest

import skytells
from skytells._core.sse import SSEDecoder


def test_events_split_across_chunks_and_line_endings() -> None:
    decoder = SSEDecoder()
    stream = b'\xef\xbb\xbfid: 1\r\nevent: status\r\ndata: {"a":\r\ndata: 1}\r\n\r\n: ping\n\nid: 2\rdata: x\r\r'
    events = [event for i in range(len(stream)) for event in decoder.feed(stream[i : i + 1])]
    assert [(e.id, e.event, e.data) for e in events] == [
        ("1", "status", '{"a":\n1}'),
        ("2", "message", "x"),
    ]
    assert decoder.comments == 1 and decoder.last_event_id == "2"


def test_an_event_without_data_is_not_dispatched_and_ids_carry_over() -> None:
    decoder = SSEDecoder(last_event_id="7")
    (event,) = decoder.feed(b"event: nothing\n\nretry: 1500\ndata: y\n\n")
    assert event.id == "7" and not event.own_id and event.retry == 1500


def test_a_non_ascii_retry_value_is_ignored() -> None:
    (event,) = SSEDecoder().feed("retry: \u00b2\ndata: {}\n\n".encode())
    assert event.retry is None


def test_a_line_that_never_ends_is_bounded() -> None:
    decoder = SSEDecoder(max_event_size=100)
    with pytest.raises(skytells.ResponseTooLargeError):
        for _ in range(50):
            decoder.feed(b"data: " + b"x" * 10)
