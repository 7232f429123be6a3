"""``progress=True``: a live progress bar in a notebook, a terminal, or lines in a log.

Where it shows is decided when the bar starts:

- inside a Jupyter kernel (IPython is already imported and ``get_ipython()`` is a shell that is
  no terminal one): an HTML bar shown with ``display(..., display_id=True)`` and updated in
  place. IPython is never imported here: it is looked up in ``sys.modules``;
- on a terminal (stderr is a TTY): one line on stderr redrawn in place (``\\r``), ended by a
  newline. A few lines of our own rather than rich's bar: no dependency, no refresh thread,
  and no 30 ms import (rich.progress) for a line;
- otherwise (stderr is a pipe or a file: CI logs): one plain line on stderr for each new status
  and the final one, never a redraw.

The state (percent, status, elapsed) is `skytells._core.progress`'s, the text and markup
`skytells._core.display`'s; this module only writes them.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from ._core.progress import ProgressTracker, ProgressView
from ._exceptions import PredictionError, WaitTimeoutError
from ._warnings import warn_caller

__all__ = ["ProgressReporter", "kernel_shell"]


class _Surface(Protocol):
    def show(self, view: ProgressView) -> None: ...


class _Kernel:
    """A live HTML bar in a notebook, updated in place through its display id."""

    def __init__(self) -> None:
        self._handle: Any = None

    def show(self, view: ProgressView) -> None:
        from ._core.display import progress_mimebundle

        bundle = progress_mimebundle(view)
        if self._handle is None:
            # IPython is already imported (we are in its kernel); untyped for mypy: an extra.
            display = importlib.import_module("IPython.display").display
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)


class _Terminal:
    """One line on a terminal's stderr, redrawn in place."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        encoding = getattr(stream, "encoding", None) or "ascii"
        try:
            "█░".encode(encoding)
            self._unicode = True
        except (LookupError, UnicodeEncodeError):
            self._unicode = False

    def show(self, view: ProgressView) -> None:
        from ._core.display import progress_line

        line = progress_line(view, unicode=self._unicode)
        # \r: back to the line's start; ESC[K: clear what a longer line left.
        self._stream.write(f"\r{line}\x1b[K" + ("\n" if view.final else ""))
        self._stream.flush()


class _Log:
    """Plain lines on stderr (a pipe, a file): one per new status, and the last one."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._status: str | None = None

    def show(self, view: ProgressView) -> None:
        if view.status == self._status and not view.final:
            return
        self._status = view.status
        from ._core.display import progress_line

        self._stream.write(progress_line(view, width=10, unicode=False) + "\n")
        self._stream.flush()


def kernel_shell() -> Any | None:
    """The running IPython shell if this is a kernel (a notebook), else None; IPython is not
    imported: a process that has not imported it is in no kernel."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if not callable(get_ipython):
        return None
    shell = get_ipython()
    if shell is None:
        return None
    if any(cls.__name__ == "TerminalInteractiveShell" for cls in type(shell).__mro__):
        return None  # the IPython console on a terminal: the terminal's bar
    return shell


def _surface() -> _Surface | None:
    if kernel_shell() is not None:
        return _Kernel()
    stream = sys.stderr
    if stream is None:  # pythonw
        return None
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return None
    return _Terminal(stream) if tty else _Log(stream)


class ProgressReporter:
    """Shows one wait's progress; call it with each prediction state, then `end` it once."""

    def __init__(self, model: str | None = None, *, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._tracker = ProgressTracker(clock(), model)
        self._surface: _Surface | None = None
        self._started = False
        self._ended = False
        self._last: ProgressView | None = None

    def __call__(self, state: Mapping[str, Any]) -> None:
        if not self._ended:
            self._show(self._tracker.update(state, self._clock()))

    def along(self, on_progress: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
        """One ``on_progress`` that updates the bar, then calls the caller's (whose result, maybe
        an awaitable, is returned for the async driver to await)."""

        def both(state: Any) -> Any:
            self(state)
            return None if on_progress is None else on_progress(state)

        return both

    def end(
        self, state: Mapping[str, Any] | None = None, error: BaseException | None = None
    ) -> None:
        """Show the last state: ``state`` (the result), or what ``error`` says of the end."""
        if self._ended:
            return
        reason = None
        if error is not None:
            prediction = getattr(error, "prediction", None)
            if isinstance(error, (PredictionError, WaitTimeoutError)) and isinstance(
                prediction, Mapping
            ):
                state = prediction
            reason = (
                "timed out"
                if isinstance(error, WaitTimeoutError)
                else "error"
                if isinstance(error, Exception)
                else "interrupted"
            )
        view = self._tracker.end(self._clock(), state, reason)
        self._ended = True
        last = self._last
        shown = (
            last is not None
            and last.final
            and (last.status, last.percent)
            == (
                view.status,
                view.percent,
            )
        )
        if not shown:  # the last report may have shown this end already
            self._show(view)

    def _show(self, view: ProgressView) -> None:
        """Show ``view``; a bar that cannot be shown never fails the run: it goes on without
        the bar (with one warning, unless stderr itself is what broke)."""
        self._last = view
        try:
            if not self._started:
                self._started = True
                self._surface = _surface()
            if self._surface is not None:
                self._surface.show(view)
        except (OSError, ValueError):  # stderr closed or broken: the run goes on without a bar
            self._surface = None
        except Exception as exc:  # a kernel's display() failing, say
            self._surface = None
            _warn_no_bar(exc)


def _warn_no_bar(exc: Exception) -> None:
    """One warning that the bar is gone (never an error: not even with warnings as errors)."""
    from ._core.display import terminal_text

    with contextlib.suppress(Exception):  # warnings as errors: the run still goes on
        warn_caller(
            f"progress=True: the progress bar cannot be shown ({type(exc).__name__}: "
            f"{terminal_text(str(exc), 200)}); the run goes on without it",
            RuntimeWarning,
        )
