"""Batch request files: each line parsed and checked, costs estimated, result lines made.

A batch file is JSON Lines, one request a line: ``{"custom_id": "...", "model": "...", "input":
{...}}`` with optional ``webhook`` and ``stream``. Everything here is pure: the I/O layer reads
the file line by line and hands each line in; the models' schemas and prices come in as dicts.

Inputs are checked against the model's ``input_schema`` by `schema_problems`, a validator of the
part of JSON Schema the models' input schemas use (types, enums, bounds, lengths, required and
unknown properties, items, ``anyOf``/``oneOf``/``allOf``). It lives in the core so that a batch
is checked before anything is spent with ``pip install skytells`` alone (the full
``jsonschema`` package is an extra of the emulator's). The schema comes from the server, so it is
never trusted to be well formed: a keyword it does not know (``$ref``, ``multipleOf``, ``format``,
tuple-form ``items``...), or one of the wrong type, is ignored, never an error, and left to the
server, which checks every input again. ``pattern`` is left to the server too: a regular
expression from a server could backtrack for hours on one value.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._exceptions import SkytellsError, ValidationError

REQUIRED_FIELDS = ("custom_id", "model", "input")
OPTIONAL_FIELDS = ("webhook", "stream")
MAX_LINE_BYTES = 4 * 1024 * 1024
"""The longest request line read (a longer one is a problem of its own, not a memory spike)."""
MAX_CUSTOM_ID = 256
MAX_PROBLEMS = 1000
"""Problems listed in one `INVALID_BATCH` error; past this many, the count says how many more."""
_MAX_DEPTH = 32


@dataclass(frozen=True)
class BatchLine:
    """One valid request of a batch file (``line``: its 1-based line number)."""

    line: int
    custom_id: str
    model: str
    input: dict[str, Any]
    webhook: Any = None
    stream: bool = False

    def payload(self) -> dict[str, Any]:
        """The create payload of this request."""
        body: dict[str, Any] = {"model": self.model, "input": self.input}
        if self.webhook is not None:
            body["webhook"] = self.webhook
        if self.stream:
            body["stream"] = True
        return body

    def to_json(self) -> str:
        """The request, as stored in the journal."""
        return json.dumps(
            {"custom_id": self.custom_id, **self.payload()},
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, line: int, text: str) -> BatchLine:
        """A request stored with `to_json`."""
        data = json.loads(text)
        return cls(
            line,
            data["custom_id"],
            data["model"],
            data["input"],
            data.get("webhook"),
            bool(data.get("stream", False)),
        )


@dataclass(frozen=True)
class Problem:
    """What is wrong with one line."""

    line: int
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "problem": self.problem}


def parse_line(number: int, raw: bytes) -> BatchLine | Problem | None:
    """Line ``number`` of a batch file as a request, a `Problem`, or None for a blank line."""
    if len(raw) > MAX_LINE_BYTES:
        return Problem(number, f"the line is longer than {MAX_LINE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Problem(number, "the line is not UTF-8 text")
    if not text.strip():
        return None
    try:
        data = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite_float, parse_int=_bounded_int
        )
    except _OutOfRange as exc:
        return Problem(number, str(exc))
    except ValueError as exc:
        return Problem(number, f"not valid JSON ({_short(str(exc))})")
    except RecursionError:
        return Problem(number, "not valid JSON (nested too deeply)")
    if not isinstance(data, dict):
        return Problem(number, f"expected a JSON object, got {_json_type(data)}")
    missing = [name for name in REQUIRED_FIELDS if name not in data]
    if missing:
        return Problem(number, f"missing field(s): {', '.join(missing)}")
    unknown = sorted(str(k) for k in data if k not in REQUIRED_FIELDS + OPTIONAL_FIELDS)
    if unknown:
        return Problem(number, f"unknown field(s): {', '.join(_short(k, 40) for k in unknown)}")
    custom_id, model, inputs = data["custom_id"], data["model"], data["input"]
    if not isinstance(custom_id, str) or not custom_id.strip():
        return Problem(number, "custom_id must be a non-empty string")
    if len(custom_id) > MAX_CUSTOM_ID:
        return Problem(number, f"custom_id is longer than {MAX_CUSTOM_ID} characters")
    if not isinstance(model, str) or not model.strip():
        return Problem(number, "model must be a non-empty string")
    if not isinstance(inputs, dict):
        return Problem(number, f"input must be a JSON object, got {_json_type(inputs)}")
    webhook = data.get("webhook")
    if webhook is not None and not isinstance(webhook, (str, dict)):
        return Problem(number, "webhook must be a URL or an object with a 'url'")
    if isinstance(webhook, dict) and not isinstance(webhook.get("url"), str):
        return Problem(number, "webhook must have a 'url' string")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        return Problem(number, "stream must be true or false")
    return BatchLine(number, custom_id, model, inputs, webhook, stream)


class _OutOfRange(ValueError):
    """A number no JSON reader holds: NaN, Infinity, or beyond a double's range."""


def _no_constant(name: str) -> Any:
    raise _OutOfRange(f"{name} is not a JSON number (NaN and Infinity are not JSON)")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _OutOfRange(f"the number {_short(text, 40)} is out of range")
    return number


def _bounded_int(text: str) -> int:
    number = int(text)  # Python's own digit limit (4,300) bounds the work
    if abs(number) > sys.float_info.max:
        raise _OutOfRange(f"the number {_short(text, 40)} is out of range")
    return number


def invalid_batch(problems: list[Problem], more: int, path: str) -> ValidationError:
    """The one error that lists every bad line (``INVALID_BATCH``; ``details``: the problems)."""
    total = len(problems) + more
    shown = "; ".join(f"line {p.line}: {p.problem}" for p in problems[:3])
    extra = f" (and {total - 3} more)" if total > 3 else ""
    return ValidationError(
        f"{total} bad line(s) in {path}, nothing was sent: {shown}{extra}",
        "INVALID_BATCH",
        [p.to_dict() for p in problems]
        + ([{"line": None, "problem": f"{more} more"}] if more else []),
    )


def fingerprint(model: str, inputs: Mapping[str, Any]) -> str:
    """A digest of what a create asks for (model and input, key order ignored)."""
    canonical = json.dumps(
        {"model": model, "input": inputs}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# ── the input schema ─────────────────────────────────────────────────────


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_float(value: Any) -> float | None:
    """A finite JSON number as a float, else None."""
    if not _is_number(value):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond a double's range
        return None
    return number if math.isfinite(number) else None


def _is_integer(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


def schema_problems(schema: Any, value: Any, path: str = "input", depth: int = 0) -> list[str]:
    """What is wrong with ``value`` under ``schema`` (empty when it is valid, or when the schema
    uses only keywords this validator leaves to the server)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return []
    problems: list[str] = []
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else kind if isinstance(kind, list) else None
    if kinds is not None:
        checks = [_TYPES[k] for k in kinds if isinstance(k, str) and k in _TYPES]
        if checks and not any(check(value) for check in checks):
            return [f"{path}: expected {' or '.join(map(str, kinds))}, got {_json_type(value)}"]
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        allowed = ", ".join(json.dumps(v) for v in schema["enum"][:12])
        problems.append(f"{path}: {_shown(value)} is not one of {allowed}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: must be {json.dumps(schema['const'])}")
    if _is_number(value) and (isinstance(value, int) or math.isfinite(value)):
        # Compared as is: Python compares an int with a float exactly, however large it is.
        problems += _number_problems(schema, value, path, _shown(value))
    if isinstance(value, str):
        problems += _string_problems(schema, value, path)
    if isinstance(value, list):
        problems += _array_problems(schema, value, path, depth)
    if isinstance(value, dict):
        problems += _object_problems(schema, value, path, depth)
    for keyword in ("allOf", "anyOf", "oneOf"):
        options = schema.get(keyword)
        if not isinstance(options, list) or not options:
            continue
        results = [schema_problems(option, value, path, depth + 1) for option in options]
        passed = sum(1 for r in results if not r)
        if keyword == "allOf":
            problems += [p for r in results for p in r]
        elif keyword == "anyOf" and passed == 0:
            problems.append(f"{path}: matches none of the allowed forms")
        elif keyword == "oneOf" and passed != 1:
            problems.append(f"{path}: must match exactly one allowed form, matches {passed}")
    return problems


def _number_problems(
    schema: Mapping[str, Any], value: float | int, path: str, shown: str
) -> list[str]:
    problems = []
    checks: tuple[tuple[str, Callable[[float, float], bool], str], ...] = (
        ("minimum", lambda v, b: v < b, "less than the minimum"),
        ("maximum", lambda v, b: v > b, "more than the maximum"),
        ("exclusiveMinimum", lambda v, b: v <= b, "not above"),
        ("exclusiveMaximum", lambda v, b: v >= b, "not below"),
    )
    for keyword, test, text in checks:
        bound = _as_float(schema.get(keyword))
        if bound is not None and test(value, bound):
            problems.append(f"{path}: {shown} is {text} {bound:g}")
    return problems


def _string_problems(schema: Mapping[str, Any], value: str, path: str) -> list[str]:
    problems = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(value) < low:
        problems.append(f"{path}: shorter than {low} character(s)")
    if isinstance(high, int) and len(value) > high:
        problems.append(f"{path}: longer than {high} characters")
    return problems  # "pattern" is the server's to check (see the module's docstring)


def _array_problems(
    schema: Mapping[str, Any], value: list[Any], path: str, depth: int
) -> list[str]:
    problems = []
    low, high = schema.get("minItems"), schema.get("maxItems")
    if isinstance(low, int) and len(value) < low:
        problems.append(f"{path}: fewer than {low} item(s)")
    if isinstance(high, int) and len(value) > high:
        problems.append(f"{path}: more than {high} items")
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            problems += schema_problems(items, item, f"{path}[{index}]", depth + 1)
    return problems


def _object_problems(
    schema: Mapping[str, Any], value: dict[str, Any], path: str, depth: int
) -> list[str]:
    problems = []
    properties = schema.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    required = schema.get("required")
    if isinstance(required, list):
        for name in required:
            if isinstance(name, str) and name not in value:
                problems.append(f"{path}.{name}: required")
    extra = schema.get("additionalProperties", True)
    for name, item in value.items():
        where = f"{path}.{_short(str(name), 40)}"
        if name in properties:
            problems += schema_problems(properties[name], item, where, depth + 1)
        elif extra is False:
            problems.append(f"{where}: not an input of this model")
        elif isinstance(extra, dict):
            problems += schema_problems(extra, item, where, depth + 1)
    return problems


# ── cost ─────────────────────────────────────────────────────────────────


@dataclass
class CostEstimate:
    """The estimated cost of a batch, by model: the price is each model's ``pricing`` (per
    image times ``num_outputs``, per second times ``duration``/``seconds``, per character of
    ``text``, per token at most ``max_tokens``, else per prediction)."""

    by_model: dict[str, dict[str, Any]] = field(default_factory=dict)
    unpriced: dict[str, int] = field(default_factory=dict)
    """Requests of models that give no price (their cost is unknown)."""

    @property
    def total(self) -> float:
        """The total estimated cost of the priced requests."""
        return float(round(sum(float(m["cost"]) for m in self.by_model.values()), 6))

    @property
    def currency(self) -> str:
        """The currency of the prices (``USD`` unless the models say otherwise)."""
        found = {m["currency"] for m in self.by_model.values()}
        return found.pop() if len(found) == 1 else "USD" if not found else "/".join(sorted(found))

    def add(self, model: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        """Count one request of ``model`` (its object: ``pricing``, ``input_schema``)."""
        slug = str(model.get("namespace") or model.get("slug") or model.get("name") or "?")
        price = request_cost(model, inputs)
        if price is None:
            self.unpriced[slug] = self.unpriced.get(slug, 0) + 1
            return
        pricing = model.get("pricing") or {}
        entry = self.by_model.setdefault(
            slug,
            {
                "requests": 0,
                "cost": 0.0,
                "amount": pricing.get("amount"),
                "unit": pricing.get("unit"),
                "currency": str(pricing.get("currency") or "USD"),
            },
        )
        entry["requests"] += 1
        entry["cost"] = round(entry["cost"] + price, 6)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "currency": self.currency,
            "by_model": self.by_model,
            "unpriced": self.unpriced,
        }


def request_cost(model: Mapping[str, Any], inputs: Mapping[str, Any]) -> float | None:
    """The estimated cost of one request of ``model`` with ``inputs`` (None: no usable price)."""
    pricing = model.get("pricing")
    if not isinstance(pricing, Mapping):
        return None
    amount = pricing.get("amount")
    price = _as_float(amount)
    if price is None or price < 0:
        return None
    unit = str(pricing.get("unit") or "prediction").lower()
    schema = model.get("input_schema")

    def number(*names: str, default: float = 1.0) -> float:
        for name in names:
            value = inputs.get(name, _default_of(schema, name))
            try:
                found = float(value)
            except (TypeError, ValueError, OverflowError):
                continue
            if math.isfinite(found) and found >= 0:
                return found
        return default

    if unit == "image":
        quantity = number("num_outputs")
    elif unit == "second":
        quantity = number("duration", "seconds", default=10.0)
    elif unit == "character":
        quantity = float(len(str(inputs.get("text", inputs.get("prompt", "")))))
    elif unit == "token":
        quantity = number("max_tokens", default=1024.0)
    else:
        quantity = 1.0
    return round(price * quantity, 6)


def _default_of(schema: Any, name: str) -> Any:
    if not isinstance(schema, Mapping):
        return None
    properties = schema.get("properties")
    prop = properties.get(name) if isinstance(properties, Mapping) else None
    return prop.get("default") if isinstance(prop, Mapping) else None


# ── results ──────────────────────────────────────────────────────────────


def credits_used(prediction: Mapping[str, Any] | None) -> float | None:
    """What a prediction cost, as the server reports it (``metadata.billing.credits_used``)."""
    metadata = prediction.get("metadata") if prediction else None
    billing = metadata.get("billing") if isinstance(metadata, Mapping) else None
    used = billing.get("credits_used") if isinstance(billing, Mapping) else None
    return _as_float(used)


def error_dict(error: SkytellsError | None) -> dict[str, Any] | None:
    """An error as a result line holds it."""
    if error is None:
        return None
    return {"error_id": error.error_id, "message": error.message, "http_status": error.http_status}


def result_record(
    request: BatchLine,
    prediction: Mapping[str, Any] | None,
    error: Mapping[str, Any] | None,
    files: list[str],
) -> dict[str, Any]:
    """One line of the results file."""
    return {
        "custom_id": request.custom_id,
        "line": request.line,
        "id": prediction.get("id") if prediction else None,
        "status": prediction.get("status") if prediction else "not_created",
        "output": prediction.get("output") if prediction else None,
        "error": dict(error) if error else None,
        "files": files,
        "credits_used": credits_used(prediction),
    }


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _shown(value: Any) -> str:
    try:
        return _short(json.dumps(value, ensure_ascii=False), 60)
    except ValueError:  # an integer past Python's digit limit for str()
        return "a very large number"


def _short(text: str, limit: int = 120) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
