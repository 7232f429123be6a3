"""`display`: the MIME bundles of predictions, output files and progress bars, from plain data.

The markup is read back with `html.parser`, as a browser would tokenise it: a hostile id, model
name, status, error, output text or URL must add no element, no attribute and no link.
"""

from __future__ import annotations

import base64
import datetime as dt
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skytells._core.display import (
    MAX_OUTPUTS,
    MAX_TEXT_CHARS,
    file_mimebundle,
    media_kind,
    prediction_mimebundle,
    progress_line,
    progress_mimebundle,
    safe_url,
    terminal_text,
)
from skytells._core.progress import ProgressView

ALLOWED_TAGS = {
    "div", "span", "strong", "code", "table", "tr", "td", "pre", "figure", "img", "video",
    "audio", "a",
}  # fmt: skip


class Markup(HTMLParser):
    """Every element and attribute of a piece of HTML, and its text."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(source)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def links(self) -> list[str]:
        return [
            value or ""
            for _, attrs in self.tags
            for name, value in attrs.items()
            if name in ("src", "href")
        ]

    def elements(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]


def assert_inert(source: str) -> Markup:
    """Only the display's own elements and attributes; every link http(s) or data:image."""
    markup = Markup(source)
    for tag, attrs in markup.tags:
        assert tag in ALLOWED_TAGS, tag
        assert set(attrs) <= {
            "src", "href", "style", "class", "alt", "loading", "controls", "preload",
            "target", "rel",
        }, attrs  # fmt: skip
    for link in markup.links():
        assert link.startswith(("http://", "https://", "data:image/png;base64,")), link
    return markup


def prediction(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "0f8c6a2e-1111-4222-8333-944455556666",
        "status": "succeeded",
        "model": {"name": "flux-pro", "type": "image"},
        "created_at": "2026-01-01T00:00:00.000000Z",
        "completed_at": "2026-01-01T00:00:12.500000Z",
        "output": ["https://cdn.example/out-0.webp"],
        "metadata": {
            "billing": {"credits_used": 0.04},
            "storage": {
                "files": [
                    {
                        "name": "out-0.webp",
                        "type": "image/webp",
                        "size": 10,
                        "url": "https://cdn.example/out-0.webp",
                    }
                ]
            },
        },
    }
    return {**base, **fields}


# ── what a prediction shows ──────────────────────────────────────────────


def test_a_prediction_shows_id_model_status_times_credits_and_its_image() -> None:
    bundle = prediction_mimebundle(prediction())
    assert set(bundle) == {"text/plain", "text/html"}
    plain = bundle["text/plain"]
    assert plain.splitlines()[0] == "Prediction 0f8c6a2e-1111-4222-8333-944455556666"
    assert "flux-pro" in plain and "succeeded" in plain and "credits    0.04" in plain
    assert "2026-01-01 00:00:12 UTC (took 12.5 s)" in plain
    markup = assert_inert(bundle["text/html"])
    (image,) = markup.elements("img")
    assert image["src"] == "https://cdn.example/out-0.webp" and image["alt"] == "out-0.webp"
    text = "".join(markup.text)
    assert "0f8c6a2e-1111-4222-8333-944455556666" in text and "12.5 s" in text
    assert "succeeded" in text and "0.04" in text


@pytest.mark.parametrize(
    ("url", "stored_type", "model_type", "tag"),
    [
        ("https://f.example/a.mp4", "video/mp4", "video", "video"),
        ("https://f.example/a", "video/webm", "video", "video"),  # the stored type decides
        ("https://f.example/a.wav", None, "music", "audio"),  # else the extension
        ("https://f.example/a.MP3?sig=1", None, None, "audio"),
        ("https://f.example/blob", None, "image", "img"),  # else the model's type
        ("https://f.example/notes.txt", None, None, "a"),  # a plain link
    ],
)
def test_each_output_gets_the_element_of_its_media_type(
    url: str, stored_type: str | None, model_type: str | None, tag: str
) -> None:
    stored = [{"name": "x", "type": stored_type, "url": url}] if stored_type else []
    data = prediction(
        output=[url],
        model={"name": "m", "type": model_type},
        metadata={"storage": {"files": stored}},
    )
    markup = assert_inert(prediction_mimebundle(data)["text/html"])
    elements = markup.elements(tag)
    assert elements and (elements[0].get("src") or elements[0].get("href")) == url
    if tag in ("video", "audio"):
        assert "controls" in elements[0]
    media = {"img", "video", "audio"} - {tag}
    assert not any(markup.elements(other) for other in media)


def test_a_text_output_is_escaped_preformatted_text() -> None:
    data = prediction(
        output='Use <b>bold</b> & "quotes"\nline two', model={"name": "chat", "type": "text"}
    )
    bundle = prediction_mimebundle(data)
    markup = assert_inert(bundle["text/html"])
    assert markup.elements("pre") and not markup.elements("b")
    assert 'Use <b>bold</b> & "quotes"\nline two' in "".join(markup.text)
    assert "    Use <b>bold</b>" in bundle["text/plain"]


def test_text_pieces_read_as_one_text() -> None:
    data = prediction(output=["Hel", "lo ", "world"], model={"name": "chat", "type": "text"})
    assert "Hello world" in "".join(Markup(prediction_mimebundle(data)["text/html"]).text)


def test_a_long_text_output_is_cut_with_a_note() -> None:
    data = prediction(output="x" * (MAX_TEXT_CHARS + 5_000))
    bundle = prediction_mimebundle(data)
    text = "".join(Markup(bundle["text/html"]).text)
    assert text.count("x") <= MAX_TEXT_CHARS + 10
    assert "[5,000 more characters: see prediction.output]" in text
    assert "more characters: see prediction.output]" in bundle["text/plain"]
    assert len(bundle["text/plain"]) < 5_000


def test_many_outputs_are_bounded_with_a_count() -> None:
    urls = [f"https://f.example/{n}.png" for n in range(MAX_OUTPUTS + 7)]
    bundle = prediction_mimebundle(prediction(output=urls, metadata={}))
    assert len(Markup(bundle["text/html"]).elements("img")) == MAX_OUTPUTS
    assert "… and 7 more outputs" in bundle["text/html"]
    assert "… and 7 more" in bundle["text/plain"]


def test_a_failed_prediction_shows_its_error_and_a_red_badge() -> None:
    data = prediction(status="failed", output=None, error="NSFW content detected")
    bundle = prediction_mimebundle(data)
    markup = assert_inert(bundle["text/html"])
    assert "NSFW content detected" in "".join(markup.text)
    assert any("#b91c1c" in (attrs.get("style") or "") for attrs in markup.elements("span"))
    assert "error      NSFW content detected" in bundle["text/plain"]
    # No error text: the older `response` field, else a plain note.
    assert (
        "gone" in prediction_mimebundle(prediction(status="failed", response="gone"))["text/plain"]
    )
    assert (
        "failed (no error text)" in prediction_mimebundle(prediction(status="failed"))["text/plain"]
    )


def test_cancelled_and_canceled_are_one_status() -> None:
    for status in ("cancelled", "canceled"):
        plain = prediction_mimebundle(prediction(status=status, output=None))["text/plain"]
        assert "status     cancelled" in plain


def test_a_bare_or_odd_prediction_still_displays() -> None:
    for data in ({}, {"id": 5, "status": None, "model": "flux-pro", "output": {"a": 1}}, []):
        bundle = prediction_mimebundle(data)  # type: ignore[arg-type]
        assert_inert(bundle["text/html"])
        assert bundle["text/plain"].startswith("Prediction")
    odd = prediction_mimebundle({"created_at": "yesterday", "completed_at": 7})["text/plain"]
    assert "created    yesterday" in odd and "took" not in odd


def test_include_and_exclude_pick_the_mime_types() -> None:
    assert set(prediction_mimebundle(prediction(), include={"text/plain"})) == {"text/plain"}
    assert set(prediction_mimebundle(prediction(), exclude={"text/html"})) == {"text/plain"}
    assert set(file_mimebundle("https://f.example/a.png", exclude={"text/plain"})) == {"text/html"}


# ── nothing from the server is trusted ───────────────────────────────────

SCRIPT = "<script>alert(1)</script>"
QUOTES = '"\' onmouseover="alert(1)'
HOSTILE_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "vbscript:msgbox(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+",
    'data:image/png;base64,AAAA" onerror="alert(1)',
    'https://f.example/a.png" onerror="alert(1)',
    "https://f.example/a.png'><script>alert(1)</script>",
    "https://f.example/<script>.png",
    "//f.example/a.png",
    "https://f.example/\u202egnp.exe",
    "https:///nohost.png",
    "file:///etc/passwd",
]


@pytest.mark.parametrize("field", ["id", "status", "error", "created_at", "response"])
def test_markup_in_any_field_stays_text(field: str) -> None:
    value = f"{SCRIPT}{QUOTES}<img src=x onerror=alert(1)>"
    data = prediction(**{"status": "failed", field: value})
    bundle = prediction_mimebundle(data)
    markup = assert_inert(bundle["text/html"])
    assert not markup.elements("script")
    assert len(markup.elements("img")) == 1  # the output's, no other
    assert "<script>alert(1)</script>" in "".join(markup.text)


def test_markup_in_the_model_name_and_the_stored_file_name_stays_text() -> None:
    data = prediction(
        model={"name": SCRIPT + QUOTES, "type": "image"},
        metadata={
            "storage": {
                "files": [
                    {"name": QUOTES + SCRIPT, "type": "image/png", "url": prediction()["output"][0]}
                ]
            }
        },
    )
    markup = assert_inert(prediction_mimebundle(data)["text/html"])
    (image,) = markup.elements("img")
    assert image["alt"] == terminal_text(QUOTES + SCRIPT)  # an attribute value, whole
    assert not markup.elements("script")


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_only_http_and_raster_data_urls_become_links(url: str) -> None:
    assert safe_url(url) is None
    for bundle in (
        prediction_mimebundle(prediction(output=[url], metadata={})),
        file_mimebundle(url, SCRIPT, "image/png"),
    ):
        markup = assert_inert(bundle["text/html"])
        assert markup.links() == [], markup.links()
        assert not markup.elements("script")


def test_a_raster_data_image_is_shown_inline() -> None:
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n....").decode()
    assert safe_url(png) == png
    markup = assert_inert(prediction_mimebundle(prediction(output=[png], metadata={}))["text/html"])
    assert [image["src"] for image in markup.elements("img")] == [png]
    assert "data:…" in prediction_mimebundle(prediction(output=[png]))["text/plain"]


def test_plain_text_has_no_terminal_controls() -> None:
    hostile = "\x1b]0;owned\x07\x1b[2J\u202etxt.exe\r"
    data = prediction(id=hostile, error=hostile, status="failed", output="ok\x1b[31m red")
    plain = prediction_mimebundle(data)["text/plain"]
    assert "\x1b" not in plain and "\u202e" not in plain and "\r" not in plain
    assert "\\x1b]0;owned\\x07" in plain and "\\u202e" in plain
    assert terminal_text("a\nb\tc", multiline=True) == "a\nb\tc"
    assert terminal_text("a\nb") == "a\\nb"  # escaped as the command line escapes it


def test_fields_are_bounded() -> None:
    huge = "y" * 100_000
    bundle = prediction_mimebundle(
        prediction(id=huge, model={"name": huge}, error=huge, status="failed", output=None)
    )
    assert len(bundle["text/html"]) < 8_000 and len(bundle["text/plain"]) < 8_000
    assert terminal_text(huge, 10) == "y" * 10 + "…"
    assert terminal_text({"nested": ["structure"]}) == "<dict>"
    assert safe_url("https://f.example/" + "a" * 5_000) is None


# ── one output file ──────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("content_type", "tag"), [("image/png", "img"), ("video/mp4", "video"), ("audio/wav", "audio")]
)
def test_a_file_shows_as_its_media_with_its_name(content_type: str, tag: str) -> None:
    bundle = file_mimebundle("https://f.example/x/out-0", "out-0", content_type)
    assert bundle["text/plain"] == f"out-0 ({content_type}): https://f.example/x/out-0"
    markup = assert_inert(bundle["text/html"])
    assert markup.elements(tag)[0]["src"] == "https://f.example/x/out-0"
    assert "out-0" in "".join(markup.text)


def test_a_file_without_a_name_is_named_from_its_url() -> None:
    bundle = file_mimebundle("https://f.example/x/out%201.webp")
    assert bundle["text/plain"].startswith("out 1.webp: ")
    assert assert_inert(bundle["text/html"]).elements("img")


def test_media_kind_order() -> None:
    assert media_kind("https://f.example/a.png", "video/mp4") == "video"
    assert media_kind("https://f.example/a.png", "application/octet-stream") == "image"
    assert media_kind("https://f.example/a", None, "music") == "audio"
    assert media_kind("https://f.example/a", None, None) is None


# ── a progress bar ───────────────────────────────────────────────────────


def view(**fields: Any) -> ProgressView:
    base: dict[str, Any] = {
        "label": "flux-pro 0f8c6a2e",
        "status": "processing",
        "percent": 40.0,
        "elapsed": 3.4,
        "final": False,
    }
    return ProgressView(**{**base, **fields})


def test_the_progress_line() -> None:
    assert progress_line(view(), width=10) == "flux-pro 0f8c6a2e [████░░░░░░]  40% processing 0:03"
    assert progress_line(view(percent=100.0, elapsed=3725), width=4, unicode=False) == (
        "flux-pro 0f8c6a2e [####] 100% processing 1:02:05"
    )


def test_the_progress_bar_markup_is_inert_and_shows_the_percent() -> None:
    bundle = progress_mimebundle(view(label=SCRIPT, status=QUOTES + SCRIPT))
    markup = assert_inert(bundle["text/html"])
    text = "".join(markup.text)
    assert "40%" in text and "0:03" in text and SCRIPT in text
    widths = [a["style"] for a in markup.elements("div") if "width:40.0%" in (a["style"] or "")]
    assert widths
    assert "\x1b" not in progress_mimebundle(view(label="\x1b[2J"))["text/plain"]


def test_the_final_bar_takes_the_status_colour() -> None:
    done = progress_mimebundle(view(status="failed", final=True))["text/html"]
    running = progress_mimebundle(view(status="failed", final=False))["text/html"]
    assert "width:40.0%;height:100%;background:#b91c1c" in done
    assert "width:40.0%;height:100%;background:#1d4ed8" in running


# ── any server value displays (never an exception) ───────────────────────

EXTREMES: dict[str, Any] = {
    "created_at": "0001-01-01T00:00:00+01:00",  # before year 1 once in UTC
    "completed_at": "9999-12-31T23:59:59-01:00",  # after year 9999 once in UTC
    "metadata": {"billing": {"credits_used": 10**400}},  # no float holds it
}


@pytest.mark.parametrize(("field", "value"), EXTREMES.items())
def test_times_and_credits_out_of_range_display_as_text_or_not_at_all(
    field: str, value: Any
) -> None:
    bundle = prediction_mimebundle(prediction(**{field: value}))
    assert_inert(bundle["text/html"])
    plain = bundle["text/plain"]
    if field == "metadata":
        assert "credits" not in plain  # not a number we can show
    else:
        assert f"{field.split('_')[0]:<10} {value}" in plain  # the server's text, as it came
        assert "took" not in plain


def test_an_instant_at_the_edge_of_the_range_shows_in_utc() -> None:
    plain = prediction_mimebundle(
        prediction(created_at="9999-12-31T22:00:00-01:00", completed_at=None)
    )["text/plain"]
    assert "created    9999-12-31 23:00:00 UTC" in plain


HUGE = st.sampled_from([400, 1024, 4000]).map(lambda digits: 10**digits)  # past any float
JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE
    | HUGE.map(lambda number: -number)
    | st.floats()
    | st.text(max_size=20)
)
ISO_TIME = st.builds(
    lambda instant, offset: instant.isoformat() + offset,
    st.datetimes() | st.sampled_from([dt.datetime.min, dt.datetime.max]),
    st.sampled_from(["Z", "+01:00", "-01:00", "+23:59", "-23:59", "", "+00:00"]),
)
JSONISH = st.recursive(
    JSON_LEAF | ISO_TIME,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = {
    "id": JSONISH,
    "status": JSONISH | st.sampled_from(["succeeded", "failed", "cancelled", "processing"]),
    "model": JSONISH | st.fixed_dictionaries({"name": JSONISH, "type": JSONISH}),
    "created_at": JSONISH | ISO_TIME,
    "completed_at": JSONISH | ISO_TIME,
    "error": JSONISH,
    "response": JSONISH,
    "output": JSONISH | st.lists(JSONISH | st.just("https://f.example/a.png"), max_size=5),
    "metadata": JSONISH
    | st.fixed_dictionaries(
        {
            "billing": JSONISH | st.fixed_dictionaries({"credits_used": JSON_LEAF}),
            "storage": JSONISH
            | st.fixed_dictionaries(
                {"files": st.lists(st.fixed_dictionaries({"url": JSONISH, "type": JSONISH}))}
            ),
        }
    ),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional=FIELDS))
def test_any_json_in_any_field_displays(data: dict[str, Any]) -> None:
    bundle = prediction_mimebundle(data)
    assert bundle["text/plain"].startswith("Prediction")
    assert_inert(bundle["text/html"])


@settings(max_examples=200, deadline=None)
@given(JSONISH, JSONISH, JSONISH)
def test_any_json_displays_as_a_file(url: Any, name: Any, content_type: Any) -> None:
    bundle = file_mimebundle(url, name, content_type)
    assert isinstance(bundle["text/plain"], str)
    assert_inert(bundle["text/html"])
