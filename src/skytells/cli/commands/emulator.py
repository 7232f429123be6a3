"""``skytells emulator ...``: serve the offline emulator (its own options, its own --help)."""

from __future__ import annotations

import argparse
from typing import Any

from .._context import Context

PROG = "skytells emulator"


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``emulator``: everything after it is the emulator's own arguments."""
    emulator = commands.add_parser(
        "emulator", help="serve the offline emulator", add_help=False, prefix_chars="\0"
    )
    emulator.add_argument("rest", nargs=argparse.REMAINDER)
    emulator.set_defaults(handler=serve)


def serve(ctx: Context) -> int:
    """Run the emulator in the foreground until Ctrl-C."""
    from ...emulator.__main__ import main

    return main(ctx.args.rest, prog=PROG)
