"""The `skytells` command line: run models, manage predictions, browse models, start the emulator.

skytells --emulator run truefusion -i prompt="a red fox"
skytells models list --type image
skytells predictions get ID

Exit codes: 0 success, 1 error, 2 usage, 3 prediction failed or cancelled, 130 interrupted.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence

from .._exceptions import SkytellsError
from .._extras import missing_extra_line
from ._errors import ERROR, INTERRUPTED, USAGE, UsageError

__all__ = ["main"]

EXIT_MISSING_EXTRA = ERROR
"""A missing extra (`skytells[cli]`, `skytells[emulator]`) is an error like any other: one line."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `skytells` console script; returns the exit code (see `_errors`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from ..emulator.__main__ import main as emulator_main

        return emulator_main(argv[1:], prog="skytells emulator")
    missing = missing_extra_line("cli", "the command line")
    if missing is not None:
        print(missing, file=sys.stderr)
        return EXIT_MISSING_EXTRA
    from ._parser import build

    parser = build()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, a usage error (already printed)
        return exit_.code if isinstance(exit_.code, int) else USAGE
    if args.emulator:
        missing = missing_extra_line("emulator", "--emulator")
        if missing is not None:
            print(missing, file=sys.stderr)
            return EXIT_MISSING_EXTRA
    from ._context import Context
    from ._output import Output
    from ._render import error_line, visible

    out = Output()
    if args.debug:
        _debug_logging()
    ctx_words: tuple[str, ...] = ()
    try:
        with contextlib.ExitStack() as stack:
            ctx = Context(args, out, stack)
            ctx_words = ctx.words
            code: int = args.handler(ctx)
            return code
    except UsageError as error:
        prog = " ".join(["skytells", args.command, *([args.action] if "action" in args else [])])
        out.line(visible(f"{prog}: error: {error} (see '{prog} --help')"), err=True)
        return USAGE
    except SkytellsError as error:
        if args.debug:  # the traceback, with what the server said made visible
            import traceback

            text = "".join(traceback.format_exception(error))
            print(visible(text, multiline=True), end="", file=sys.stderr)
            return ERROR
        out.line(error_line(error, ctx_words), err=True)
        return ERROR
    except KeyboardInterrupt:
        return INTERRUPTED


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
