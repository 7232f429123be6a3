"""`stream_support`: which origins serve no event stream, remembered for a while."""

from __future__ import annotations

from skytells._core.stream_support import FORGET_AFTER, StreamSupport, origin


def test_what_was_learnt_of_an_origin_is_forgotten_after_a_while() -> None:
    now = 100.0
    support = StreamSupport()
    url = "https://api.example.com/v1/predictions/p1/stream"
    support.answered(url, 200, now)
    support.served(url)  # an event stream in between: the refusals were not in a row
    support.answered(url, 200, now)
    assert support.usable(url, now)
    support.answered(url, 200, now)
    assert not support.usable("https://API.example.com:443/v1/predictions/p2/stream", now)
    assert support.usable("https://stream.example.com/v1/predictions/p2/stream", now)
    now += FORGET_AFTER
    assert support.usable(url, now)
    support.answered(url, 500, now)
    support.answered(url, 500, now)
    assert support.usable(url, now)


def test_406_counts_as_a_refusal() -> None:
    support = StreamSupport()
    url = "http://127.0.0.1:8080/v1/predictions/p1/stream"
    support.answered(url, 406, 0.0)
    support.answered(url, 406, 0.0)
    assert not support.usable(url, FORGET_AFTER - 1)


def test_origins_default_their_port_and_survive_bad_urls() -> None:
    assert origin("https://Example.com/x") == ("https", "example.com", 443)
    assert origin("http://example.com:8080/x") == ("http", "example.com", 8080)
    assert origin("http://[::1") == ("", "", None)
