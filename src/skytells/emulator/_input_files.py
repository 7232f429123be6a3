"""Files the emulator's predictions take as input: the image of image-to-image.

A `data:` URI carries the file itself: it must decode to an image Pillow can read (PNG, JPEG,
WebP, GIF, BMP, TIFF) of at most `MAX_INPUT_PIXELS`, else the create is refused (422
``INVALID_INPUT`` naming the field). The output of an image-to-image prediction is then derived
from it (`input_image`): same size (long side at most 1024), same pixels, so a test can tell the
file arrived intact.

An http(s) URL is only checked for its form, never fetched: the emulator is no tool to make
requests to other hosts (SSRF); such a prediction renders as text-to-image does.
"""

from __future__ import annotations

import base64
import binascii
import io
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

if TYPE_CHECKING:
    from PIL import Image

MAX_INPUT_PIXELS = 40_000_000
"""The largest input image the emulator decodes (width x height): a small file may declare a
huge image (a decompression bomb)."""
IMAGE_MEDIA_TYPE = "image/*"
"""The ``contentMediaType`` of an input schema property that takes an image."""


def data_uri_bytes(value: object) -> bytes | None:
    """The bytes a ``data:`` URI carries (None for anything else, a malformed URI included: the
    schema's ``format: uri`` check reports those)."""
    if not isinstance(value, str) or value[:5].lower() != "data:":
        return None
    header, comma, data = value[5:].partition(",")
    if not comma:
        return None
    try:
        raw = unquote_to_bytes(data)
        if header.lower().endswith(";base64"):
            return base64.b64decode(raw, validate=True)
        return raw
    except (binascii.Error, ValueError):
        return None


def image_problem(value: object) -> str | None:
    """Why ``value`` (a ``data:`` URI) is no usable image, or None (an http(s) URL is not
    fetched, so not checked here)."""
    data = data_uri_bytes(value)
    if data is None:
        return None
    try:
        _decode(data)
    except ValueError as exc:
        return str(exc)
    return None


def input_image(value: object) -> Image.Image | None:
    """The image a ``data:`` URI input carries, decoded as RGB; None for a URL or no input."""
    data = data_uri_bytes(value)
    if data is None:
        return None
    try:
        return _decode(data)
    except ValueError:
        return None


def _decode(data: bytes) -> Image.Image:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > MAX_INPUT_PIXELS:
                raise ValueError(
                    f"the image is {width}x{height}: at most {MAX_INPUT_PIXELS} pixels are accepted"
                )
            image: Image.Image = opened.convert(
                "RGB"
            )  # decodes it whole: a truncated file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(
            "the data: URI does not hold an image (PNG, JPEG, WebP, GIF, BMP or TIFF): "
            f"{type(exc).__name__}"
        ) from None
    return image
