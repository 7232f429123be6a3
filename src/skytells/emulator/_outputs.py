"""Real, deterministic output files for the emulator's predictions.

Images are drawn with Pillow (WebP, PNG or JPEG), videos are encoded to H.264 MP4 with PyAV's
bundled FFmpeg, music and speech are synthesised into 16-bit PCM WAV with the standard library, and
text models answer with templated prose split into token-sized pieces.

Everything is a pure function of (model, input): the same input always gives the same bytes, so
tests can compare outputs, and a different ``seed`` gives a different result. Rendering is kept
cheap (tens of milliseconds for an image, a second or two for the longest video) because the
emulator renders for real on every prediction.
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import json
import math
import random
import sys
import textwrap
import wave
from array import array
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from ._input_files import input_image

__all__ = [
    "IMAGE_ASPECT_RATIOS",
    "VIDEO_FPS",
    "PlannedOutput",
    "audio_duration",
    "generate_text",
    "image_size",
    "plan_outputs",
    "render_output",
]

IMAGE_ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1, 1),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "3:2": (3, 2),
    "2:3": (2, 3),
    "21:9": (21, 9),
}
"""Aspect ratios the image models accept, as (width, height) proportions."""

_IMAGE_LONG_SIDE = 1024
_IMAGE_FORMATS: dict[str, tuple[str, str, str]] = {
    # output_format -> (file extension, Pillow format, content type)
    "webp": ("webp", "WEBP", "image/webp"),
    "png": ("png", "PNG", "image/png"),
    "jpg": ("jpg", "JPEG", "image/jpeg"),
    "jpeg": ("jpg", "JPEG", "image/jpeg"),
}
_MAX_IMAGE_OUTPUTS = 4

VIDEO_FPS = 8
"""Frame rate of emulated videos: low, so that rendering stays fast."""
_VIDEO_MAX_SECONDS = 60
_VIDEO_MAX_SIDE = 1920

_MUSIC_RATE = 22050
_SPEECH_RATE = 24000
_MUSIC_DEFAULT_SECONDS = 10
_MUSIC_MAX_SECONDS = 600
_SPEECH_SECONDS_PER_CHAR = 0.06
_SPEECH_MIN_SECONDS = 1.0
_SPEECH_MAX_SECONDS = 30.0

_TEXT_DEFAULT_MAX_TOKENS = 256


@dataclass(frozen=True)
class PlannedOutput:
    """One file a prediction will produce: its file name and its MIME type."""

    filename: str
    content_type: str


# --------------------------------------------------------------------------------------------
# Input normalisation and seeds
# --------------------------------------------------------------------------------------------


def _str_input(input: dict[str, Any], key: str, default: str) -> str:
    value = input.get(key)
    if value is None:
        return default
    return str(value)


def _int_input(input: dict[str, Any], key: str, default: int) -> int:
    value = input.get(key)
    if isinstance(value, bool) or value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float_input(input: dict[str, Any], key: str, default: float) -> float:
    value = input.get(key)
    if isinstance(value, bool) or value is None:
        return default
    try:
        result = float(value)
    except (TypeError, ValueError):
        return default
    return result if math.isfinite(result) else default


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _image_format(input: dict[str, Any]) -> tuple[str, str, str]:
    fmt = _str_input(input, "output_format", "webp").lower()
    return _IMAGE_FORMATS.get(fmt, _IMAGE_FORMATS["webp"])


def _num_outputs(input: dict[str, Any]) -> int:
    return _clamp(_int_input(input, "num_outputs", 1), 1, _MAX_IMAGE_OUTPUTS)


def image_size(aspect_ratio: str | None) -> tuple[int, int]:
    """Pixel size for an aspect ratio: long side 1024, short side rounded to a multiple of 16."""
    ratio_w, ratio_h = IMAGE_ASPECT_RATIOS.get(aspect_ratio or "1:1", (1, 1))
    if ratio_w >= ratio_h:
        short = round(_IMAGE_LONG_SIDE * ratio_h / ratio_w / 16) * 16
        return _IMAGE_LONG_SIDE, short
    short = round(_IMAGE_LONG_SIDE * ratio_w / ratio_h / 16) * 16
    return short, _IMAGE_LONG_SIDE


def _video_params(input: dict[str, Any]) -> tuple[int, int, int]:
    """(width, height, seconds) of a video, with the documented defaults."""
    seconds = _clamp(_int_input(input, "seconds", 4), 1, _VIDEO_MAX_SECONDS)
    size = _str_input(input, "size", "1280x720").lower()
    try:
        width_text, height_text = size.split("x", 1)
        width, height = int(width_text), int(height_text)
    except ValueError:
        width, height = 1280, 720
    if not (16 <= width <= _VIDEO_MAX_SIDE and 16 <= height <= _VIDEO_MAX_SIDE):
        width, height = 1280, 720
    # yuv420p needs even dimensions.
    return width - width % 2, height - height % 2, seconds


def audio_duration(model_type: str, input: dict[str, Any]) -> float:
    """Duration in seconds of a music or speech output, with the documented defaults."""
    if model_type == "music":
        requested = _int_input(input, "duration", _MUSIC_DEFAULT_SECONDS)
        return float(_clamp(requested, 1, _MUSIC_MAX_SECONDS))
    text = _str_input(input, "text", "") or _str_input(input, "prompt", "")
    speed = _float_input(input, "speed", 1.0)
    seconds = len(text) * _SPEECH_SECONDS_PER_CHAR / min(4.0, max(0.25, speed))
    return min(_SPEECH_MAX_SECONDS, max(_SPEECH_MIN_SECONDS, seconds))


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _rng(model_slug: str, input: dict[str, Any], index: int, salt: str = "") -> random.Random:
    """A random generator that is a pure function of the model, the input and the output index.

    The caller's ``seed`` (when given) is part of the input, so a different seed always yields a
    different output, and an omitted seed derives one from the input itself.
    """
    material = _canonical_json([model_slug, input, index, salt]).encode("utf-8")
    digest = hashlib.sha256(material).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def _normalised(model_type: str, input: dict[str, Any]) -> dict[str, Any]:
    """The input with the defaults the renderer uses filled in (so omitted == default)."""
    out = dict(input)
    if model_type == "image":
        out["aspect_ratio"] = _str_input(input, "aspect_ratio", "1:1")
        out["num_outputs"] = _num_outputs(input)
        out["output_format"] = _image_format(input)[0]
    elif model_type == "video":
        width, height, seconds = _video_params(input)
        out["size"] = f"{width}x{height}"
        out["seconds"] = str(seconds)
    elif model_type == "music":
        out["duration"] = int(audio_duration("music", input))
    elif model_type == "audio":
        out["speed"] = _float_input(input, "speed", 1.0)
        out["voice"] = _str_input(input, "voice", "default")
    return out


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


def plan_outputs(model_type: str, model_slug: str, input: dict[str, Any]) -> list[PlannedOutput]:
    """The files a prediction of this model type will produce (cheap: nothing is rendered).

    Text models (and any other type without files) produce no files: ``[]``.
    """
    del model_slug  # every model of a type has the same output shape
    if model_type == "image":
        ext, _, content_type = _image_format(input)
        return [PlannedOutput(f"out-{i}.{ext}", content_type) for i in range(_num_outputs(input))]
    if model_type == "video":
        return [PlannedOutput("out-0.mp4", "video/mp4")]
    if model_type in ("music", "audio"):
        return [PlannedOutput("out-0.wav", "audio/wav")]
    return []


def render_output(
    model_type: str, model_slug: str, input: dict[str, Any], index: int, dest: Path
) -> None:
    """Render output number ``index`` of a prediction and write it to ``dest``.

    CPU-bound and synchronous (the server runs it in a worker thread). Raises ``ValueError``
    when the model type has no file outputs or the index is out of range.
    """
    planned = plan_outputs(model_type, model_slug, input)
    if not 0 <= index < len(planned):
        raise ValueError(f"{model_type} model {model_slug!r} has no output number {index}")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    normalised = _normalised(model_type, input)
    if model_type == "image":
        _render_image(model_slug, normalised, index, dest)
    elif model_type == "video":
        _render_video(model_slug, normalised, dest)
    elif model_type == "music":
        _render_music(model_slug, normalised, dest)
    else:
        _render_speech(model_slug, normalised, dest)


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def _random_color(rng: random.Random, lightness: float, saturation: float) -> tuple[int, int, int]:
    red, green, blue = colorsys.hls_to_rgb(rng.random(), lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


@functools.lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=1)
def _gradient_tile() -> Image.Image:
    return Image.linear_gradient("L")


def _background(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A diagonal two-colour gradient (Pillow's built-in gradient, composited: fast)."""
    top = Image.new("RGB", size, _random_color(rng, 0.25 + rng.random() * 0.2, 0.6))
    bottom = Image.new("RGB", size, _random_color(rng, 0.55 + rng.random() * 0.2, 0.7))
    angle = rng.uniform(-35.0, 35.0)
    mask = _gradient_tile().rotate(angle, resample=Image.Resampling.BILINEAR, expand=False)
    mask = mask.crop((40, 40, 216, 216)).resize(size, Image.Resampling.BILINEAR)
    return Image.composite(bottom, top, mask)


def _caption(text: str, width: int, font_size: int, max_lines: int) -> list[str]:
    chars_per_line = max(8, int(width / (font_size * 0.55)))
    lines = textwrap.wrap(" ".join(text.split()), width=chars_per_line) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: max(0, chars_per_line - 1)].rstrip() + "…"
    return lines


def _draw_scene(image: Image.Image, rng: random.Random) -> None:
    """Sun, hills and a few translucent shapes: cheap vector drawing with an alpha layer."""
    width, height = image.size
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    unit = min(width, height)
    for _ in range(rng.randint(4, 8)):
        x, y = rng.uniform(0, width), rng.uniform(0, height * 0.8)
        radius = rng.uniform(0.04, 0.18) * unit
        color = (*_random_color(rng, rng.uniform(0.45, 0.8), 0.8), rng.randint(60, 150))
        box = (x - radius, y - radius, x + radius, y + radius)
        shape = rng.random()
        if shape < 0.5:
            draw.ellipse(box, fill=color)
        elif shape < 0.8:
            draw.rounded_rectangle(box, radius=radius * 0.25, fill=color)
        else:
            draw.regular_polygon(
                (x, y, radius), n_sides=rng.randint(3, 6), rotation=rng.uniform(0, 360), fill=color
            )
    sun_x, sun_y = rng.uniform(0.2, 0.8) * width, rng.uniform(0.15, 0.4) * height
    sun_r = rng.uniform(0.06, 0.12) * unit
    draw.ellipse(
        (sun_x - sun_r, sun_y - sun_r, sun_x + sun_r, sun_y + sun_r), fill=(255, 236, 180, 230)
    )
    for layer_index in range(3):
        base = height * (0.62 + 0.1 * layer_index)
        amplitude = height * rng.uniform(0.03, 0.08)
        frequency = rng.uniform(1.0, 3.0) * math.pi / width
        phase = rng.uniform(0, 2 * math.pi)
        step = max(8, width // 64)
        points = [
            (float(x), base + amplitude * math.sin(x * frequency + phase))
            for x in range(0, width + step, step)
        ]
        shade = 40 + 30 * layer_index
        color = (*_random_color(rng, shade / 255, 0.35), 200 + 15 * layer_index)
        draw.polygon([(0.0, float(height)), *points, (float(width), float(height))], fill=color)
    image.paste(layer, (0, 0), layer)


def _draw_caption(image: Image.Image, lines: list[str], font_size: int, footer: str) -> None:
    width, height = image.size
    line_height = int(font_size * 1.3)
    footer_size = max(12, font_size // 2)
    pad = font_size // 2
    box_height = pad * 2 + line_height * len(lines) + footer_size + pad // 2
    overlay = Image.new("RGBA", (width, box_height), (0, 0, 0, 120))
    draw = ImageDraw.Draw(overlay)
    y = pad
    for line in lines:
        draw.text((pad, y), line, font=_font(font_size), fill=(255, 255, 255, 255))
        y += line_height
    draw.text((pad, y + pad // 4), footer, font=_font(footer_size), fill=(220, 220, 220, 255))
    image.paste(overlay, (0, height - box_height), overlay)


def _render_image(model_slug: str, input: dict[str, Any], index: int, dest: Path) -> None:
    _, pil_format, _ = _image_format(input)
    source = input_image(input.get("image"))  # image-to-image with the file itself
    if source is not None:
        # Derived from the input so a test can tell it arrived intact: its size (long side at
        # most 1024) and its pixels.
        source.thumbnail((_IMAGE_LONG_SIDE, _IMAGE_LONG_SIDE))
        image = source
    else:
        rng = _rng(model_slug, input, index, "image")
        size = image_size(input.get("aspect_ratio"))
        image = _background(size, rng)
        _draw_scene(image, rng)
        font_size = max(16, min(size) // 24)
        prompt = _str_input(input, "prompt", "") or "(no prompt)"
        lines = _caption(prompt, size[0] - font_size, font_size, max_lines=3)
        _draw_caption(image, lines, font_size, f"Skytells emulator · {model_slug} · #{index}")
    if pil_format == "WEBP":
        image.save(dest, "WEBP", quality=80, method=0)
    elif pil_format == "PNG":
        image.save(dest, "PNG", compress_level=1)
    else:
        image.save(dest, "JPEG", quality=85)


# --------------------------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------------------------


def _video_codec() -> str:
    import av

    for name in ("libx264", "mpeg4"):
        try:
            av.codec.Codec(name, "w")
        except Exception:
            continue
        return name
    raise RuntimeError("no H.264 or MPEG-4 encoder available in PyAV")


def _render_video(model_slug: str, input: dict[str, Any], dest: Path) -> None:
    import av

    width, height, seconds = _video_params(input)
    rng = _rng(model_slug, input, 0, "video")
    frames = seconds * VIDEO_FPS

    # A background twice as wide as the frame, scrolled one frame width over the clip.
    wide = _background((width * 2, height), rng)
    _draw_scene(wide, rng)
    font_size = max(14, min(width, height) // 22)
    prompt = _str_input(input, "prompt", "") or "(no prompt)"
    lines = _caption(prompt, width - font_size, font_size, max_lines=2)
    caption_rgba = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    _draw_caption(caption_rgba, lines, font_size, f"Skytells emulator · {model_slug}")
    caption_box = caption_rgba.getchannel("A").getbbox() or (0, 0, width, height)
    caption_rgba = caption_rgba.crop(caption_box)
    caption = caption_rgba.convert("RGB")
    caption_mask = caption_rgba.getchannel("A")
    balls = [
        (
            _random_color(rng, 0.7, 0.9),
            rng.uniform(0.04, 0.09) * min(width, height),
            rng.uniform(0, 2 * math.pi),
            rng.uniform(0.5, 1.5),
        )
        for _ in range(3)
    ]

    codec = _video_codec()
    with av.open(str(dest), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream(codec, rate=VIDEO_FPS)
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, VIDEO_FPS)
        stream.codec_context.thread_count = 1  # deterministic and light on a shared CPU
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "crf": "28", "tune": "animation"}
        else:
            stream.bit_rate = 1_500_000
        for number in range(frames):
            t = number / max(1, frames - 1)
            offset = round(t * width)
            frame_image = wide.crop((offset, 0, offset + width, height))
            draw = ImageDraw.Draw(frame_image)
            for color, radius, phase, speed in balls:
                angle = phase + 2 * math.pi * speed * t
                x = width / 2 + math.cos(angle) * width * 0.3
                y = height * 0.45 + math.sin(angle * 1.3) * height * 0.2
                draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color)
            frame_image.paste(caption, caption_box[:2], caption_mask)
            frame = av.VideoFrame.from_image(frame_image)  # type: ignore[no-untyped-call]
            frame.pts = number
            frame.time_base = Fraction(1, VIDEO_FPS)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


# --------------------------------------------------------------------------------------------
# Audio (music and speech): 16-bit PCM WAV, synthesised block by block with the stdlib
# --------------------------------------------------------------------------------------------

_SEMITONE = 2 ** (1 / 12)
_MAJOR_PROGRESSIONS = ((0, 7, 9, 5), (0, 5, 7, 5), (0, 9, 5, 7), (9, 5, 0, 7))


def _chord(root_hz: float, degree: int) -> list[float]:
    """A triad on a scale degree (semitones above the key's root): major, or minor on 2, 4 and 9."""
    third = 3 if degree % 12 in (2, 4, 9) else 4
    base = root_hz * _SEMITONE**degree
    return [base, base * _SEMITONE**third, base * _SEMITONE**7]


@functools.lru_cache(maxsize=8)
def _envelope(count: int, attack_samples: int) -> tuple[float, ...]:
    """Linear attack, then a smooth decay to silence at the end of the block."""
    attack_samples = max(1, min(attack_samples, count))
    return tuple(min(1.0, n / attack_samples) * (1.0 - n / count) ** 1.5 for n in range(count))


def _tone_block(
    frequencies: list[float], seconds: float, rate: int, volume: float, attack: float = 0.02
) -> list[float]:
    """A block of summed sine partials (with a soft octave overtone) under an envelope.

    Values are in [-volume, volume]; list comprehensions keep the pure-Python synthesis fast.
    """
    count = max(1, int(seconds * rate))
    envelope = _envelope(count, int(attack * rate))
    sin = math.sin
    scale = volume / (1.3 * max(1, len(frequencies)))
    wave_sum = [0.0] * count
    for frequency in frequencies:
        step = 2 * math.pi * frequency / rate
        wave_sum = [acc + sin(step * n) + 0.3 * sin(2 * step * n) for n, acc in enumerate(wave_sum)]
    return [value * env * scale for value, env in zip(wave_sum, envelope, strict=True)]


def _to_pcm(values: list[float]) -> array[int]:
    """Float samples in [-1, 1] to 16-bit PCM (clipped)."""
    return array("h", [int(32767 * max(-1.0, min(1.0, value))) for value in values])


def _write_wav(dest: Path, samples: array[int], rate: int) -> None:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


def _render_music(model_slug: str, input: dict[str, Any], dest: Path) -> None:
    """A looped four-chord progression: a chord-and-bass stab on each beat, an eighth-note melody.

    Each distinct stab and note is synthesised once and reused, so a 10 s track costs about as
    much as one pass over the four-bar loop.
    """
    rng = _rng(model_slug, input, 0, "music")
    rate = _MUSIC_RATE
    total = int(audio_duration("music", input) * rate)
    bpm = rng.choice((96, 104, 112, 120, 128))
    beat = 60.0 / bpm
    beat_samples = int(beat * rate)
    eighth_samples = beat_samples // 2
    root = 220.0 * _SEMITONE ** rng.randint(-5, 6)
    progression = rng.choice(_MAJOR_PROGRESSIONS)
    scale = (0, 2, 4, 7, 9, 12)
    note_cache: dict[int, list[float]] = {}
    rest = [0.0] * eighth_samples
    loop: list[float] = []
    for degree in progression:
        voices = [root / 2 * _SEMITONE**degree, *_chord(root, degree)]
        stab = _tone_block(voices, beat, rate, 0.6, attack=0.03)[:beat_samples]
        stab.extend([0.0] * (beat_samples - len(stab)))
        melody: list[float] = []
        for _ in range(8):
            if rng.random() < 0.2:
                melody.extend(rest)
                continue
            semitones = degree + rng.choice(scale)
            if semitones not in note_cache:
                frequency = root * 2 * _SEMITONE**semitones
                note = _tone_block([frequency], beat / 2, rate, 0.3, attack=0.01)[:eighth_samples]
                note_cache[semitones] = note + [0.0] * (eighth_samples - len(note))
            melody.extend(note_cache[semitones])
        melody.extend([0.0] * (4 * beat_samples - len(melody)))
        loop.extend(p + m for p, m in zip(stab * 4, melody, strict=True))
    pcm = _to_pcm(loop).tobytes()
    data = pcm * (2 * total // len(pcm) + 1)
    samples = array("h")
    samples.frombytes(data[: 2 * total])
    # Fade out over the last half second so the end does not click.
    fade = min(total, rate // 2)
    tail = samples[total - fade :]
    samples[total - fade :] = array(
        "h", [int(value * (1 - n / fade)) for n, value in enumerate(tail)]
    )
    _write_wav(dest, samples, rate)


_VOWELS = "aeiouy"


def _render_speech(model_slug: str, input: dict[str, Any], dest: Path) -> None:
    """Speech-like babble: one short voiced syllable per character, pitched by the voice."""
    rate = _SPEECH_RATE
    text = _str_input(input, "text", "") or _str_input(input, "prompt", "")
    total = int(audio_duration("audio", input) * rate)
    voice = _str_input(input, "voice", "default")
    voice_rng = _rng(model_slug, {"voice": voice}, 0, "voice")
    pitch = voice_rng.uniform(110.0, 230.0)
    chars = [c.lower() for c in text if not c.isspace() or c == " "] or [" "]
    per_char = max(1, total // len(chars))
    cache: dict[str, bytes] = {}
    pieces: list[bytes] = []
    for char in chars:
        if char not in cache:
            if char == " " or not char.isalnum():
                cache[char] = bytes(2 * per_char)
            else:
                offset = (ord(char) * 7) % 12
                fundamental = pitch * _SEMITONE ** (offset / 4)
                formant = 2.5 if char in _VOWELS else 4.5
                volume = 0.5 if char in _VOWELS else 0.3
                block = _tone_block(
                    [fundamental, fundamental * formant], per_char / rate, rate, volume, 0.005
                )
                cache[char] = _to_pcm(block).tobytes()[: 2 * per_char].ljust(2 * per_char, b"\0")
        pieces.append(cache[char])
    data = b"".join(pieces)[: 2 * total].ljust(2 * total, b"\0")
    samples = array("h")
    samples.frombytes(data)
    _write_wav(dest, samples, rate)


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------

_OPENINGS = (
    "Here is a concise answer about {topic}.",
    "Good question about {topic}.",
    "Let's look at {topic} step by step.",
    "Sure, here is an overview of {topic}.",
)
_BODY = (
    "The key idea is to start from the simplest case and build up from there.",
    "In practice, most people find it useful to break the problem into smaller parts.",
    "A common pitfall is to optimise too early, before the behaviour is well understood.",
    "It helps to write down the assumptions first, then check each one against the facts.",
    "Small, repeatable experiments usually teach more than one large attempt.",
    "Clear names and short feedback loops make the work easier to review later.",
    "When in doubt, measure rather than guess, and keep notes of what changed.",
    "The trade-offs depend on the constraints: time, cost, and how often it will change.",
    "Examples make the abstract parts concrete, so it is worth sketching one or two.",
    "Finally, revisit the result with fresh eyes and simplify whatever you can.",
)
_CLOSINGS = (
    "I hope this helps with {topic}.",
    "Let me know if you want more detail on any part of {topic}.",
    "That is the short version; each point can be expanded if needed.",
)


def _text_prompt(input: dict[str, Any]) -> str:
    prompt = input.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        return prompt
    messages = input.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                return str(message["content"])
    return ""


def generate_text(model_slug: str, input: dict[str, Any]) -> list[str]:
    """A text model's answer, in token-sized pieces (``"".join(pieces)`` is the whole output).

    Deterministic for the same model and input; never more pieces than ``max_tokens``
    (default 256).
    """
    max_tokens = _clamp(_int_input(input, "max_tokens", _TEXT_DEFAULT_MAX_TOKENS), 1, 100_000)
    rng = _rng(model_slug, input, 0, "text")
    prompt = " ".join(_text_prompt(input).split())
    topic = prompt if len(prompt) <= 80 else prompt[:77].rstrip() + "..."
    topic = f'"{topic}"' if topic else "your request"
    sentences = [rng.choice(_OPENINGS).format(topic=topic)]
    sentences.extend(rng.sample(_BODY, rng.randint(3, 6)))
    sentences.append(rng.choice(_CLOSINGS).format(topic=topic))
    words = " ".join(sentences).split(" ")
    pieces = [words[0]] + [" " + word for word in words[1:]]
    return pieces[:max_tokens]
