"""The commands: run, predictions ..., models ...; each returns the process exit code."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from .._clients.sync import SkytellsClient
from .._enums import is_terminal
from .._exceptions import NotFoundError, SkytellsError
from .._types import PredictionResponse
from . import _render as render
from ._inputs import parse_inputs


def run(client: SkytellsClient, args: argparse.Namespace, console: Console) -> int:
    """``skytells run MODEL -i key=value ...``: create, follow, save the outputs."""
    schema = _input_schema(client, args.model)
    payload: dict[str, Any] = {"model": args.model, "input": parse_inputs(args.input or [], schema)}
    if args.webhook:
        payload["webhook"] = {"url": args.webhook, "events": ["completed", "failed"]}
    created = client.predictions.create(payload)
    if args.no_wait:
        _show(console, args, created)
        return 0
    try:
        final = _follow(client, created, args, console)
    except KeyboardInterrupt:
        prediction_id = render.visible(created["id"])
        console.print(
            render.plain(
                f"\nInterrupted. Prediction {prediction_id} goes on; get it later with: "
                f"skytells predictions get {prediction_id}",
                multiline=True,
            )
        )
        return 130
    from .._core.running import check_outcome

    check_outcome(final)
    paths = [] if args.output_dir is None else client.save_outputs(final, Path(args.output_dir))
    if args.json:
        render.print_json(console, {**final, "saved": [str(p) for p in paths]})
        return 0
    render.prediction_summary(console, final)
    for path in paths:
        console.print(render.plain(f"saved: {path}"), soft_wrap=True)
    return 0


def _follow(
    client: SkytellsClient, created: PredictionResponse, args: argparse.Namespace, console: Console
) -> PredictionResponse:
    if args.json:  # scripts: no bar
        return client.wait(created, {"max_wait": args.timeout})
    with render.progress_bar(console) as bar:
        task = bar.add_task(
            render.visible(f"{args.model} {str(created['id'])[:8]}"),
            total=100,
            status=render.visible(created["status"]),
        )

        def on_progress(state: dict[str, Any]) -> None:
            metrics = state.get("metrics") or {}
            progress = metrics.get("progress")
            done = is_terminal(state.get("status"))
            completed = 100 if done and state.get("status") == "succeeded" else progress
            status = render.visible(state.get("status", ""))
            bar.update(task, completed=completed or 0, status=status)

        return client.wait(created, {"max_wait": args.timeout}, on_progress=on_progress)


def _input_schema(client: SkytellsClient, model: str) -> dict[str, Any] | None:
    try:
        return client.models.get(model, fields=["input_schema"]).get("input_schema")
    except NotFoundError:
        raise
    except SkytellsError:
        return None  # convert by guessing; the server still validates


def predictions(client: SkytellsClient, args: argparse.Namespace, console: Console) -> int:
    """``skytells predictions list|get|wait|cancel|delete``."""
    action = args.action
    if action == "list":
        page = client.predictions.list(
            page=args.page, since=args.since, until=args.until, model=args.model, status=args.status
        )
        if args.json:
            render.print_json(console, page.to_dict())
        else:
            console.print(render.predictions_table(page))
            p = page.pagination
            line = f"page {p.current_page} of {p.last_page} ({p.total} predictions)"
            console.print(render.plain(line))
        return 0
    if action == "get":
        _show(console, args, client.predictions.get(args.id))
    elif action == "wait":
        _show(console, args, client.wait(args.id, {"max_wait": args.timeout}))
    elif action == "cancel":
        _show(console, args, client.cancel_prediction(args.id))
    elif action == "delete":
        result = client.delete_prediction(args.id)
        if args.json:
            render.print_json(console, result)
        else:
            console.print(render.plain(f"deleted {args.id}"))
    return 0


def models(client: SkytellsClient, args: argparse.Namespace, console: Console) -> int:
    """``skytells models list [--type TYPE]`` and ``skytells models get SLUG [--schema]``."""
    if args.action == "list":
        items = client.models.list(type=args.type or None)
        if args.json:
            render.print_json(console, items)
        else:
            console.print(render.models_table(items))
        return 0
    fields = ["input_schema", "output_schema"] if args.schema or args.json else None
    model = client.models.get(args.slug, fields=fields)
    if args.json:
        render.print_json(console, model)
        return 0
    console.print(render.models_table([model]))
    if model.get("description"):
        console.print(render.plain(model["description"], multiline=True))
    if args.schema:
        console.print(render.schema_table(model.get("input_schema") or {}))
    return 0


def _show(console: Console, args: argparse.Namespace, prediction: PredictionResponse) -> None:
    if args.json:
        render.print_json(console, prediction)
    else:
        render.prediction_summary(console, prediction)
