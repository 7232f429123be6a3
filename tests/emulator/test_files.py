"""Output files served end to end: downloaded without a key and opened with real decoders."""

from __future__ import annotations

import io
import wave
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import httpx
import pytest
from PIL import Image

Wait = Callable[..., dict[str, Any]]


def run(http: httpx.Client, wait_for: Wait, model: str, input: dict[str, Any]) -> dict[str, Any]:
    response = http.post("/predictions", json={"model": model, "input": input})
    assert response.status_code == 200, response.text
    done = wait_for(response.json()["id"])
    assert done["status"] == "succeeded"
    return done


def only_file(anon: httpx.Client, done: dict[str, Any]) -> httpx.Response:
    """The one output of an audio or video prediction (an array of one URL), downloaded; its
    size is the one the prediction stated when it succeeded."""
    (url,) = done["output"]
    (stated,) = done["metadata"]["storage"]["files"]
    response = anon.get(url)
    assert response.status_code == 200 and stated["url"] == url
    assert type(stated["size"]) is int and stated["size"] == len(response.content)
    return response


@pytest.mark.parametrize(
    ("output_format", "aspect_ratio", "pil_format", "content_type", "size"),
    [
        ("webp", "1:1", "WEBP", "image/webp", (1024, 1024)),
        ("png", "16:9", "PNG", "image/png", (1024, 576)),
        ("jpg", "9:16", "JPEG", "image/jpeg", (576, 1024)),
    ],
)
def test_images(
    http: httpx.Client,
    anon: httpx.Client,
    wait_for: Wait,
    output_format: str,
    aspect_ratio: str,
    pil_format: str,
    content_type: str,
    size: tuple[int, int],
) -> None:
    input = {"prompt": "a lighthouse", "output_format": output_format, "aspect_ratio": aspect_ratio}
    done = run(http, wait_for, "truefusion-pro", {**input, "num_outputs": 2})
    assert len(done["output"]) == 2
    for url in done["output"]:
        response = anon.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == content_type
        image = Image.open(io.BytesIO(response.content))
        assert image.format == pil_format and image.size == size
    files = done["metadata"]["storage"]["files"]  # sizes as stated at success, before any download
    assert [f["size"] for f in files] == [len(anon.get(url).content) for url in done["output"]]


def test_speech_is_a_wav(http: httpx.Client, anon: httpx.Client, wait_for: Wait) -> None:
    done = run(http, wait_for, "skytells-tts", {"text": "Hello from the emulator."})
    response = only_file(anon, done)
    assert response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as audio:
        assert audio.getnchannels() == 1 and audio.getsampwidth() == 2
        assert audio.getnframes() / audio.getframerate() > 0.5


def test_music_lasts_its_duration(http: httpx.Client, anon: httpx.Client, wait_for: Wait) -> None:
    done = run(http, wait_for, "beatfusion-2.0", {"prompt": "lofi", "lyrics": "la", "duration": 5})
    with wave.open(io.BytesIO(only_file(anon, done).content)) as audio:
        assert audio.getnframes() / audio.getframerate() == pytest.approx(5, abs=0.1)


def test_video_is_an_mp4_of_the_requested_length(
    http: httpx.Client, anon: httpx.Client, wait_for: Wait
) -> None:
    done = run(http, wait_for, "mera", {"prompt": "drone shot", "seconds": "4", "size": "640x360"})
    response = only_file(anon, done)
    assert response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(response.content)) as container:
        stream = container.streams.video[0]
        assert stream.type == "video"
        assert (stream.codec_context.width, stream.codec_context.height) == (640, 360)
        assert container.duration / av.time_base == pytest.approx(4, abs=0.5)


def test_concurrent_first_downloads_all_succeed(
    http: httpx.Client, anon: httpx.Client, emu: Any, wait_for: Wait
) -> None:
    done = run(http, wait_for, "flux-edge", {"prompt": "x"})
    url = done["output"][0]
    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: anon.get(url), range(5)))
    assert [r.status_code for r in responses] == [200] * 5
    assert len({r.content for r in responses}) == 1
    assert emu.state()["predictions"][0]["files"][0]["rendered"] is True


@pytest.mark.parametrize("name", ["out-1.webp", "out-0.png", "..%2Fsecret", "out-0.webp%2F"])
def test_unknown_files_are_404(
    http: httpx.Client, anon: httpx.Client, wait_for: Wait, name: str
) -> None:
    done = run(http, wait_for, "flux-edge", {"prompt": "x"})
    response = anon.get(f"/files/{done['id']}/{name}")
    assert response.status_code == 404
    assert response.json()["status"] is False


def test_files_of_failed_and_deleted_predictions_are_404(
    http: httpx.Client, anon: httpx.Client, emu: Any, wait_for: Wait
) -> None:
    done = run(http, wait_for, "flux-edge", {"prompt": "x"})
    http.delete(f"/predictions/{done['id']}")
    assert anon.get(done["output"][0]).status_code == 404
    emu.fail_next()
    created = http.post("/predictions", json={"model": "flux-edge", "input": {"prompt": "x"}})
    failed = wait_for(created.json()["id"])
    assert failed["status"] == "failed"
    assert anon.get(f"/files/{failed['id']}/out-0.webp").status_code == 404
