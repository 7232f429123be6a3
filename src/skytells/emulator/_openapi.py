"""The emulator's OpenAPI 3.1 document (``openapi.json`` in this package), served at /openapi.json."""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

__all__ = ["load_openapi", "openapi_bytes"]

_RESOURCE = "openapi.json"


@functools.lru_cache(maxsize=1)
def openapi_bytes() -> bytes:
    """The document as stored: UTF-8 JSON bytes, ready to serve (read once, then cached)."""
    return resources.files(__package__ or "skytells.emulator").joinpath(_RESOURCE).read_bytes()


@functools.lru_cache(maxsize=1)
def _parsed() -> dict[str, Any]:
    document = json.loads(openapi_bytes())
    if not isinstance(document, dict):
        raise TypeError(f"{_RESOURCE} is not a JSON object")
    return document


def load_openapi() -> dict[str, Any]:
    """The OpenAPI document as a dict (a fresh deep copy: callers may change it freely)."""
    return copy.deepcopy(_parsed())
