"""The emulator's model catalogue: public model objects, JSON Schemas, timings and prices."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

from jsonschema import Draft202012Validator, FormatChecker

from ._guard import split_host
from ._input_files import IMAGE_MEDIA_TYPE, image_problem

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_FIELDS = ("input_schema", "output_schema")
"""The extra fields `GET /v1/models?fields=` may ask for."""

ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9")
IMAGE_FORMATS = ("webp", "png", "jpg")
VIDEO_SECONDS = ("4", "8", "12")
VIDEO_SIZES = ("1280x720", "720x1280", "640x360")
TTS_VOICES = ("default", "aria", "nova", "orion", "luna")


@dataclass(frozen=True)
class Timing:
    """Nominal seconds (at time_scale 1) a prediction spends pending, starting and processing."""

    pending: float
    starting: float
    processing: float


@dataclass(frozen=True)
class CatalogModel:
    """One model: its public JSON (`info`), its schemas, its timing and its price."""

    slug: str
    type: str
    info: dict[str, Any]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]
    timing: Timing
    validator: Draft202012Validator = field(repr=False, compare=False)

    def public(self, fields: Iterable[str] = ()) -> dict[str, Any]:
        """The model object the API returns, with the schemas named in `fields`."""
        body = dict(self.info)
        for name in fields:
            body[name] = self.input_schema if name == "input_schema" else self.output_schema
        return body

    def processing_seconds(self, input: Mapping[str, Any]) -> float:
        """Nominal processing time for this input: more images or longer media take longer."""
        base = self.timing.processing
        if self.type == "image":
            return base * (1 + 0.6 * (_int(input.get("num_outputs"), 1) - 1))
        if self.type == "video":
            return base * (0.75 + _int(input.get("seconds"), 4) / 16)
        if self.type == "music":
            return base * (0.5 + _int(input.get("duration"), 10) / 20)
        return base

    def credits(self, input: Mapping[str, Any], text_pieces: int = 0) -> float:
        """Credits billed for a succeeded prediction with this input (the price in USD)."""
        pricing = self.info["pricing"]
        amount = float(pricing["amount"])
        unit = pricing["unit"]
        if unit == "image":
            quantity = float(_int(input.get("num_outputs"), 1))
        elif unit == "second":
            quantity = float(_int(input.get("duration"), 10))
        elif unit == "character":
            quantity = float(len(str(input.get("text", ""))))
        elif unit == "token":
            quantity = float(text_pieces)
        else:
            quantity = 1.0
        return round(amount * quantity, 6)


def _int(value: Any, default: int) -> int:
    if isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _object_schema(title: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_DIALECT,
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _prompt(description: str = "What to generate.") -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "description": description}


def _image_input(title: str, image_to_image: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "prompt": _prompt("Text description of the image."),
        "aspect_ratio": {"type": "string", "enum": list(ASPECT_RATIOS), "default": "1:1"},
        "num_outputs": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
        "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 50, "default": 28},
        "guidance": {"type": "number", "minimum": 0, "maximum": 10, "default": 3},
        "output_format": {"type": "string", "enum": list(IMAGE_FORMATS), "default": "webp"},
        "seed": {"type": "integer", "description": "Random seed for reproducible output."},
    }
    if image_to_image:
        properties["image"] = {
            "type": "string",
            "format": "uri",
            "contentMediaType": IMAGE_MEDIA_TYPE,
            "description": "URL of an input image, for image-to-image: an http(s) URL or a "
            "data: URI carrying the image.",
        }
    return _object_schema(title, properties, ["prompt"])


_URL = {"type": "string", "format": "uri"}
_OUTPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "image": {"type": "array", "items": _URL, "minItems": 1, "maxItems": 4},
    # File outputs are arrays of URLs, audio and video included (as in the real answers).
    "video": {"type": "array", "items": _URL, "minItems": 1, "maxItems": 1},
    "music": {"type": "array", "items": _URL, "minItems": 1, "maxItems": 1},
    "audio": {"type": "array", "items": _URL, "minItems": 1, "maxItems": 1},
    "text": {"type": "string"},
}

_INPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "video": _object_schema(
        "Mera input",
        {
            "prompt": _prompt("Text description of the video."),
            "seconds": {"type": "string", "enum": list(VIDEO_SECONDS), "default": "4"},
            "size": {"type": "string", "enum": list(VIDEO_SIZES), "default": "1280x720"},
        },
        ["prompt"],
    ),
    "music": _object_schema(
        "BeatFusion input",
        {
            "prompt": _prompt("Style and mood of the track."),
            "lyrics": {"type": "string", "description": "Lyrics to sing."},
            "duration": {"type": "integer", "minimum": 5, "maximum": 60, "default": 10},
        },
        ["prompt"],
    ),
    "audio": _object_schema(
        "Skytells TTS input",
        {
            "text": {"type": "string", "minLength": 1, "maxLength": 5000},
            "voice": {"type": "string", "enum": list(TTS_VOICES), "default": "default"},
            "speed": {"type": "number", "minimum": 0.25, "maximum": 4, "default": 1},
        },
        ["text"],
    ),
    "text": _object_schema(
        "Skytells Chat input",
        {
            "prompt": _prompt("The message to answer."),
            "max_tokens": {"type": "integer", "minimum": 1, "maximum": 4096, "default": 256},
            "temperature": {"type": "number", "minimum": 0, "maximum": 2, "default": 1},
        },
        ["prompt"],
    ),
}

_SKYTELLS = {
    "name": "Skytells",
    "description": "Skytells builds generative models for images, video, music and speech.",
    "image_url": "https://skytells.ai/assets/vendors/skytells.png",
    "verified": True,
    "slug": "skytells",
    "metadata": {"website": "https://skytells.ai"},
}
_BFL = {
    "name": "Black Forest Labs",
    "description": "Creators of the FLUX family of image models.",
    "image_url": "https://skytells.ai/assets/vendors/black-forest-labs.png",
    "verified": True,
    "slug": "black-forest-labs",
    "metadata": {"website": "https://blackforestlabs.ai"},
}

# slug, name, type, vendor, description, (amount, unit), capabilities, edge, timing
_MODELS: tuple[tuple[Any, ...], ...] = (
    ("truefusion", "TrueFusion", "image", _SKYTELLS,
     "Fast, balanced text-to-image model.", (0.03, "image"),
     ["text-to-image"], False, Timing(0.5, 1.5, 7.0)),
    ("truefusion-pro", "TrueFusion Pro", "image", _SKYTELLS,
     "High fidelity images with guidance, seed control and image-to-image.", (0.05, "image"),
     ["text-to-image", "image-to-image"], False, Timing(0.5, 1.5, 9.0)),
    ("truefusion-edge", "TrueFusion Edge", "image", _SKYTELLS,
     "Low-latency image model for interactive use.", (0.01, "image"),
     ["text-to-image"], True, Timing(0.1, 0.2, 1.2)),
    ("truefusion-ultra", "TrueFusion Ultra", "image", _SKYTELLS,
     "The most detailed TrueFusion model.", (0.08, "image"),
     ["text-to-image", "image-to-image"], False, Timing(0.5, 2.0, 12.0)),
    ("flux-pro", "FLUX Pro", "image", _BFL,
     "State-of-the-art image generation with excellent prompt following.", (0.04, "image"),
     ["text-to-image", "image-to-image"], False, Timing(0.5, 1.5, 8.0)),
    ("flux-edge", "FLUX Edge", "image", _BFL,
     "Distilled FLUX model for sub-second to two-second generations.", (0.003, "image"),
     ["text-to-image"], True, Timing(0.1, 0.2, 1.0)),
    ("FLUX.2-pro", "FLUX.2 Pro", "image", _BFL,
     "Second-generation FLUX with sharper typography and editing.", (0.06, "image"),
     ["text-to-image", "image-to-image"], False, Timing(0.5, 2.0, 10.0)),
    ("mera", "Mera", "video", _SKYTELLS,
     "Skytells flagship text-to-video model.", (3.42, "prediction"),
     ["text-to-video"], False, Timing(1.0, 5.0, 54.0)),
    ("beatfusion-2.0", "BeatFusion 2.0", "music", _SKYTELLS,
     "Songs from a style prompt and optional lyrics.", (0.02, "second"),
     ["text-to-music", "lyrics-to-song"], False, Timing(0.5, 2.5, 27.0)),
    ("skytells-tts", "Skytells TTS", "audio", _SKYTELLS,
     "Natural speech from text.", (0.000015, "character"),
     ["text-to-speech"], False, Timing(0.2, 0.8, 4.0)),
    ("skytells-chat", "Skytells Chat", "text", _SKYTELLS,
     "Conversational text model.", (0.000002, "token"),
     ["text-generation", "chat"], False, Timing(0.1, 0.4, 2.5)),
)  # fmt: skip


def _build(entry: tuple[Any, ...]) -> CatalogModel:
    slug, name, kind, vendor, description, (amount, unit), capabilities, edge, timing = entry
    if kind == "image":
        input_schema = _image_input(f"{name} input", "image-to-image" in capabilities)
    else:
        input_schema = _INPUT_SCHEMAS[kind]
    output_schema = {"$schema": SCHEMA_DIALECT, "title": f"{name} output", **_OUTPUT_SCHEMAS[kind]}
    info = {
        "name": name,
        "description": description,
        "namespace": slug,
        "type": kind,
        "privacy": "public",
        "img_url": f"https://skytells.ai/assets/models/{slug.lower()}.png",
        "vendor": vendor,
        "billable": True,
        "pricing": {"amount": amount, "currency": "USD", "unit": unit},
        "capabilities": capabilities,
        "status": "operational",
        "metadata": {
            "edge_compatible": edge,
            "openai_compatible": kind in ("text", "audio"),
            "cold_boot": not edge,
        },
    }
    # Deep copies, so that no response can alias (and a caller mutate) the catalogue.
    info, input_schema = json.loads(json.dumps(info)), json.loads(json.dumps(input_schema))
    validator = Draft202012Validator(input_schema, format_checker=_FORMATS)
    return CatalogModel(slug, kind, info, input_schema, output_schema, timing, validator)


_FORMATS = FormatChecker()
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f]|\s")  # whitespace and control characters
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"  # RFC 2045 token characters that need no escape in a URI
_DATA_URI = re.compile(
    rf"(?:{_TOKEN}/{_TOKEN})?(?:;{_TOKEN}=(?:{_TOKEN}|%[0-9A-Fa-f]{{2}})+)*(;base64)?,(.*)",
    re.IGNORECASE | re.DOTALL,
)
_URIC = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")


def _fetchable_uri(value: object) -> bool:
    """`format: uri` in an input schema is a file the service fetches: an http(s) URL with a
    host, or a `data:` URI carrying the file. A local path or a `file:` URL names a file on the
    caller's machine, which the service cannot read: rejected (the spec leaves the exact rule
    open; this is the emulator's choice).

    Checked with care (ValueError says what is wrong): the scheme in any case; no whitespace or
    control character anywhere; valid percent escapes; an http(s) host that is a DNS name
    (an internationalised one too), an IPv4 address or a bracketed IPv6 address, with a port
    from 1 to 65535; a `data:` URI as RFC 2397 has it (`data:,` included) whose base64 data
    decodes (linear in its size, which the body limit bounds)."""
    if not isinstance(value, str):
        return True  # the `type` keyword reports non-strings
    shown = repr(value[:80])
    scheme = _SCHEME.match(value)
    name = scheme.group(1).lower() if scheme else ""
    if name not in ("http", "https", "data"):
        raise ValueError(
            f"{shown} is not a URL the service can fetch: give an http(s) URL or a data: URI"
        )
    if _FORBIDDEN.search(value):
        raise ValueError(f"{shown} holds whitespace or a control character")
    if _BAD_ESCAPE.search(value):
        raise ValueError(f"{shown} holds a % that does not start a %XX escape")
    rest = value[len(name) + 1 :]
    if name == "data":
        _check_data_uri(rest, shown)
    else:
        _check_http_url(rest, shown)
    return True


def _check_data_uri(rest: str, shown: str) -> None:
    match = _DATA_URI.fullmatch(rest)
    if match is None or not _URIC.fullmatch(match.group(2)):
        raise ValueError(f"{shown} is not a valid data: URI (data:[<type>][;base64],<data>)")
    if match.group(1):
        try:
            base64.b64decode(unquote_to_bytes(match.group(2)), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"{shown} does not hold valid base64 data") from None


def _check_http_url(rest: str, shown: str) -> None:
    if not rest.startswith("//"):
        raise ValueError(f"{shown} has no host: give an http(s) URL such as https://host/path")
    authority, _, _ = rest[2:].partition("/")
    authority = re.split(r"[?#]", authority, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise ValueError(f"{shown} does not have a valid host") from None
    if split_host(host) is None:
        raise ValueError(f"{shown} does not have a valid host and port (1-65535)")


_FORMATS.checks("uri", raises=ValueError)(_fetchable_uri)


@functools.cache
def catalogue() -> dict[str, CatalogModel]:
    """Every model, by slug (case-sensitive), in display order."""
    return {entry[0]: _build(entry) for entry in _MODELS}


def find_model(slug: str) -> CatalogModel | None:
    """The model with this exact slug, or None."""
    return catalogue().get(slug)


def input_errors(model: CatalogModel, input: Mapping[str, Any]) -> dict[str, str]:
    """Every schema violation of `input`, keyed by the offending field (empty when valid)."""
    fields: dict[str, str] = {}
    for error in model.validator.iter_errors(input):
        if error.validator == "required" and not error.path:
            for name in error.validator_value:
                if name not in input:
                    fields.setdefault(name, f"{name!r} is a required property")
        elif error.validator == "additionalProperties" and not error.path:
            known = model.input_schema["properties"]
            for name in input:
                if name not in known:
                    fields.setdefault(name, f"{name!r} is not a known input of {model.slug}")
        else:
            key = "/".join(str(part) for part in error.absolute_path) or "input"
            fields.setdefault(key, error.message)
    for name, prop in model.input_schema["properties"].items():
        if prop.get("contentMediaType") == IMAGE_MEDIA_TYPE and name not in fields:
            problem = image_problem(input.get(name))  # a data: URI must hold an image
            if problem is not None:
                fields[name] = problem
    return fields
