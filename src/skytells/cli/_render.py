"""What the command line shows: tables, the progress bar, one-line errors.

Nothing a server sends is trusted: every id, status, message, name and output goes through
`plain()`/`visible()`, so it is printed as plain text (never parsed as rich markup or emoji
codes) with control and invisible formatting characters shown as escapes (``\\x1b``,
``\\u202e``): no title change, screen clear, fake colour or reordered text from a server.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from .. import _exceptions as errors

_NOT_PLAIN_ASCII = re.compile(r"[^\x20-\x7e]")
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(char: str) -> str:
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def visible(value: object, *, multiline: bool = False) -> str:
    """``value`` as text safe for a terminal: control characters (ESC, BEL, CR, C1...), bidi
    and zero-width format characters, separators, surrogates and unassigned code points become
    escapes such as ``\\x1b`` and ``\\u202e``. ``multiline`` keeps newlines and tabs (free
    text such as a text model's output); elsewhere they are escaped too."""
    text = value if isinstance(value, str) else str(value)

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if multiline and char in "\n\t":
            return char
        if char in _NAMED_ESCAPES or unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return _escape(char)
        return char

    return _NOT_PLAIN_ASCII.sub(replace, text)


def plain(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """A rich `Text` of ``value``: shown as is (no markup, no emoji codes), made `visible`."""
    return Text(visible(value, multiline=multiline), style=style)


_HINTS: list[tuple[type[errors.SkytellsError], str]] = [
    (errors.AuthenticationError, "set SKYTELLS_API_KEY or pass --api-key (or try --emulator)"),
    (errors.PermissionDeniedError, "this key may not do that; check the account's permissions"),
    (errors.PaymentRequiredError, "add credits to the account"),
    (errors.RateLimitError, "wait a moment and try again"),
    (
        errors.WaitTimeoutError,
        "the prediction goes on: fetch it later with 'skytells predictions get ID'",
    ),
    (errors.PredictionError, "see the prediction with 'skytells predictions get ID'"),
    (errors.NotFoundError, "check the name or id ('skytells models list' lists the models)"),
    (errors.ValidationError, "check the inputs ('skytells models get SLUG --schema' lists them)"),
    (errors.APIConnectionError, "check the network and --base-url (or try --emulator)"),
    (errors.ServerError, "the service had a problem; try again later"),
]


def hint(error: errors.SkytellsError) -> str:
    """What to do about an error, in a few words."""
    for cls, text in _HINTS:
        if isinstance(error, cls):
            return text
    return "run again with --debug for details"


def error_line(error: errors.SkytellsError) -> str:
    """``error: ID: message (details) -- what to do`` on one line, made `visible`."""
    text = f"error: {error.error_id}: {error}"  # str(): a ValidationError names its fields
    if isinstance(error, errors.PredictionError) and error.prediction_id:
        text += f" [prediction {error.prediction_id}]"
    summarised = isinstance(error, errors.ValidationError) and errors.details_summary(
        error.details, error.message
    )
    if isinstance(error.details, Mapping) and error.details and not summarised:
        text += f" ({json.dumps(error.details, default=str)[:300]})"
    return visible(f"{text} -- {hint(error)}")


def print_json(console: Console, data: Any) -> None:
    """Machine-readable output for scripts."""
    console.print_json(json.dumps(data, default=str), ensure_ascii=True)  # no raw controls


def progress_bar(console: Console) -> Progress:
    """The bar that follows ``metrics.progress`` and the status."""
    return Progress(  # descriptions and statuses are made `visible` by the caller
        TextColumn("{task.description}", style="bold", markup=False),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%", markup=False),
        TextColumn("{task.fields[status]}", markup=False),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


def models_table(models: Iterable[Mapping[str, Any]]) -> Table:
    """The catalogue as a table."""
    table = Table("namespace", "name", "type", "price", "status", "capabilities")
    for model in models:
        pricing = model.get("pricing") or {}
        price = (
            f"{pricing.get('amount')} {pricing.get('currency', '')}/{pricing.get('unit', '')}"
            if pricing
            else "-"
        )
        table.add_row(
            plain(model.get("namespace", "")),
            plain(model.get("name", "")),
            plain(model.get("type", "")),
            plain(price),
            plain(model.get("status", "")),
            plain(", ".join(str(c) for c in model.get("capabilities") or [])),
        )
    return table


def schema_table(schema: Mapping[str, Any]) -> Table:
    """A model's inputs: name, type, default, required, description."""
    required = set(schema.get("required") or [])
    table = Table("input", "type", "default", "required", "description")
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type", "")
        kind = " | ".join(kind) if isinstance(kind, list) else str(kind)
        if "enum" in prop:
            kind += " (" + ", ".join(map(str, prop["enum"])) + ")"
        bounds = [f"{k} {prop[k]}" for k in ("minimum", "maximum") if k in prop]
        description = str(prop.get("description", "")) + (
            f" [{', '.join(bounds)}]" if bounds else ""
        )
        table.add_row(
            plain(name),
            plain(kind),
            plain(json.dumps(prop["default"]) if "default" in prop else ""),
            "yes" if name in required else "",
            plain(description),
        )
    return table


def predictions_table(predictions: Iterable[Mapping[str, Any]]) -> Table:
    """A page of predictions."""
    table = Table("id", "model", "status", "created_at")
    for item in predictions:
        model = item.get("model")
        name = model.get("name", "") if isinstance(model, Mapping) else str(model or "")
        table.add_row(
            plain(item.get("id", "")),
            plain(name),
            plain(item.get("status", "")),
            plain(item.get("created_at", "")),
        )
    return table


def prediction_summary(console: Console, prediction: Mapping[str, Any]) -> None:
    """The fields a person wants to see about one prediction."""
    metrics = prediction.get("metrics") or {}
    billing = (prediction.get("metadata") or {}).get("billing") or {}
    line = Text.assemble(plain(prediction.get("id"), "bold"), "  status: ")
    console.print(line.append_text(plain(prediction.get("status"))))
    if prediction.get("error"):
        console.print(Text("error: ").append_text(plain(prediction.get("error"))))
    if metrics.get("predict_time") is not None:
        console.print(plain(f"predict time: {metrics['predict_time']} s"))
    if billing.get("credits_used") is not None:
        console.print(plain(f"credits used: {billing['credits_used']}"))
    output = prediction.get("output")
    for item in output if isinstance(output, list) else ([output] if output else []):
        console.print(plain(f"output: {item}", multiline=True), soft_wrap=True)
