"""What the command line shows: rows of tables, the progress bar, one-line errors and hints.

Nothing a server sends is trusted: every id, status, message, name and output goes through
`plain()`/`visible()`, so it is printed as plain text (never parsed as rich markup or emoji
codes) with control and invisible formatting characters shown as escapes (``\\x1b``,
``\\u202e``): no title change, screen clear, fake colour or reordered text from a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from .. import _exceptions as errors
from .._core.text import escape_char, is_unsafe

_NOT_PLAIN_ASCII = re.compile(r"[^\x20-\x5b\x5d-\x7e]")  # and the backslash


def visible(value: object, *, multiline: bool = False) -> str:
    """``value`` as text safe for a terminal: control characters (ESC, BEL, CR, C1...), bidi
    and zero-width format characters, separators, surrogates and unassigned code points become
    escapes such as ``\\x1b`` and ``\\u202e``. ``multiline`` keeps newlines, tabs and
    backslashes (free text such as a text model's output on a terminal); elsewhere they are
    escaped too, a backslash as ``\\\\`` (so a server's literal ``\\x1b`` cannot pass for
    an escaped ESC): one value stays one line."""
    text = value if isinstance(value, str) else str(value)

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if char == "\\":
            return char if multiline else "\\\\"
        if multiline and char in "\n\t":
            return char
        if char in "\n\r\t" or is_unsafe(char):
            return escape_char(char)
        return char

    return _NOT_PLAIN_ASCII.sub(replace, text)


def plain(value: object, style: str = "", *, multiline: bool = False) -> Text:
    """A rich `Text` of ``value``: shown as is (no markup, no emoji codes), made `visible`."""
    return Text(visible(value, multiline=multiline), style=style)


TERMINAL_STATUSES = ("succeeded", "failed", "cancelled", "canceled")

_GENERIC_HINTS: list[tuple[type[errors.SkytellsError], str]] = [
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
    (errors.ValidationError, "check the command's arguments (add --help to it)"),
    (errors.APIConnectionError, "check the network and --base-url (or try --emulator)"),
    (errors.ServerError, "the service had a problem; try again later"),
]
_PREDICTION_ACTIONS = frozenset({"get", "wait", "cancel", "delete"})
_LIST_FIELDS = {
    "page": "--page",
    "from": "--since",
    "since": "--since",
    "to": "--until",
    "until": "--until",
}


_EMULATOR_HINTS: list[tuple[type[errors.SkytellsError], str]] = [
    (
        errors.AuthenticationError,
        "the emulator refused its own key: restart 'skytells emulator' (or stop it: --emulator "
        "then starts a temporary one)",
    ),
    (
        errors.APIConnectionError,
        "the emulator stopped answering: check that 'skytells emulator' still runs",
    ),
]


def hint(
    error: errors.SkytellsError, command: Sequence[str] = (), *, emulator: bool = False
) -> str:
    """What to do about ``error``, in a few words, for the command that got it.

    ``command`` is the command's words and its model or id, e.g. ``("run", "flux-pro")`` or
    ``("predictions", "get", ID)``: the same error id means different things to different
    commands (an unknown id to ``predictions get``, an unknown slug to ``run``). ``emulator``:
    the command used ``--emulator`` (no key or network to check, and no ``--emulator`` to try).
    """
    group, action = [*command, "", ""][:2]
    if emulator:
        for cls, text in _EMULATOR_HINTS:
            if isinstance(error, cls):
                return text
    if error.error_id == "ENDPOINT_NOT_FOUND":
        return (
            "check the base URL (--base-url or SKYTELLS_BASE_URL): it should end in /v1, "
            "e.g. https://api.skytells.ai/v1"
        )
    if isinstance(error, errors.PredictionError) and error.prediction_id:
        get = f"'skytells predictions get {error.prediction_id}'"
        if isinstance(error, errors.WaitTimeoutError):
            return f"the prediction goes on: fetch it later with {get}"
        return f"see the prediction with {get}"
    if error.error_id == "FILE_TOO_LARGE":
        field = _detail(error, "field") or "KEY"
        return f"upload the file (to your bucket or CDN) and pass its URL: -i {field}=https://..."
    if error.error_id == "FILE_WRITE_ERROR":
        return "check --output-dir: a folder you can write (the outputs' URLs are shown above)"
    if isinstance(error, errors.NotFoundError):
        if group == "predictions" and action in _PREDICTION_ACTIONS:
            return "check the prediction id ('skytells predictions list' lists your predictions)"
        return "check the model slug ('skytells models list' lists the models)"
    if isinstance(error, errors.ValidationError):
        if group == "run":
            slug = command[1] if len(command) > 1 else "SLUG"
            return f"check the inputs ('skytells models get {slug} --schema' lists them)"
        if (group, action) == ("predictions", "list"):
            if error.error_id == "INVALID_DATE_RANGE":
                return "--since must be on or before --until (dates as YYYY-MM-DD)"
            details = error.details if isinstance(error.details, Mapping) else {}
            parameter = details.get("parameter") or details.get("field")
            flag = _LIST_FIELDS.get(parameter) if isinstance(parameter, str) else None
            if flag == "--page":
                return "--page takes a page number from 1 to the last page ('page N of M')"
            if flag in ("--since", "--until") or error.error_id == "INVALID_DATE_FORMAT":
                return "--since and --until take a date as YYYY-MM-DD, e.g. --since 2026-01-31"
            return "check the options ('skytells predictions list --help')"
    for cls, text in _GENERIC_HINTS:
        if isinstance(error, cls):
            return text
    return "run again with --debug for details"


def _detail(error: errors.SkytellsError, key: str) -> Any:
    return error.details.get(key) if isinstance(error.details, Mapping) else None


def _too_large(error: errors.SkytellsError) -> str | None:
    """FILE_TOO_LARGE said for the command line (the SDK's names Python options)."""
    size, limit, field = (_detail(error, key) for key in ("size", "limit", "field"))
    if error.error_id != "FILE_TOO_LARGE" or not isinstance(size, int):
        return None
    if not isinstance(limit, int) or not isinstance(field, str):
        return None
    if _detail(error, "fields"):
        return (
            f"the files of this request take {_mib(size)} as data: URIs, over the "
            f"{_mib(limit)} the API takes in one request"
        )
    return (
        f"input {field!r} is a {_mib(size)} file: files above {_mib(limit)} are not sent "
        "inline (as a data: URI)"
    )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


def error_line(
    error: errors.SkytellsError, command: Sequence[str] = (), *, emulator: bool = False
) -> str:
    """``error: ID: message (details) -- what to do`` on one line, made `visible`."""
    text = f"error: {error.error_id}: {_too_large(error) or error}"  # str(): names the fields
    if isinstance(error, errors.PredictionError) and error.prediction_id:
        text += f" [prediction {error.prediction_id}]"
    summarised = isinstance(error, errors.ValidationError) and errors.details_summary(
        error.details, error.message
    )
    if isinstance(error.details, Mapping) and error.details and not summarised:
        text += f" ({json.dumps(error.details, default=str)[:300]})"
    return visible(f"{text} -- {hint(error, command, emulator=emulator)}")


def json_text(data: Any) -> str:
    """Machine-readable output for scripts: indented JSON, non-ASCII escaped (no raw controls)."""
    return json.dumps(data, default=str, indent=2, ensure_ascii=True)


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


@dataclass(frozen=True)
class Column:
    """A table column; ``key`` columns (ids, slugs, statuses) are never wrapped nor cut."""

    title: str
    key: bool = False


def number(value: object) -> str:
    """A number as plain decimals (``0.000002``, never ``2e-06``); other values as given."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return str(value)
    try:
        exact = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if not exact.is_finite():
        return str(value)
    text = format(exact, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def price(pricing: Mapping[str, Any] | None) -> str:
    """``0.000002 USD/token``: the amount in plain decimals, its currency and unit."""
    if not pricing:
        return "-"
    amount = number(pricing.get("amount"))
    currency = pricing.get("currency", "")
    unit = pricing.get("unit", "")
    return f"{amount} {currency}/{unit}" if unit else f"{amount} {currency}".strip()


MODEL_COLUMNS = (
    Column("model", key=True),
    Column("name"),
    Column("type", key=True),
    Column("price"),
    Column("status"),
    Column("capabilities"),
)


def model_rows(models: Iterable[Mapping[str, Any]]) -> list[list[str]]:
    """The catalogue: slug (what ``run`` takes), name, type, price, status, capabilities."""
    return [
        [
            visible(model.get("namespace", "")),
            visible(model.get("name", "")),
            visible(model.get("type", "")),
            visible(price(model.get("pricing"))),
            visible(model.get("status", "")),
            visible(", ".join(str(c) for c in model.get("capabilities") or [])),
        ]
        for model in models
    ]


SCHEMA_COLUMNS = (
    Column("input", key=True),
    Column("type"),
    Column("default"),
    Column("required"),
    Column("description"),
)


def schema_rows(schema: Mapping[str, Any]) -> list[list[str]]:
    """A model's inputs: name, type, default, required, description."""
    required = set(schema.get("required") or [])
    rows = []
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type", "")
        kind = " | ".join(kind) if isinstance(kind, list) else str(kind)
        if "enum" in prop:
            kind += " (" + ", ".join(map(str, prop["enum"])) + ")"
        bounds = [f"{k} {number(prop[k])}" for k in ("minimum", "maximum") if k in prop]
        description = str(prop.get("description", "")) + (
            f" [{', '.join(bounds)}]" if bounds else ""
        )
        rows.append(
            [
                visible(name),
                visible(kind),
                visible(json.dumps(prop["default"]) if "default" in prop else ""),
                "yes" if name in required else "",
                visible(description),
            ]
        )
    return rows


PREDICTION_COLUMNS = (
    Column("id", key=True),
    Column("model", key=True),
    Column("status", key=True),
    Column("created_at"),
)


_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$")


def short_time(value: object) -> str:
    """``2026-01-31T12:00:00.123456Z`` as ``2026-01-31 12:00:00`` (for people); else as is."""
    text = str(value)
    match = _ISO_TIME.match(text)
    if not match:
        return text
    zone = match.group(3) or ""
    return f"{match.group(1)} {match.group(2)}" + ("" if zone in ("Z", "+00:00", "") else zone)


def prediction_rows(
    predictions: Iterable[Mapping[str, Any]], *, for_people: bool = False
) -> list[list[str]]:
    """A page of predictions: id, model, status, created_at (``for_people``: shortened)."""
    rows = []
    for item in predictions:
        model = item.get("model")
        name = model.get("name", "") if isinstance(model, Mapping) else str(model or "")
        rows.append(
            [
                visible(item.get("id", "")),
                visible(name),
                visible(item.get("status", "")),
                visible(
                    short_time(item.get("created_at", ""))
                    if for_people
                    else item.get("created_at", "")
                ),
            ]
        )
    return rows


def outputs(prediction: Mapping[str, Any]) -> list[Any]:
    """A prediction's outputs as a list (one text, a list of URLs, or none)."""
    output = prediction.get("output")
    return list(output) if isinstance(output, list) else ([output] if output else [])


def summary_lines(
    prediction: Mapping[str, Any], *, with_output: bool = True, multiline: bool = False
) -> list[Text]:
    """The fields a person wants to see about one prediction, as ``field: value`` lines.

    Credits are shown only once the prediction has finished: before, they are not known.
    ``multiline`` (a terminal) keeps a text output's lines; otherwise each field is one line."""
    metrics = prediction.get("metrics") or {}
    billing = (prediction.get("metadata") or {}).get("billing") or {}
    status = prediction.get("status")
    lines = [Text("id: ").append_text(plain(prediction.get("id"), "bold"))]
    lines.append(Text("status: ").append_text(plain(status)))
    if prediction.get("error"):
        lines.append(Text("error: ").append_text(plain(prediction.get("error"))))
    if metrics.get("predict_time") is not None:
        lines.append(plain(f"predict time: {number(metrics['predict_time'])} s"))
    if billing.get("credits_used") is not None and status in TERMINAL_STATUSES:
        lines.append(plain(f"credits used: {number(billing['credits_used'])}"))
    if with_output:
        lines.extend(plain(f"output: {item}", multiline=multiline) for item in outputs(prediction))
    return lines
