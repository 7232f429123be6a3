"""`loggable_url`: what a debug line shows of a URL a server sent."""

from __future__ import annotations

import pytest

from skytells._core.logs import MAX_URL_CHARS, loggable_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://api.skytells.ai/v1/predictions/p1/stream",
            "https://api.skytells.ai/v1/predictions/p1/stream",
        ),
        ("https://cdn.example/o.png?X-Amz-Signature=secret&exp=1", "https://cdn.example/o.png?..."),
        ("https://user:pass@cdn.example/o.png#frag", "https://cdn.example/o.png?..."),
        ("https://cdn.example/\x1b[31mred\x07.png", "https://cdn.example/\\x1b[31mred\\x07.png"),
        ("https://cdn.example/caf\u00e9\u202e.png", "https://cdn.example/caf\\xe9\\u202e.png"),
        ("http://[::1/x", "http://[::1/x"),  # not a URL urlsplit accepts: escaped all the same
    ],
)
def test_what_a_log_line_shows_of_a_url(url: str, shown: str) -> None:
    assert loggable_url(url) == shown


def test_a_long_url_is_bounded() -> None:
    shown = loggable_url("https://cdn.example/" + "a" * 10_000)
    assert len(shown) == MAX_URL_CHARS + 3 and shown.endswith("...")
