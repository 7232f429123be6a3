"""The emulator's output files are real: Pillow, PyAV and `wave` open them with the promised shape."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from skytells.emulator._outputs import (
    IMAGE_ASPECT_RATIOS,
    VIDEO_FPS,
    PlannedOutput,
    generate_text,
    image_size,
    plan_outputs,
    render_output,
)

EXPECTED_SIZES = {
    "1:1": (1024, 1024),
    "16:9": (1024, 576),
    "9:16": (576, 1024),
    "4:3": (1024, 768),
    "3:4": (768, 1024),
    "3:2": (1024, 688),
    "2:3": (688, 1024),
    "21:9": (1024, 432),
}


def _render(
    tmp_path: Path, model_type: str, slug: str, input: dict[str, Any], index: int = 0
) -> Path:
    planned = plan_outputs(model_type, slug, input)
    dest = tmp_path / f"{len(list(tmp_path.iterdir()))}-{planned[index].filename}"
    render_output(model_type, slug, input, index, dest)
    return dest


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------- plan


def test_plan_image_defaults() -> None:
    assert plan_outputs("image", "truefusion", {"prompt": "a cat"}) == [
        PlannedOutput("out-0.webp", "image/webp")
    ]


def test_plan_image_many_outputs_and_formats() -> None:
    planned = plan_outputs("image", "flux-pro", {"num_outputs": 3, "output_format": "jpg"})
    assert [p.filename for p in planned] == ["out-0.jpg", "out-1.jpg", "out-2.jpg"]
    assert {p.content_type for p in planned} == {"image/jpeg"}
    planned = plan_outputs("image", "flux-pro", {"num_outputs": 4, "output_format": "png"})
    assert [p.filename for p in planned][-1] == "out-3.png"
    assert planned[0].content_type == "image/png"


def test_plan_other_types() -> None:
    assert plan_outputs("video", "mera", {}) == [PlannedOutput("out-0.mp4", "video/mp4")]
    assert plan_outputs("music", "beatfusion-2.0", {}) == [PlannedOutput("out-0.wav", "audio/wav")]
    assert plan_outputs("audio", "skytells-tts", {"text": "hi"}) == [
        PlannedOutput("out-0.wav", "audio/wav")
    ]
    assert plan_outputs("text", "skytells-chat", {"prompt": "hi"}) == []


def test_render_rejects_an_index_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_output("image", "truefusion", {"prompt": "x"}, 1, tmp_path / "out-1.webp")
    with pytest.raises(ValueError):
        render_output("text", "skytells-chat", {"prompt": "x"}, 0, tmp_path / "out-0.txt")


# --------------------------------------------------------------------------------------- images


@pytest.mark.parametrize("aspect_ratio", sorted(IMAGE_ASPECT_RATIOS))
def test_image_size_per_aspect_ratio(aspect_ratio: str) -> None:
    width, height = image_size(aspect_ratio)
    assert (width, height) == EXPECTED_SIZES[aspect_ratio]
    assert max(width, height) == 1024
    assert width % 16 == 0 and height % 16 == 0


@pytest.mark.parametrize(
    ("aspect_ratio", "output_format", "pil_format"),
    [
        ("1:1", "webp", "WEBP"),
        ("16:9", "png", "PNG"),
        ("9:16", "jpg", "JPEG"),
        ("4:3", "webp", "WEBP"),
        ("3:4", "png", "PNG"),
        ("3:2", "jpg", "JPEG"),
        ("2:3", "webp", "WEBP"),
        ("21:9", "png", "PNG"),
    ],
)
def test_image_file_has_size_and_format(
    tmp_path: Path, aspect_ratio: str, output_format: str, pil_format: str
) -> None:
    input = {
        "prompt": "A city at dusk",
        "aspect_ratio": aspect_ratio,
        "output_format": output_format,
    }
    path = _render(tmp_path, "image", "truefusion-pro", input)
    with Image.open(path) as image:
        assert image.format == pil_format
        assert image.size == EXPECTED_SIZES[aspect_ratio]
        image.load()


def test_image_defaults_are_square_webp(tmp_path: Path) -> None:
    path = _render(tmp_path, "image", "truefusion", {"prompt": "a cat"})
    with Image.open(path) as image:
        assert (image.format, image.size) == ("WEBP", (1024, 1024))


def test_image_is_deterministic(tmp_path: Path) -> None:
    input = {"prompt": "a red fox", "seed": 7, "output_format": "png"}
    first = _render(tmp_path, "image", "truefusion", input)
    second = _render(tmp_path, "image", "truefusion", dict(input))
    assert _digest(first) == _digest(second)
    # Omitted defaults and explicit defaults are the same input.
    implicit = _render(tmp_path, "image", "truefusion", {"prompt": "a cat"})
    explicit = _render(
        tmp_path,
        "image",
        "truefusion",
        {"prompt": "a cat", "aspect_ratio": "1:1", "num_outputs": 1, "output_format": "webp"},
    )
    assert _digest(implicit) == _digest(explicit)


def test_image_varies_with_seed_index_and_model(tmp_path: Path) -> None:
    base = {"prompt": "a red fox", "output_format": "png", "num_outputs": 2}
    seeded_1 = _render(tmp_path, "image", "truefusion", {**base, "seed": 1})
    seeded_2 = _render(tmp_path, "image", "truefusion", {**base, "seed": 2})
    second_index = _render(tmp_path, "image", "truefusion", {**base, "seed": 1}, index=1)
    other_model = _render(tmp_path, "image", "flux-pro", {**base, "seed": 1})
    digests = {_digest(p) for p in (seeded_1, seeded_2, second_index, other_model)}
    assert len(digests) == 4
    with Image.open(seeded_1) as a, Image.open(seeded_2) as b:
        assert a.convert("RGB").tobytes() != b.convert("RGB").tobytes()


# ---------------------------------------------------------------------------------------- video


def _probe(path: Path) -> tuple[int, int, float, int, str]:
    with av.open(str(path)) as container:
        assert len(container.streams.video) == 1
        stream = container.streams.video[0]
        decoded = sum(1 for _ in container.decode(video=0))
        assert container.duration is not None
        return (
            stream.width,
            stream.height,
            container.duration / 1_000_000,
            decoded,
            stream.codec_context.pix_fmt,
        )


def test_video_default_is_4s_1280x720(tmp_path: Path) -> None:
    path = _render(tmp_path, "video", "mera", {"prompt": "a drone flight over a city"})
    width, height, duration, frames, pix_fmt = _probe(path)
    assert (width, height) == (1280, 720)
    assert duration == pytest.approx(4.0, abs=0.2)
    assert frames == 4 * VIDEO_FPS
    assert pix_fmt == "yuv420p"


@pytest.mark.parametrize(("size", "seconds"), [("640x360", "8"), ("720x1280", "4")])
def test_video_size_and_duration(tmp_path: Path, size: str, seconds: str) -> None:
    path = _render(tmp_path, "video", "mera", {"prompt": "waves", "size": size, "seconds": seconds})
    width, height, duration, frames, _ = _probe(path)
    assert f"{width}x{height}" == size
    assert duration == pytest.approx(float(seconds), abs=0.2)
    assert frames == int(seconds) * VIDEO_FPS


def test_video_is_deterministic(tmp_path: Path) -> None:
    input = {"prompt": "waves", "size": "640x360", "seconds": "4"}
    first = _render(tmp_path, "video", "mera", input)
    second = _render(tmp_path, "video", "mera", dict(input))
    other = _render(tmp_path, "video", "mera", {**input, "prompt": "clouds"})
    assert _digest(first) == _digest(second)
    assert _digest(first) != _digest(other)


# ---------------------------------------------------------------------------------------- audio


def _wav(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as wav:
        frames = wav.readframes(wav.getnframes())
        assert len(frames) == wav.getnframes() * wav.getnchannels() * wav.getsampwidth()
        assert any(frames), "the track is not silent"
        return (
            wav.getnchannels(),
            wav.getsampwidth(),
            wav.getframerate(),
            wav.getnframes() / wav.getframerate(),
        )


def test_music_default_duration(tmp_path: Path) -> None:
    path = _render(tmp_path, "music", "beatfusion-2.0", {"prompt": "lofi beat"})
    channels, width, rate, duration = _wav(path)
    assert (channels, width) == (1, 2)
    assert rate in (22050, 24000)
    assert duration == pytest.approx(10.0, abs=0.01)


def test_music_duration_and_determinism(tmp_path: Path) -> None:
    input = {"prompt": "synthwave", "lyrics": "la la la", "duration": 3}
    first = _render(tmp_path, "music", "beatfusion-2.0", input)
    second = _render(tmp_path, "music", "beatfusion-2.0", dict(input))
    other = _render(tmp_path, "music", "beatfusion-2.0", {**input, "prompt": "jazz"})
    assert _wav(first)[3] == pytest.approx(3.0, abs=0.01)
    assert _digest(first) == _digest(second)
    assert _digest(first) != _digest(other)


@pytest.mark.parametrize(
    ("text", "speed", "expected"),
    [
        ("Hi.", None, 1.0),  # minimum 1 s
        ("x" * 100, None, 6.0),  # 0.06 s a character
        ("x" * 100, 2.0, 3.0),  # faster speech, shorter audio
        ("x" * 5000, None, 30.0),  # maximum 30 s
    ],
)
def test_speech_duration(tmp_path: Path, text: str, speed: float | None, expected: float) -> None:
    input: dict[str, Any] = {"text": text, "voice": "alloy"}
    if speed is not None:
        input["speed"] = speed
    channels, width, rate, duration = _wav(_render(tmp_path, "audio", "skytells-tts", input))
    assert (channels, width) == (1, 2)
    assert rate in (22050, 24000)
    assert duration == pytest.approx(expected, abs=0.01)


def test_speech_is_deterministic_and_voice_dependent(tmp_path: Path) -> None:
    input = {"text": "Hello from the emulator.", "voice": "alloy"}
    first = _render(tmp_path, "audio", "skytells-tts", input)
    second = _render(tmp_path, "audio", "skytells-tts", dict(input))
    other = _render(tmp_path, "audio", "skytells-tts", {**input, "voice": "nova"})
    assert _digest(first) == _digest(second)
    assert _digest(first) != _digest(other)


# ----------------------------------------------------------------------------------------- text


def test_text_pieces_join_into_an_answer() -> None:
    pieces = generate_text("skytells-chat", {"prompt": "How do I bake bread?"})
    assert pieces and all(isinstance(piece, str) and piece for piece in pieces)
    text = "".join(pieces)
    assert "bake bread" in text
    assert len(pieces) <= 256
    assert generate_text("skytells-chat", {"prompt": "How do I bake bread?"}) == pieces
    assert generate_text("skytells-chat", {"prompt": "Why is the sky blue?"}) != pieces


@pytest.mark.parametrize("max_tokens", [1, 5, 20])
def test_text_is_bounded_by_max_tokens(max_tokens: int) -> None:
    pieces = generate_text(
        "skytells-chat", {"prompt": "Explain recursion", "max_tokens": max_tokens}
    )
    assert 1 <= len(pieces) <= max_tokens


def test_text_without_prompt_uses_messages() -> None:
    input = {"messages": [{"role": "user", "content": "tell me about otters"}]}
    assert "otters" in "".join(generate_text("skytells-chat", input))
    assert "".join(generate_text("skytells-chat", {}))
