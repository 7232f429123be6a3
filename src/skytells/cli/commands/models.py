"""``skytells models list [--type TYPE]`` and ``skytells models get SLUG [--schema]``."""

from __future__ import annotations

import argparse
from typing import Any

from ..._enums import ModelType
from .. import _render as render
from .._context import Context
from .._errors import OK
from .._parser import subparser

TYPES = [kind.value for kind in ModelType]


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``models`` and its actions to the parser."""
    models = commands.add_parser(  # global options also before the action
        "models",
        parents=[common],
        help="browse the model catalogue",
        description="Browse the model catalogue.",
    )
    actions = models.add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=type(models)
    )
    listing = subparser(
        actions,
        "list",
        common,
        help="list models",
        description="List the models. Not on a terminal: one a line, tab-separated: "
        "slug, name, type, price, status, capabilities.",
    )
    listing.add_argument("--type", choices=TYPES, help="only models of this type")
    listing.add_argument("--json", action="store_true", help="print the JSON")
    listing.set_defaults(handler=list_models)
    get = subparser(actions, "get", common, help="show a model", description="Show a model.")
    get.add_argument("slug", help="the model's slug, e.g. truefusion")
    get.add_argument("--schema", action="store_true", help="show its inputs")
    get.add_argument("--json", action="store_true", help="print the JSON (with the schemas)")
    get.set_defaults(handler=get_model)


def list_models(ctx: Context) -> int:
    """The catalogue, optionally of one type."""
    args = ctx.args
    items = ctx.client.models.list(type=args.type or None)
    if args.json:
        ctx.out.json(items)
    else:
        ctx.out.table(render.MODEL_COLUMNS, render.model_rows(items))
    return OK


def get_model(ctx: Context) -> int:
    """One model as ``field: value`` lines; ``--schema`` adds its inputs (a blank line, then a
    table, or one input a line, tab-separated, when stdout is not a terminal)."""
    args, out = ctx.args, ctx.out
    fields = ["input_schema", "output_schema"] if args.schema or args.json else None
    model = ctx.client.models.get(args.slug, fields=fields)
    if args.json:
        out.json(model)
        return OK
    (row,) = render.model_rows([model])
    for column, cell in zip(render.MODEL_COLUMNS, row, strict=True):
        out.line(f"{column.title}: {cell}")
    if model.get("description"):
        out.line(render.plain(f"description: {model['description']}", multiline=out.terminal))
    if args.schema:
        out.line("")
        out.table(render.SCHEMA_COLUMNS, render.schema_rows(model.get("input_schema") or {}))
    return OK
