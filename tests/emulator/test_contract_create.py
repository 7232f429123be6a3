"""Creating predictions: both paths, the prediction object, `await`, validation errors."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator, EmulatorConfig
from skytells.emulator._config import DEFAULT_AWAIT_LIMIT

ISO_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
"""The real answers' form: microseconds and a Z (`2026-01-01T00:00:00.000000Z`)."""
PREDICTION_KEYS = {
    "id",
    "status",
    "type",
    "stream",
    "input",
    "output",
    "response",
    "error",
    "created_at",
    "started_at",
    "completed_at",
    "updated_at",
    "privacy",
    "source",
    "model",
    "webhook",
    "metrics",
    "metadata",
    "urls",
    "data_removed",
}


def create(http: httpx.Client, body: dict[str, Any], path: str = "/predictions") -> httpx.Response:
    return http.post(path, json=body)


def error_of(response: httpx.Response, status: int, error_id: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] is False and body["response"] == body["error"]["message"]
    assert body["error"]["http_status"] == status and body["error"]["error_id"] == error_id
    return dict(body["error"])


@pytest.mark.parametrize("path", ["/predict", "/predictions"])
def test_create_answers_a_pending_prediction(http: httpx.Client, emu: Emulator, path: str) -> None:
    response = create(http, {"model": "truefusion", "input": {"prompt": "a cat"}}, path)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == PREDICTION_KEYS
    assert str(uuid.UUID(body["id"])) == body["id"]
    assert body["status"] == "pending" and body["output"] is None and body["error"] is None
    assert body["type"] == "inference" and body["source"] == "api"
    assert body["privacy"] == "private" and body["stream"] is False
    assert body["model"] == {"name": "truefusion", "type": "image"}
    assert body["input"] == {"prompt": "a cat"}
    assert body["webhook"] == {"url": None, "events": []}
    assert ISO_UTC.fullmatch(body["created_at"]) and ISO_UTC.fullmatch(body["updated_at"])
    assert body["started_at"] is None and body["completed_at"] is None
    assert body["metrics"]["progress"] == 0
    assert body["metadata"]["data_available"] is False and body["data_removed"] is False
    base = f"{emu.base_url}/predictions/{body['id']}"
    assert body["urls"] == {
        "get": base,
        "cancel": f"{base}/cancel",
        "stream": f"{base}/stream",
        "delete": f"{base}/delete",
    }


def test_await_holds_until_succeeded(http: httpx.Client, anon: httpx.Client, emu: Emulator) -> None:
    emu.configure(time_scale=0.01)
    body = create(
        http, {"model": "truefusion-pro", "input": {"prompt": "x", "num_outputs": 2}, "await": True}
    ).json()
    assert body["status"] == "succeeded"
    assert ISO_UTC.fullmatch(body["started_at"]) and ISO_UTC.fullmatch(body["completed_at"])
    assert len(body["output"]) == 2
    assert all(url.startswith(f"{emu.root_url}/files/{body['id']}/") for url in body["output"])
    metrics = body["metrics"]
    assert metrics["progress"] == 100 and metrics["image_count"] == metrics["asset_count"] == 2
    assert metrics["total_time"] >= metrics["predict_time"] >= 0
    assert body["metadata"]["billing"]["credits_used"] == pytest.approx(0.10)
    files = body["metadata"]["storage"]["files"]
    assert [f["url"] for f in files] == body["output"]
    assert all(f["type"] == "image/webp" for f in files)
    assert body["metadata"]["data_available"] is True
    # Sizes are integers from the moment of success, and exact: typed clients decode them.
    assert all(type(f["size"]) is int and f["size"] > 0 for f in files)
    assert [len(anon.get(f["url"]).content) for f in files] == [f["size"] for f in files]


def test_await_is_bounded_by_await_limit(http: httpx.Client, emu: Emulator) -> None:
    emu.configure(time_scale=1.0, await_limit=0.2)
    body = create(http, {"model": "truefusion", "input": {"prompt": "x"}, "await": True}).json()
    assert body["status"] in ("pending", "starting", "processing")


def test_the_default_hold_answers_before_the_official_clients_60_s_timeout() -> None:
    # The official clients give up after 60 s: a hold as long as that ends unpredictably for
    # them, so the emulator answers a held create (still running, then) well before.
    assert EmulatorConfig().await_limit == Emulator().config.await_limit == 50.0
    assert DEFAULT_AWAIT_LIMIT <= 60.0 - 10.0


def test_video_ignores_await(http: httpx.Client, emu: Emulator) -> None:
    emu.configure(time_scale=1.0)
    body = create(http, {"model": "mera", "input": {"prompt": "x"}, "await": True}).json()
    assert body["status"] == "pending"


@pytest.mark.parametrize(
    ("model", "input", "output_kind", "credits"),
    [
        ("flux-edge", {"prompt": "x", "num_outputs": 3}, list, 0.009),
        # File outputs are arrays of URLs, audio and video included (as in the real answers).
        ("mera", {"prompt": "x", "seconds": "8"}, list, 3.42),
        ("beatfusion-2.0", {"prompt": "x", "lyrics": "la la", "duration": 20}, list, 0.4),
        ("skytells-tts", {"text": "hello there"}, list, 11 * 0.000015),
        ("skytells-chat", {"prompt": "hi", "max_tokens": 8}, str, 8 * 0.000002),
    ],
)
def test_outputs_and_billing_by_model_type(
    http: httpx.Client,
    wait_for: Callable[..., dict[str, Any]],
    model: str,
    input: dict[str, Any],
    output_kind: type,
    credits: float,
) -> None:
    created = create(http, {"model": model, "input": input}).json()
    done = wait_for(created["id"])
    assert done["status"] == "succeeded"
    assert isinstance(done["output"], output_kind)
    assert done["metadata"]["billing"]["credits_used"] == pytest.approx(credits)
    if model == "skytells-chat":
        assert done["output"] and not done["output"].startswith("http")
        assert done["metadata"]["storage"]["files"] == [] and done["metrics"]["asset_count"] == 0
    else:
        files = done["metadata"]["storage"]["files"]
        assert done["output"] == [f["url"] for f in files]
        assert done["metrics"]["asset_count"] == len(files) == (3 if model == "flux-edge" else 1)
        assert all(type(f["size"]) is int and f["size"] > 0 for f in files)


def test_webhook_as_object_or_bare_url_and_stream_flag(http: httpx.Client) -> None:
    hook = {"url": "https://example.com/hook", "events": ["prediction.succeeded"]}
    body = create(
        http, {"model": "truefusion", "input": {"prompt": "x"}, "webhook": hook, "stream": True}
    ).json()
    assert body["webhook"] == hook and body["stream"] is True
    body = create(
        http, {"model": "truefusion", "input": {"prompt": "x"}, "webhook": "https://e.com/h"}
    ).json()
    assert body["webhook"] == {"url": "https://e.com/h", "events": ["completed", "failed"]}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"input": {"prompt": "x"}}, {"model"}),
        ({"model": "truefusion"}, {"input"}),
        ({}, {"model", "input"}),
        ({"model": 3, "input": "prompt"}, {"model", "input"}),
        ({"model": "truefusion", "input": {"prompt": "x"}, "await": "yes"}, {"await"}),
        ({"model": "truefusion", "input": {"prompt": "x"}, "stream": 1}, {"stream"}),
        ({"model": "truefusion", "input": {"prompt": "x"}, "webhook": 5}, {"webhook.url"}),
        (
            {"model": "truefusion", "input": {"prompt": "x"}, "webhook": {"url": "h://x"}},
            {"webhook.url"},
        ),
    ],
)
def test_malformed_create_body_is_validation_error(
    http: httpx.Client, body: dict[str, Any], fields: set[str]
) -> None:
    error = error_of(create(http, body), 422, "VALIDATION_ERROR")
    assert set(error["details"]["fields"]) == fields


def test_schema_violations_are_invalid_input_naming_every_field(http: httpx.Client) -> None:
    body = {
        "model": "truefusion-pro",
        "input": {
            "num_outputs": 5,
            "aspect_ratio": "5:4",
            "output_format": "gif",
            "guidance": "high",
            "negative_prompt": "blur",
        },
    }
    error = error_of(create(http, body), 422, "INVALID_INPUT")
    fields = error["details"]["fields"]
    assert set(fields) == {
        "prompt",
        "num_outputs",
        "aspect_ratio",
        "output_format",
        "guidance",
        "negative_prompt",
    }
    assert fields["num_outputs"] == "5 is greater than the maximum of 4"


def test_image_input_only_where_image_to_image_is_supported(http: httpx.Client) -> None:
    url = "https://example.com/in.png"
    ok = create(http, {"model": "truefusion-pro", "input": {"prompt": "x", "image": url}})
    assert ok.status_code == 200
    refused = create(http, {"model": "truefusion-edge", "input": {"prompt": "x", "image": url}})
    assert set(error_of(refused, 422, "INVALID_INPUT")["details"]["fields"]) == {"image"}


PNG_DATA = (  # a whole 1x1 PNG
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNgYGAAAAAEAAH2FzhVAAAAAElFTkSuQmCC"
)


def test_a_uri_input_takes_http_urls_and_data_uris_not_local_files(http: httpx.Client) -> None:
    """`format: uri` (the image of image-to-image): a URL the service can fetch, or the file
    itself in a `data:` URI; a path or a `file:` URL names a file only the caller can read.
    The image of image-to-image is an image: a well-formed `data:` URI carrying anything else
    is refused too (`test_a_data_uri_for_an_image_must_hold_an_image`)."""
    accepted = [
        "https://example.com/in.png",
        "http://127.0.0.1:9/in.webp?x=1",
        PNG_DATA,
        "DATA:image/png;base64," + PNG_DATA.partition(",")[2],  # schemes: any case
        "HTTPS://Example.COM/in.png",
        "https://[::1]:8080/in.png",
        "https://user@example.com:443/a%20b.png#frag",
        "https://bücher.example/in.png",  # an internationalised name
    ]
    refused = [
        "/home/me/in.png",
        "in.png",
        "file:///etc/passwd",
        "file://localhost/tmp/in.png",
        "ftp://example.com/in.png",
        "https://",
        "data:image/png;base64",
        "C:\\images\\in.png",
        # What an outsider found accepted: whitespace and control characters, bad escapes,
        # bad hosts and ports, data that is not base64.
        "http://exa mple.com/a.png",
        "http://\x00/x",
        "https://%zz/",
        "https://example.com/%zz.png",
        "https://example.com:99999/a.png",
        "https://example.com:0/a.png",
        "http://-/",
        "https://[127.0.0.1]/a.png",
        "https://999.1.1.1/a.png",
        " https://example.com/a.png",
        "https://example.com/a.png ",
        "https://example.com\n/a.png",
        "https://example.com/a\tb.png",
        "data:image/png;base64,!!!notbase64",
        "data:image/png;base64,iVBORw0",  # bad padding
        "data:text/plain,a b",
    ]
    for url in accepted:
        ok = create(http, {"model": "truefusion-pro", "input": {"prompt": "x", "image": url}})
        assert ok.status_code == 200, (url, ok.text)
    for url in refused:
        answer = create(http, {"model": "truefusion-pro", "input": {"prompt": "x", "image": url}})
        assert set(error_of(answer, 422, "INVALID_INPUT")["details"]["fields"]) == {"image"}, url


def test_a_data_uri_for_an_image_must_hold_an_image(http: httpx.Client) -> None:
    """Well-formed `data:` URIs (RFC 2397) that carry no image, or a truncated one, are refused
    for the image of image-to-image, naming the field."""
    for url in (
        "data:,a",
        "data:,",  # RFC 2397: empty data
        "DATA:,a",
        "data:text/plain;charset=utf-8,hello%20world",
        "data:image/png;base64," + PNG_DATA.partition(",")[2][:40],  # cut short
    ):
        answer = create(http, {"model": "truefusion-pro", "input": {"prompt": "x", "image": url}})
        fields = error_of(answer, 422, "INVALID_INPUT")["details"]["fields"]
        assert set(fields) == {"image"}, url
        assert "does not hold an image" in fields["image"], url


@pytest.mark.parametrize(
    ("model", "input", "fields"),
    [
        ("mera", {"prompt": "x", "seconds": 8, "size": "1920x1080"}, {"seconds", "size"}),
        ("beatfusion-2.0", {"prompt": "x", "duration": 61}, {"duration"}),
        ("skytells-tts", {"prompt": "x", "voice": "robot"}, {"text", "prompt", "voice"}),
        (
            "skytells-chat",
            {"prompt": "x", "max_tokens": 0, "temperature": 3},
            {"max_tokens", "temperature"},
        ),
    ],
)
def test_invalid_input_for_other_model_types(
    http: httpx.Client, model: str, input: dict[str, Any], fields: set[str]
) -> None:
    error = error_of(create(http, {"model": model, "input": input}), 422, "INVALID_INPUT")
    assert set(error["details"]["fields"]) == fields


def test_unknown_model_is_model_not_found(http: httpx.Client) -> None:
    for slug in ("no-such-model", "flux.2-pro"):
        error_of(create(http, {"model": slug, "input": {"prompt": "x"}}), 404, "MODEL_NOT_FOUND")


def test_malformed_json_is_invalid_request(http: httpx.Client) -> None:
    response = http.post(
        "/predictions", content=b'{"model": ', headers={"content-type": "application/json"}
    )
    error_of(response, 400, "INVALID_REQUEST")
    error_of(http.post("/predict", json=["model"]), 400, "INVALID_REQUEST")
