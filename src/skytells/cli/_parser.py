"""The argument parser: global options (accepted before or after the command), the commands.

Each command group is a module of `skytells.cli.commands` with ``register(commands, common)``:
it adds its parsers (built with ``parents=[common]``) and sets ``handler`` on each.
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, NoReturn

from .._version import __version__
from ._errors import EPILOG, USAGE


class Parser(argparse.ArgumentParser):
    """An `ArgumentParser` whose errors are one line: ``prog: error: ... (see prog --help)``."""

    def error(self, message: str) -> NoReturn:
        """Print the usage error on one line and exit with code 2."""
        self.exit(USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes; ``suppress``: absent ones leave the namespace alone."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--api-key", default=default, help="API key (default: $SKYTELLS_API_KEY)")
    parser.add_argument(
        "--base-url",
        default=default,
        help="API base URL, ending in /v1 (default: $SKYTELLS_BASE_URL or the service)",
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="use the running 'skytells emulator', or else one that lives for this command only",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="show tracebacks and debug logs",
    )


def build() -> Parser:
    """The ``skytells`` parser with every command group registered."""
    from .commands import GROUPS

    parser = Parser(
        prog="skytells",
        description="Run Skytells AI models from the terminal.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"skytells {__version__}")
    global_options(parser, suppress=False)
    common = Parser(add_help=False)
    global_options(common, suppress=True)
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    for group in GROUPS:
        group.register(commands, common)
    return parser


def date(text: str) -> str:
    """An argument that is a date as YYYY-MM-DD."""
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-01-31")


def page_number(text: str) -> int:
    """An argument that is a page number (1 is the first page)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"page numbers start at 1, got {text!r}")
    return value


def milliseconds(text: str) -> int:
    """An argument that is a positive number of milliseconds."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive number of milliseconds, got {text!r}"
        )
    return value


def subparser(
    commands: Any, name: str, common: argparse.ArgumentParser, **kwargs: Any
) -> argparse.ArgumentParser:
    """A command's parser that also takes the global options."""
    parser: argparse.ArgumentParser = commands.add_parser(name, parents=[common], **kwargs)
    return parser


def command_words(args: argparse.Namespace) -> tuple[str, ...]:
    """The command and its subject, for hints: ``("run", slug)``, ``("predictions", "get", id)``."""
    words = [str(getattr(args, "command", "") or "")]
    action = getattr(args, "action", None)
    if action:
        words.append(str(action))
    for subject in ("model", "id", "slug"):
        value = getattr(args, subject, None)
        if isinstance(value, str):
            words.append(value)
            break
    return tuple(words)
