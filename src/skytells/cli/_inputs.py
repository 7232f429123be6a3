"""A run's inputs: `-i key=value` options, converted to the types of the model's input schema,
merged with ``--input-json`` and ``--input-file``; a key given twice is a usage error."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from .._exceptions import ValidationError
from ._errors import UsageError

MAX_INPUT_FILE_BYTES = 16 * 1024 * 1024


def parse_inputs(
    pairs: Sequence[str], schema: Mapping[str, Any] | None, *, stdin_taken: str | None = None
) -> dict[str, Any]:
    """``["num_outputs=2", "prompt=a fox"]`` -> ``{"num_outputs": 2, "prompt": "a fox"}``.

    Each value is converted to the type its property declares in ``schema`` (integer, number,
    boolean, array, object; strings stay as typed). Without a schema, JSON-looking values are
    parsed as JSON and everything else stays a string. ``@path`` and ``@-`` are files
    (`file_value`); ``@@text`` is the text ``@text``. A stream (standard input, a pipe) can be
    read once: naming it twice is a `UsageError` (``stdin_taken``: the option that already reads
    standard input, e.g. ``--input-file -``).
    """
    properties = (schema or {}).get("properties") or {}
    result: dict[str, Any] = {}
    streams: dict[tuple[int, int], str] = {}  # (device, inode) of a stream: the key reading it
    if stdin_taken is not None:
        streams[_identity(sys.stdin.buffer)] = stdin_taken
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValidationError(
                f"Invalid input {pair!r}: expected key=value, e.g. -i prompt='a red fox'",
                "INVALID_INPUT",
            )
        if key in result:
            raise UsageError(
                f"-i {key}= is given twice: give each input once (for a list: "
                f"-i {key}=a,b for an array input, or --input-json '{{\"{key}\": [...]}}')"
            )
        file = file_value(key, raw)
        if file is not None:
            if not isinstance(file, Path):
                identity = _identity(file)
                if identity in streams:
                    raise UsageError(
                        f"-i {key}={raw} reads the stream {streams[identity]} already reads: a "
                        "stream (standard input, a pipe) can be read only once; save it to a file "
                        f"and give -i {key}=@path"
                    )
                streams[identity] = f"-i {key}={raw}"
            result[key] = file
            continue
        result[key] = convert(key, raw[1:] if raw.startswith("@@") else raw, properties.get(key))
    return result


def file_value(key: str, raw: str) -> Path | IO[bytes] | None:
    """``@path``: the file at ``path`` (sent as a file: a ``data:`` URI, or your encoder's URL);
    ``@-``: standard input, streamed (read up to the size limit, never whole first); a pipe or a
    device (``@/dev/stdin``) is opened and streamed likewise. None for any other value. A value
    that starts with ``@`` as text is written with two: ``@@me`` is the string ``@me``."""
    if not raw.startswith("@") or raw.startswith("@@"):
        return None
    name = raw[1:]
    if name == "-":
        return sys.stdin.buffer
    if not name:
        raise ValidationError(
            f"Input {key}=@ names no file: write {key}=@path, {key}=@- for standard input, "
            f"or {key}=@@text for text that starts with @",
            "INVALID_INPUT",
            {"field": key},
        )
    path = Path(name).expanduser()
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError) as exc:
        reason = "no such file" if isinstance(exc, FileNotFoundError) else _reason(exc)
        raise ValidationError(
            f"Input {key}={raw!r}: {reason} (write {key}=@@... for text that starts with @)",
            "INVALID_INPUT",
            {"field": key},
        ) from None
    if stat.S_ISREG(mode):
        return path
    if stat.S_ISDIR(mode):
        raise ValidationError(
            f"Input {key}={raw!r} is a directory: give a file (write {key}=@@... for text "
            "that starts with @)",
            "INVALID_INPUT",
            {"field": key},
        )
    try:  # a pipe or a device (/dev/stdin): streamed
        return open(path, "rb")  # read, and closed with the process
    except OSError as exc:
        raise ValidationError(
            f"Input {key}={raw!r}: cannot read it ({_reason(exc)})",
            "FILE_NOT_READABLE",
            {"field": key},
        ) from None


def _identity(stream: IO[bytes]) -> tuple[int, int]:
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation: both of the first
        return (-1, id(stream))
    return (info.st_dev, info.st_ino)


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc)[:200]


def read_json_inputs(input_json: str | None, input_file: str | None) -> dict[str, Any]:
    """The inputs of ``--input-json`` and ``--input-file`` (a path, or ``-`` for stdin), merged.

    Each must be a JSON object; a key in both is a `UsageError`, as is a file that cannot be
    read or is not JSON."""
    merged: dict[str, Any] = {}
    if input_json is not None:
        merged = _object(input_json, "--input-json")
    if input_file is not None:
        from_file = _object(_read(input_file), f"--input-file {input_file}")
        _no_overlap(merged, from_file, "--input-json", "--input-file")
        merged.update(from_file)
    return merged


def merge_inputs(from_options: dict[str, Any], from_json: Mapping[str, Any]) -> dict[str, Any]:
    """The ``-i`` inputs and the JSON ones together; a key in both is a `UsageError`."""
    _no_overlap(from_json, from_options, "--input-json/--input-file", "-i")
    return {**from_json, **from_options}


def _no_overlap(first: Mapping[str, Any], second: Mapping[str, Any], a: str, b: str) -> None:
    both = sorted(set(first) & set(second))
    if both:
        raise UsageError(f"input {', '.join(map(repr, both))} is given by both {a} and {b}")


def _read(path: str) -> str:
    try:
        if path == "-":
            text = sys.stdin.read(MAX_INPUT_FILE_BYTES + 1)
        else:
            with open(path, encoding="utf-8") as file:
                text = file.read(MAX_INPUT_FILE_BYTES + 1)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"--input-file {path}: cannot read it: {reason}") from None
    if len(text) > MAX_INPUT_FILE_BYTES:
        raise UsageError(f"--input-file {path}: larger than {MAX_INPUT_FILE_BYTES} bytes")
    return text


def _object(text: str, source: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{source}: not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(value, dict):
        raise UsageError(
            f'{source}: expected a JSON object of inputs, e.g. \'{{"prompt": "a fox"}}\''
        )
    return value


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


def check_pairs(pairs: Sequence[str]) -> None:
    """Each ``-i`` is ``key=value`` and each key is given once, else a `UsageError`: checked
    before any request (the values are converted later, with the model's schema)."""
    seen: set[str] = set()
    for pair in pairs:
        key, sep, _ = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"-i {pair!r} is not key=value: write e.g. -i prompt='a red fox'")
        if key in seen:
            raise UsageError(
                f"-i {key}= is given twice: give each input once (for a list: "
                f"-i {key}=a,b for an array input, or --input-json '{{\"{key}\": [...]}}')"
            )
        seen.add(key)
