"""Saving outputs to disk: real files from the emulator, streamed, named, retried, key-free."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import skytells
from skytells import AsyncSkytellsClient, Prediction, SkytellsClient
from tests.scripted_server import Reply, ScriptedServer

pytestmark = pytest.mark.both_clients  # the default client and an http_client= one


def test_save_every_image_into_a_folder(client: SkytellsClient, tmp_path: Path) -> None:
    prediction = client.run(
        "flux-pro",
        input={
            "prompt": "two foxes",
            "num_outputs": 2,
            "output_format": "jpg",
            "aspect_ratio": "4:3",
        },
    )
    progress: list[tuple[Path, int, int | None]] = []
    paths = prediction.save(
        tmp_path, on_progress=lambda p, done, total: progress.append((p, done, total))
    )
    assert [p.name for p in paths] == [
        f"{prediction.id}-out-0.jpg",
        f"{prediction.id}-out-1.jpg",
    ]
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size[0] > image.size[1]
    assert progress and progress[-1][1] == progress[-1][2] == paths[-1].stat().st_size
    assert not list(tmp_path.glob("*.part"))


def test_save_a_single_output_to_a_file_path(client: SkytellsClient, tmp_path: Path) -> None:
    prediction = client.run("beatfusion-2.0", input={"prompt": "lofi", "duration": 5})
    (path,) = prediction.download(tmp_path / "song.wav")
    assert path == tmp_path / "song.wav"
    with wave.open(str(path)) as audio:
        assert audio.getnframes() / audio.getframerate() == pytest.approx(5, abs=0.1)


def test_text_outputs_are_written_as_text(client: SkytellsClient, tmp_path: Path) -> None:
    prediction = client.run("skytells-chat", input={"prompt": "hello"})
    (path,) = prediction.save(tmp_path)
    assert path.suffix == ".txt" and path.read_text() == prediction.output


def test_purged_outputs_raise_a_clear_error(
    client: SkytellsClient, emu: Any, tmp_path: Path, poll: Callable[..., Any]
) -> None:
    emu.configure(retention_seconds=0.2)
    prediction = client.run("flux-edge", input={"prompt": "x"})
    poll(lambda: client.predictions.get(prediction.id), lambda p: p.get("data_removed"), 10, 0.05)
    with pytest.raises(skytells.NotFoundError, match="no longer available") as info:
        prediction.save(tmp_path)
    assert info.value.error_id == "OUTPUT_NOT_FOUND"
    assert not list(tmp_path.iterdir())


def test_downloads_send_no_api_key_and_retry(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script(
        Reply(503, "busy", content_type="text/plain"),
        Reply(200, b"\x89PNG fake bytes", content_type="image/png"),
    )
    url = scripted.base_url.replace("/v1", "/files/abc/render")  # no extension in the URL
    with SkytellsClient(
        "sk-secret-for-api-only", base_url="http://127.0.0.1:9/v1", retry={"retry_delay": 1}
    ) as client:
        (path,) = client.save_outputs(
            {"id": "abcdef123", "status": "succeeded", "output": url}, tmp_path
        )
    assert path.name == "abcdef123-render.png" and path.read_bytes() == b"\x89PNG fake bytes"
    assert len(scripted.requests) == 2
    assert all(
        "x-api-key" not in r.headers and "authorization" not in r.headers for r in scripted.requests
    )


def test_downloads_follow_redirects_to_another_host_without_any_key(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    with ScriptedServer().running() as cdn:
        cdn.script(Reply(200, b"\x89PNG moved bytes", content_type="image/png"))
        moved = cdn.base_url.replace("/v1", "/cdn/abc/render.png")
        scripted.script(Reply(302, b"", headers={"location": moved}))
        url = scripted.base_url.replace("/v1", "/files/abc/render.png")
        with SkytellsClient("sk-secret-for-api-only", base_url=scripted.base_url) as client:
            (path,) = client.save_outputs(
                {"id": "abcdef123", "status": "succeeded", "output": [url]}, tmp_path
            )
        assert path.read_bytes() == b"\x89PNG moved bytes"
        seen = scripted.requests + cdn.requests
    assert [r.path for r in seen] == ["/files/abc/render.png", "/cdn/abc/render.png"]
    assert all("x-api-key" not in r.headers and "authorization" not in r.headers for r in seen)


def test_nothing_to_save(client: SkytellsClient, tmp_path: Path) -> None:
    pending = Prediction(client, {"id": "p", "status": "processing", "output": None})
    with pytest.raises(skytells.SkytellsError, match="no output"):
        pending.save(tmp_path)


@pytest.mark.anyio
async def test_async_save(aclient: AsyncSkytellsClient, tmp_path: Path) -> None:
    prediction = await aclient.run("truefusion", input={"prompt": "x", "output_format": "png"})
    (path,) = await prediction.save(tmp_path)
    with Image.open(path) as image:
        assert image.format == "PNG"
