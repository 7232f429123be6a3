"""`-i key=value` options, converted to the types of the model's input schema."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._exceptions import ValidationError


def parse_inputs(pairs: Sequence[str], schema: Mapping[str, Any] | None) -> dict[str, Any]:
    """``["num_outputs=2", "prompt=a fox"]`` -> ``{"num_outputs": 2, "prompt": "a fox"}``.

    Each value is converted to the type its property declares in ``schema`` (integer, number,
    boolean, array, object; strings stay as typed). Without a schema, JSON-looking values are
    parsed as JSON and everything else stays a string. ``@path`` and ``@-`` are files
    (`file_value`); ``@@text`` is the text ``@text``.
    """
    properties = (schema or {}).get("properties") or {}
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValidationError(
                f"Invalid input {pair!r}: expected key=value, e.g. -i prompt='a red fox'",
                "INVALID_INPUT",
            )
        file = file_value(key, raw)
        if file is not None:
            result[key] = file
            continue
        result[key] = convert(key, raw[1:] if raw.startswith("@@") else raw, properties.get(key))
    return result


def file_value(key: str, raw: str) -> Path | bytes | None:
    """``@path``: the file at ``path`` (sent as a file: a ``data:`` URI, or your encoder's URL);
    ``@-``: the bytes of standard input; None for any other value. A value that starts with
    ``@`` as text is written with two: ``@@me`` is the string ``@me``."""
    if not raw.startswith("@") or raw.startswith("@@"):
        return None
    name = raw[1:]
    if name == "-":
        return sys.stdin.buffer.read()
    if not name:
        raise ValidationError(
            f"Input {key}=@ names no file: write {key}=@path, {key}=@- for standard input, "
            f"or {key}=@@text for text that starts with @",
            "INVALID_INPUT",
            {"field": key},
        )
    path = Path(name).expanduser()
    if not path.is_file():
        raise ValidationError(
            f"Input {key}={raw!r}: no such file (write {key}=@@... for text that starts with @)",
            "INVALID_INPUT",
            {"field": key},
        )
    return path


def convert(key: str, raw: str, prop: Mapping[str, Any] | None) -> Any:
    """One value, converted for its schema property (or guessed when there is none)."""
    types = _types(prop)
    if not types:
        return _guess(raw)
    errors = []
    for kind in types:
        try:
            return _CONVERTERS[kind](raw)
        except (ValueError, KeyError) as exc:
            errors.append(f"{kind}: {exc}")
    raise ValidationError(
        f"Input {key}={raw!r} is not a valid {' or '.join(types)}",
        "INVALID_INPUT",
        {"field": key, "expected": types},
    )


def _types(prop: Mapping[str, Any] | None) -> list[str]:
    if not prop:
        return []
    declared = prop.get("type")
    if isinstance(declared, str):
        kinds = [declared]
    elif isinstance(declared, list):
        kinds = [k for k in declared if isinstance(k, str)]
    else:
        kinds = []
    # Try the strictest conversions first, so "2" becomes 2 for ["integer", "string"].
    order = ["null", "boolean", "integer", "number", "array", "object", "string"]
    return [k for k in order if k in kinds and k in _CONVERTERS]


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _int(raw: str) -> int:
    value = float(raw) if "." in raw or "e" in raw.lower() else int(raw)
    if isinstance(value, float) and not value.is_integer():
        raise ValueError("not a whole number")
    return int(value)


def _json_of(kind: type) -> Any:
    def parse(raw: str) -> Any:
        value = json.loads(raw)
        if not isinstance(value, kind):
            raise ValueError(f"expected JSON {kind.__name__}")
        return value

    return parse


def _array(raw: str) -> list[Any]:
    stripped = raw.strip()
    if stripped.startswith("["):
        value: list[Any] = _json_of(list)(stripped)
        return value
    return [part.strip() for part in stripped.split(",") if part.strip()]


def _null(raw: str) -> None:
    if raw.strip().lower() not in ("null", "none", ""):
        raise ValueError("expected null")
    return None


_CONVERTERS: dict[str, Any] = {
    "null": _null,
    "boolean": _bool,
    "integer": _int,
    "number": float,
    "array": _array,
    "object": _json_of(dict),
    "string": str,
}


def _guess(raw: str) -> Any:
    stripped = raw.strip()
    if stripped[:1] in ("{", "[") or stripped in ("true", "false", "null"):
        try:
            return json.loads(stripped)
        except ValueError:
            return raw
    return raw
