"""The `skytells` command line: run models, manage predictions, browse models, start the emulator.

skytells --emulator run truefusion -i prompt="a red fox"
skytells models list --type image
skytells predictions get ID
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

from .._exceptions import SkytellsError
from .._version import __version__

__all__ = ["main"]

EMULATOR_TIME_SCALE = 0.1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skytells", description="Run Skytells AI models from the terminal."
    )
    parser.add_argument("--version", action="version", version=f"skytells {__version__}")
    parser.add_argument("--api-key", help="API key (default: $SKYTELLS_API_KEY)")
    parser.add_argument(
        "--base-url", help="API base URL (default: $SKYTELLS_BASE_URL or the service)"
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        help="run against an in-process emulator (no account, no network)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a model and save its outputs")
    run.add_argument("model", help="model slug, e.g. truefusion")
    run.add_argument(
        "-i", "--input", action="append", metavar="KEY=VALUE", help="a model input (repeatable)"
    )
    run.add_argument(
        "--output-dir", default="outputs", help="where outputs are saved (default: outputs)"
    )
    run.add_argument("--no-wait", action="store_true", help="create it and print the id")
    run.add_argument("--json", action="store_true", help="print the prediction as JSON")
    run.add_argument("--webhook", metavar="URL", help="receive a POST when it completes or fails")
    run.add_argument("--timeout", type=int, metavar="MS", help="stop waiting after MS milliseconds")

    predictions = commands.add_parser("predictions", help="list, get, wait, cancel, delete")
    actions = predictions.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list predictions, newest first")
    listing.add_argument("--page", type=int)
    listing.add_argument("--model")
    listing.add_argument("--status")
    listing.add_argument("--since", metavar="YYYY-MM-DD")
    listing.add_argument("--until", metavar="YYYY-MM-DD")
    listing.add_argument("--json", action="store_true")
    for name, text in (
        ("get", "show a prediction"),
        ("wait", "wait until it finishes"),
        ("cancel", "cancel it"),
        ("delete", "delete it and its files"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("id")
        action.add_argument("--json", action="store_true")
        if name == "wait":
            action.add_argument("--timeout", type=int, metavar="MS")

    models = commands.add_parser("models", help="browse the model catalogue")
    model_actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    model_list = model_actions.add_parser("list", help="list models")
    model_list.add_argument("--type", help="image, video, audio, music, text ...")
    model_list.add_argument("--json", action="store_true")
    model_get = model_actions.add_parser("get", help="show a model")
    model_get.add_argument("slug")
    model_get.add_argument("--schema", action="store_true", help="show its inputs")
    model_get.add_argument("--json", action="store_true")

    from ._batch import add_parser as add_batch

    add_batch(commands)

    emulator = commands.add_parser(
        "emulator", help="serve the offline emulator", add_help=False, prefix_chars="\0"
    )
    emulator.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `skytells` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from ..emulator.__main__ import main as emulator_main

        return emulator_main(argv[1:])
    args = _parser().parse_args(argv)
    from rich.console import Console

    console = Console()
    if args.debug:
        _debug_logging()
    try:
        with _client(args) as client:
            from . import _batch, _commands

            handler = {
                "run": _commands.run,
                "predictions": _commands.predictions,
                "models": _commands.models,
                "batch": _batch.command,
            }[args.command]
            return handler(client, args, console)
    except SkytellsError as error:
        if args.debug:  # the traceback, with what the server said made visible
            import traceback

            from ._render import visible

            text = "".join(traceback.format_exception(error))
            print(visible(text, multiline=True), end="", file=sys.stderr)
            return 1
        from rich.text import Text

        from ._render import error_line

        Console(stderr=True).print(Text(error_line(error)), highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        return 130


def _debug_logging() -> None:
    """``--debug``: every log record on stderr, its text made visible (it may quote a server)."""
    import logging

    from ._render import visible

    class VisibleFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return visible(super().format(record), multiline=True)

    handler = logging.StreamHandler()
    handler.setFormatter(VisibleFormatter(logging.BASIC_FORMAT))
    logging.basicConfig(level=logging.DEBUG, handlers=[handler])


@contextlib.contextmanager
def _client(args: argparse.Namespace) -> Iterator[Any]:
    from .._clients.sync import SkytellsClient

    if not args.emulator:
        with SkytellsClient(args.api_key, base_url=args.base_url) as client:
            yield client
        return
    from ..emulator import Emulator

    scale = float(os.environ.get("SKYTELLS_EMULATOR_TIME_SCALE", EMULATOR_TIME_SCALE))
    with (
        Emulator(time_scale=scale) as emu,
        SkytellsClient(emu.api_key, base_url=emu.base_url) as client,
    ):
        yield client
