"""``skytells predictions list|get|wait|cancel|delete``."""

from __future__ import annotations

import argparse
from typing import Any

from .. import _render as render
from .._context import Context
from .._errors import OK
from .._parser import date, milliseconds, page_number, subparser
from .run import finished


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``predictions`` and its actions to the parser."""
    predictions = commands.add_parser(  # global options also before the action
        "predictions",
        parents=[common],
        help="list, get, wait, cancel, delete",
        description="Your predictions: list them, show, wait for, cancel or delete one.",
    )
    actions = predictions.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=type(predictions)
    )
    listing = subparser(
        actions,
        "list",
        common,
        help="list predictions, newest first",
        description="List predictions, newest first. Not on a terminal: one a line, "
        "tab-separated: id, model, status, created_at.",
    )
    listing.add_argument("--page", type=page_number, help="page number (1 is the newest)")
    listing.add_argument("--model", help="only this model's (slug)")
    listing.add_argument("--status", help="only those with this status")
    listing.add_argument("--since", type=date, metavar="YYYY-MM-DD", help="created on or after")
    listing.add_argument("--until", type=date, metavar="YYYY-MM-DD", help="created on or before")
    listing.add_argument("--json", action="store_true", help="print the page's JSON")
    listing.set_defaults(handler=list_predictions)
    for name, text, handler in (
        ("get", "show a prediction (exit code 0 whatever its status)", get),
        ("wait", "wait until it finishes (exit code 3 if it failed or was cancelled)", wait),
        ("cancel", "cancel it", cancel),
        ("delete", "delete it and its files", delete),
    ):
        action = subparser(
            actions, name, common, help=text, description=text[:1].upper() + text[1:]
        )
        action.add_argument("id", help="the prediction's id")
        action.add_argument("--json", action="store_true", help="print the JSON")
        if name == "wait":
            action.add_argument(
                "--timeout", type=milliseconds, metavar="MS", help="stop waiting after MS ms"
            )
        action.set_defaults(handler=handler)


def list_predictions(ctx: Context) -> int:
    """A page of predictions: a table, tab-separated lines, or JSON."""
    args, out = ctx.args, ctx.out
    page = ctx.client.predictions.list(
        page=args.page, since=args.since, until=args.until, model=args.model, status=args.status
    )
    if args.json:
        out.json(page.to_dict())
        return OK
    out.table(render.PREDICTION_COLUMNS, render.prediction_rows(page, for_people=out.terminal))
    p = page.pagination
    line = f"page {p.current_page} of {p.last_page} ({p.total} predictions)"
    out.line(render.visible(line), err=not out.terminal)
    return OK


def _show(ctx: Context, prediction: Any) -> None:
    if ctx.args.json:
        ctx.out.json(prediction)
    else:
        ctx.out.prediction(prediction)


def get(ctx: Context) -> int:
    """Show a prediction as it is now."""
    _show(ctx, ctx.client.predictions.get(ctx.args.id))
    return OK


def wait(ctx: Context) -> int:
    """Wait for the end; exit code 3 if the prediction failed or was cancelled."""
    final = ctx.client.wait(ctx.args.id, {"max_wait": ctx.args.timeout})
    _show(ctx, final)
    return finished(ctx, final)


def cancel(ctx: Context) -> int:
    """Cancel a prediction."""
    _show(ctx, ctx.client.cancel_prediction(ctx.args.id))
    return OK


def delete(ctx: Context) -> int:
    """Delete a prediction and its files."""
    result = ctx.client.delete_prediction(ctx.args.id)
    if ctx.args.json:
        ctx.out.json(result)
    else:
        ctx.out.line(render.visible(f"deleted {ctx.args.id}"))
    return OK
