"""What the command line shows: tables, the progress bar, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import _exceptions as errors

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
    """``error: ID: message (details) -- what to do`` on one line."""
    text = f"error: {error.error_id}: {error.message}"
    if isinstance(error, errors.PredictionError) and error.prediction_id:
        text += f" [prediction {error.prediction_id}]"
    if isinstance(error.details, Mapping) and error.details:
        text += f" ({json.dumps(error.details, default=str)[:300]})"
    return f"{text} -- {hint(error)}"


def print_json(console: Console, data: Any) -> None:
    """Machine-readable output for scripts."""
    console.print_json(json.dumps(data, default=str))


def progress_bar(console: Console) -> Progress:
    """The bar that follows ``metrics.progress`` and the status."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[status]}"),
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
            str(model.get("namespace", "")),
            str(model.get("name", "")),
            str(model.get("type", "")),
            price,
            str(model.get("status", "")),
            ", ".join(str(c) for c in model.get("capabilities") or []),
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
            name,
            kind,
            json.dumps(prop["default"]) if "default" in prop else "",
            "yes" if name in required else "",
            description,
        )
    return table


def predictions_table(predictions: Iterable[Mapping[str, Any]]) -> Table:
    """A page of predictions."""
    table = Table("id", "model", "status", "created_at")
    for item in predictions:
        model = item.get("model")
        name = model.get("name", "") if isinstance(model, Mapping) else str(model or "")
        table.add_row(
            str(item.get("id", "")),
            name,
            str(item.get("status", "")),
            str(item.get("created_at", "")),
        )
    return table


def prediction_summary(console: Console, prediction: Mapping[str, Any]) -> None:
    """The fields a person wants to see about one prediction."""
    metrics = prediction.get("metrics") or {}
    billing = (prediction.get("metadata") or {}).get("billing") or {}
    console.print(f"[bold]{prediction.get('id')}[/bold]  status: {prediction.get('status')}")
    if prediction.get("error"):
        console.print(f"error: {prediction.get('error')}")
    if metrics.get("predict_time") is not None:
        console.print(f"predict time: {metrics['predict_time']} s")
    if billing.get("credits_used") is not None:
        console.print(f"credits used: {billing['credits_used']}")
    output = prediction.get("output")
    for item in output if isinstance(output, list) else ([output] if output else []):
        console.print(f"output: {item}", soft_wrap=True)
