"""``skytells run MODEL -i key=value ...``: create, follow (bar, status lines or stream), save."""

from __future__ import annotations

import argparse
import errno
import os
from pathlib import Path
from typing import Any

from ..._clients.sync import SkytellsClient
from ..._core.running import check_outcome
from ..._enums import is_terminal, normalize_status
from ..._exceptions import NotFoundError, PredictionError, SkytellsError
from ..._types import PredictionResponse
from .. import _render as render
from .._context import Context
from .._errors import ERROR, INTERRUPTED, OK, UNSUCCESSFUL, UsageError
from .._inputs import check_pairs, merge_inputs, parse_inputs, read_json_inputs
from .._parser import milliseconds, subparser

DEFAULT_OUTPUT_DIR = "outputs"

EPILOG = """\
inputs:
  -i key=value     one input; its value is converted to the type the model's schema says
                   (-i num_outputs=2 is an integer). A key may be given once: for a list use
                   -i key=a,b (an array input) or --input-json '{"key": ["a", "b"]}'.
  --input-json     a JSON object of inputs; --input-file reads one from a file ('-': stdin).
                   The three are merged; a key given by two of them is a usage error.

output:
  The prediction's full id, status and output URLs are printed first, then the outputs are
  saved (--output-dir, default ./outputs; with --json or --stream only if given).
  --json prints only the prediction's JSON. --stream prints a text model's output as it is
  produced. Exit code 3 when the prediction failed or was cancelled."""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``run`` to the parser."""
    parser = subparser(
        commands,
        "run",
        common,
        help="run a model and save its outputs",
        description="Run a model: create a prediction, follow it, print and save its outputs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("model", help="model slug, e.g. truefusion ('skytells models list')")
    parser.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a model input (repeatable, each key once); KEY=@path sends a file, KEY=@- "
        "standard input, KEY=@@text the text @text",
    )
    parser.add_argument("--input-json", metavar="JSON", help="inputs as a JSON object")
    parser.add_argument("--input-file", metavar="PATH", help="inputs from a JSON file ('-': stdin)")
    parser.add_argument(
        "--output-dir",
        help=f"where outputs are saved (default: {DEFAULT_OUTPUT_DIR}; "
        "with --json or --stream: not saved unless given)",
    )
    follow = parser.add_mutually_exclusive_group()
    follow.add_argument("--no-wait", action="store_true", help="create it and print its id")
    follow.add_argument(
        "--stream", action="store_true", help="print a text model's output as it is produced"
    )
    parser.add_argument("--json", action="store_true", help="print only the prediction's JSON")
    parser.add_argument(
        "--webhook", metavar="URL", help="receive a POST when it completes or fails"
    )
    parser.add_argument(
        "--timeout", type=milliseconds, metavar="MS", help="stop waiting after MS milliseconds"
    )
    parser.set_defaults(handler=run)


def run(ctx: Context) -> int:
    """Create the prediction, follow it, show it, save its outputs; the exit code."""
    args, out = ctx.args, ctx.out
    if args.stream and args.json:
        raise UsageError("--stream prints the output as it comes, --json at the end: choose one")
    check_pairs(args.input)
    folder = args.output_dir
    if folder is None and not (args.json or args.stream):
        folder = DEFAULT_OUTPUT_DIR
    if folder == "":
        raise UsageError("--output-dir is empty: name a folder, e.g. --output-dir outputs")
    outputs_to = None if folder is None or args.no_wait else output_folder(folder)
    from_json = read_json_inputs(args.input_json, args.input_file)
    client = ctx.client
    schema = _input_schema(client, args.model)
    stdin_taken = "--input-file -" if args.input_file == "-" else None
    inputs = merge_inputs(parse_inputs(args.input, schema, stdin_taken=stdin_taken), from_json)
    payload: dict[str, Any] = {"model": args.model, "input": inputs}
    if args.webhook:
        payload["webhook"] = {"url": args.webhook, "events": ["completed", "failed"]}
    if args.stream:
        payload["stream"] = True
    created = client.predictions.create(payload)
    if args.no_wait:
        if args.json:
            out.json(created)
        else:
            out.prediction(created)
        return OK
    streamed = False
    try:
        if args.stream:
            final, streamed = _stream(ctx, created)
        else:
            final = _follow(ctx, created)
    except KeyboardInterrupt:
        prediction_id = render.visible(created["id"])
        if ctx.temporary_emulator:
            out.line(
                f"Interrupted. Prediction {prediction_id} ended with this command's temporary "
                "emulator (run 'skytells emulator' in another terminal to keep predictions)",
                err=True,
            )
        else:
            out.line(
                f"Interrupted. Prediction {prediction_id} goes on; get it later with: "
                f"skytells predictions get {prediction_id}",
                err=True,
            )
        return INTERRUPTED
    if args.json:
        out.json(final)
    else:  # the full id and the output URLs come before any saving
        out.prediction(final, err=streamed, with_output=not streamed)
    code = finished(ctx, final)
    if code != OK:
        return code
    if outputs_to is None:
        return OK
    try:
        paths = client.save_outputs(final, output_folder(str(outputs_to)))
    except SkytellsError as error:
        out.line(render.error_line(error, ctx.words), err=True)
        return ERROR
    for path in paths:
        out.line(render.visible(f"saved: {path}"), err=args.json)
    return OK


def output_folder(folder: str) -> Path:
    """``--output-dir``, created if needed: always a folder this user can write (a file in the
    way, or a folder that cannot be written, is an error). Checked before the prediction is
    created, so a folder that cannot hold its outputs costs nothing, and again before saving."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError) or path.is_file():
            reason = "a file is in the way"
        raise SkytellsError(
            f"Could not create the output folder {folder[:300]!r}: {reason}",
            "FILE_WRITE_ERROR",
            {"path": folder[:300]},
        ) from None
    return path


def finished(ctx: Context, final: PredictionResponse) -> int:
    """OK for a prediction that succeeded; else its error on stderr and `UNSUCCESSFUL`."""
    try:
        check_outcome(final)
    except PredictionError as error:
        ctx.out.line(render.error_line(error, ctx.words), err=True)
        return UNSUCCESSFUL
    if normalize_status(final.get("status")) != "succeeded":  # not finished: waiting stopped
        return ERROR
    return OK


def _follow(ctx: Context, created: PredictionResponse) -> PredictionResponse:
    """Wait for the end: a live bar on a terminal, status lines on stderr otherwise."""
    args, out, client = ctx.args, ctx.out, ctx.client
    options = {"max_wait": args.timeout}
    description = render.visible(f"{args.model} {created['id']}")
    if args.json:  # scripts: only the JSON
        return client.wait(created, options)
    if out.live_progress:  # the id in full above the bar, which may have to shorten its text
        out.line(description, err=True)
        description = render.visible(args.model)
    else:
        with out.status_lines() as show:
            show(description, render.visible(created.get("status", "")))

            def on_status(state: dict[str, Any]) -> None:
                show(description, render.visible(state.get("status", "")))

            return client.wait(created, options, on_progress=on_status)
    with render.progress_bar(out.err) as bar:
        task = bar.add_task(
            description, total=100, status=render.visible(created.get("status", ""))
        )

        def on_progress(state: dict[str, Any]) -> None:
            metrics = state.get("metrics") or {}
            progress = metrics.get("progress")
            done = is_terminal(state.get("status"))
            completed = 100 if done and state.get("status") == "succeeded" else progress
            status = render.visible(state.get("status", ""))
            bar.update(task, completed=completed or 0, status=status)

        return client.wait(created, options, on_progress=on_progress)


def _stream(ctx: Context, created: PredictionResponse) -> tuple[PredictionResponse, bool]:
    """Print a text output's pieces on stdout as they come; the final prediction, and whether
    any text was streamed. Status changes go to stderr until the output starts."""
    args, out, client = ctx.args, ctx.out, ctx.client
    final: PredictionResponse | None = None
    text_seen = ends_with_newline = False
    description = render.visible(f"{args.model} {created['id']}")
    with out.status_lines() as show, client.stream(created, max_wait=args.timeout) as events:
        for event in events:
            if event.event == "output" and event.text:
                piece = render.visible(event.text, multiline=True)
                out.write(piece)
                text_seen, ends_with_newline = True, piece.endswith("\n")
            elif event.terminal:
                final = event.prediction
            elif event.status and not text_seen:
                show(description, render.visible(event.status))
    if text_seen and not ends_with_newline:
        out.write("\n")
    if final is None:
        final = client.predictions.get(created["id"])
    return final, text_seen


def _input_schema(client: SkytellsClient, model: str) -> dict[str, Any] | None:
    try:
        return client.models.get(model, fields=["input_schema"]).get("input_schema")
    except NotFoundError:
        raise
    except SkytellsError:
        return None  # convert by guessing; the server still validates
