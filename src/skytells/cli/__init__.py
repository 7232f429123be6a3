"""The `skytells` command line: run models, manage predictions, browse models, start the emulator.

skytells --emulator run truefusion -i prompt="a red fox"
skytells models list --type image
skytells predictions get ID

Exit codes: 0 success, 1 error, 2 usage, 3 prediction failed or cancelled, 130 interrupted,
141 stdout closed by its reader (``| head``).
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from .._exceptions import SkytellsError
from .._extras import missing_extra_line
from ._errors import BROKEN_PIPE, ERROR, INTERRUPTED, USAGE, OutputError, UsageError

__all__ = ["main"]

EXIT_MISSING_EXTRA = ERROR
"""A missing extra (`skytells[cli]`, `skytells[emulator]`) is an error like any other: one line."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `skytells` console script; returns the exit code (see `_errors`).

    A stream that cannot be written ends the command: quietly with 141 when its reader went
    away (``skytells predictions list | head -1``, as a command killed by SIGPIPE), else with
    one line on stderr and 1 (``> /dev/full``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["emulator"]:
        from ..emulator.__main__ import main as emulator_main

        return emulator_main(argv[1:], prog="skytells emulator")
    if sys.stdout is None:  # started with stdout closed (``>&-``): say it before doing anything
        if sys.stderr is not None:
            print(
                "skytells: error: standard output is closed: nothing can be shown", file=sys.stderr
            )
        return ERROR
    try:
        return _main(argv)
    except OutputError as error:
        return _output_failed(error)
    except BrokenPipeError:  # written by argparse (--help | head)
        _silence(sys.stdout)
        return BROKEN_PIPE


def _silence(stream: Any) -> None:
    """Point ``stream``'s file descriptor at the null device: what is still buffered in it (and
    the interpreter's flush at exit) goes nowhere instead of failing again."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)


def _output_failed(error: OutputError) -> int:
    stream = sys.stdout if error.stream == "standard output" else sys.stderr
    _silence(stream)
    if error.broken_pipe:
        return BROKEN_PIPE
    if stream is not sys.stderr:
        with contextlib.suppress(OSError):
            print(f"skytells: error: {error}", file=sys.stderr, flush=True)
    return ERROR


def _global_option_problem(args: Any) -> str | None:
    """What is wrong with ``--base-url`` or ``--emulator`` with ``--api-key``/``--base-url``, or
    None: checked before any request, as the client would check them. (A key the client refuses
    stays the client's `AuthenticationError`: exit code 1, with its hint.)"""
    from .._core.config import check_base_url

    if args.emulator and (args.api_key is not None or args.base_url is not None):
        given = "--api-key" if args.api_key is not None else "--base-url"
        return f"--emulator brings its own key and URL: drop {given}, or drop --emulator"
    if args.base_url is not None:
        try:
            check_base_url(args.base_url)
        except SkytellsError as error:
            return f"--base-url: {error.message}"
    return None


@contextlib.contextmanager
def _one_line_warnings(out: Any, debug: bool) -> Iterator[None]:
    """Warnings as one stderr line each while the command runs (a command line has no caller's
    line to point at); with ``--debug``, as Python shows them."""
    from ._render import visible

    def show(message: Warning | str, category: type[Warning], *rest: Any, **kwargs: Any) -> None:
        out.line(visible(f"skytells: warning: {message}"), err=True)

    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = show
        yield


def _main(argv: list[str]) -> int:
    missing = missing_extra_line("cli", "the command line")
    if missing is not None:
        print(missing, file=sys.stderr)
        return EXIT_MISSING_EXTRA
    from ._parser import build

    parser = build()
    try:
        args = parser.parse_args(argv)
        problem = _global_option_problem(args)
        if problem is not None:
            parser.error(problem)
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
            stack.enter_context(_one_line_warnings(out, args.debug))
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
        out.line(error_line(error, ctx_words, emulator=args.emulator), err=True)
        return ERROR
    except KeyboardInterrupt:
        return INTERRUPTED


_URL_QUERY = re.compile(r"(?<=[\w/.%-])\?[^\s\"'<>]+")
"""A URL's query in a log line (``/files/a.png?X-Amz-Signature=...``): shown as ``?...``."""


def _debug_logging() -> None:
    """``--debug``: every log record on stderr, its text made visible (it may quote a server),
    with URL queries shown as ``?...`` (a signed URL's signature stays out, as in the SDK's own
    lines) and API keys redacted, whatever library logged it (urllib3's request lines...)."""
    import logging

    from .._logging import redact
    from ._render import visible

    class VisibleFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            text = _URL_QUERY.sub("?...", redact(super().format(record)))
            return visible(text, multiline=True)

    handler = logging.StreamHandler()
    handler.setFormatter(VisibleFormatter(logging.BASIC_FORMAT))
    logging.basicConfig(level=logging.DEBUG, handlers=[handler])
