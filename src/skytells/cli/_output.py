"""Where output goes and how it looks: a terminal gets tables and a live bar, a pipe plain lines.

- Results go to stdout; progress, notices, hints and errors to stderr.
- When stdout is not a terminal, lists are one record a line, fields separated by a tab (no
  header, no table borders, no colour), so ``cut -f1`` gives the ids; a single prediction is
  ``field: value`` lines.
- ``NO_COLOR`` (any non-empty value, https://no-color.org) means no ANSI code at all: no colour,
  no bold, and progress as plain lines instead of a live bar.
- Ids and slugs are never cut: a table column that holds them does not wrap or shrink; when the
  terminal is too narrow for those columns, each record is printed as ``field: value`` lines.
- A stream that cannot be written (its reader went away, a full disk) raises `OutputError`,
  whatever wrote to it (a line, a table, rich): the command stops there (see ``cli.main``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TextIO, cast

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._errors import OutputError
from ._render import Column, json_text, plain, summary_lines


class _Checked:
    """A text stream whose write errors are `OutputError` (the rest is the stream's own)."""

    def __init__(self, stream: TextIO, name: str) -> None:
        self._stream = stream
        self._name = name

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(self._name, exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(self._name, exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def no_color() -> bool:
    """``NO_COLOR`` is set to a non-empty value."""
    return bool(os.environ.get("NO_COLOR"))


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _console(stream: TextIO, terminal: bool) -> Console:
    colour = terminal and not no_color()
    return Console(
        file=stream,
        force_terminal=terminal,
        color_system="auto" if colour else None,  # None: no ANSI code at all
        no_color=not colour,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=not terminal,
    )


MIN_COLUMN_WIDTH = 10
"""Narrower than this, a column that wraps is unreadable: records are printed instead."""


class Output:
    """The two streams of a command, each with a rich console that fits it."""

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.stdout = cast(TextIO, _Checked(stdout or sys.stdout, "standard output"))
        self.stderr = cast(TextIO, _Checked(stderr or sys.stderr, "standard error"))
        self.terminal = _is_terminal(self.stdout)
        self.err_terminal = _is_terminal(self.stderr)
        self.out = _console(self.stdout, self.terminal)
        self.err = _console(self.stderr, self.err_terminal)

    @property
    def live_progress(self) -> bool:
        """A live progress bar on stderr (a terminal, and colour/ANSI allowed)."""
        return self.err_terminal and not no_color()

    def line(self, text: str | Text, *, err: bool = False) -> None:
        """One line of already `visible` text (or a rich `Text`), never wrapped."""
        console = self.err if err else self.out
        console.print(text if isinstance(text, Text) else Text(text), soft_wrap=True)

    def write(self, text: str) -> None:
        """Raw `visible` text on stdout, as it comes (a streamed output), flushed."""
        self.stdout.write(text)
        self.stdout.flush()

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        """Rows of `visible` text: a table on a terminal, tab-separated lines otherwise."""
        if not self.terminal:
            for row in rows:
                self.stdout.write("\t".join(row) + "\n")
            self.stdout.flush()
            return
        widths = [  # in terminal cells: a CJK character takes two
            max([cell_len(c.title)] + [cell_len(r[i]) for r in rows]) for i, c in enumerate(columns)
        ]
        comfortable = sum(
            width if column.key else min(width, MIN_COLUMN_WIDTH)
            for column, width in zip(columns, widths, strict=True)
        )
        if comfortable + 2 * (len(columns) - 1) > self.out.width:
            self._records(columns, rows)  # too narrow for a readable table
            return
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, collapse_padding=True)
        for column in columns:
            if column.key:
                table.add_column(column.title, no_wrap=True, overflow="ignore")
            else:
                table.add_column(column.title, overflow="fold")
        for row in rows:
            table.add_row(*(plain(cell) for cell in row))
        with self.out.capture() as captured:
            self.out.print(table)
        shown = captured.get()
        lines = shown.splitlines()
        whole = all(
            any(cell in line for line in lines)
            for row in rows
            for column, cell in zip(columns, row, strict=True)
            if column.key
        )
        if whole:
            self.stdout.write(shown)
            self.stdout.flush()
        else:  # too narrow for whole ids: one block of ``field: value`` lines per record
            self._records(columns, rows)

    def _records(self, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
        for index, row in enumerate(rows):
            if index:
                self.out.print()
            for column, cell in zip(columns, row, strict=True):
                self.line(f"{column.title}: {cell}")

    def json(self, data: Any) -> None:
        """``data`` as JSON on stdout, for scripts."""
        self.stdout.write(json_text(data) + "\n")
        self.stdout.flush()

    def prediction(self, prediction: Any, *, err: bool = False, with_output: bool = True) -> None:
        """One prediction as ``field: value`` lines (id in full, status, error, outputs)."""
        terminal = self.err_terminal if err else self.terminal
        for text in summary_lines(prediction, with_output=with_output, multiline=terminal):
            self.line(text, err=err)

    @contextmanager
    def status_lines(self) -> Iterator[Any]:
        """A stand-in for the live bar: one stderr line per change of status (``show`` takes
        text already made `visible`)."""
        last: list[str] = []

        def show(description: str, status: str) -> None:
            if last != [status]:
                last[:] = [status]
                self.line(f"{description}: {status}", err=True)

        yield show
