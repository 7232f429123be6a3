"""What a command handler gets: its arguments, its output, and a client opened on first use."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._output import Output
from ._parser import command_words

if TYPE_CHECKING:
    from .._clients.sync import SkytellsClient

EMULATOR_TIME_SCALE = 0.1
"""The in-process emulator's time scale (``SKYTELLS_EMULATOR_TIME_SCALE`` overrides it)."""

TEMPORARY_EMULATOR_NOTE = (
    "note: no 'skytells emulator' is running: this command uses its own emulator, whose "
    "predictions, ids and output URLs end with it (run 'skytells emulator' in another terminal "
    "to keep them)"
)


class Context:
    """One command's run: ``args``, ``out``, and ``client`` (opened when first asked for)."""

    def __init__(self, args: argparse.Namespace, out: Output, stack: contextlib.ExitStack) -> None:
        self.args = args
        self.out = out
        self._stack = stack
        self._client: SkytellsClient | None = None

    @property
    def words(self) -> tuple[str, ...]:
        """The command and its subject, for hints (``("run", "flux-pro")``)."""
        return command_words(self.args)

    @property
    def client(self) -> SkytellsClient:
        """The client of ``--api-key``/``--base-url``/``--emulator``, closed after the command."""
        if self._client is None:
            self._client = self._stack.enter_context(open_client(self.args, self.out))
        return self._client


@contextlib.contextmanager
def open_client(args: argparse.Namespace, out: Output) -> Iterator[SkytellsClient]:
    """The configured client; with ``--emulator``, the running emulator's or a temporary one."""
    from .._clients.sync import SkytellsClient

    if not args.emulator:
        with SkytellsClient(args.api_key, base_url=args.base_url) as client:
            yield client
        return
    from ..emulator._discovery import find_running

    running = find_running()
    if running is not None:
        with SkytellsClient(running.api_key, base_url=running.base_url) as client:
            yield client
        return
    out.line(TEMPORARY_EMULATOR_NOTE, err=True)
    from ..emulator import Emulator

    scale = float(os.environ.get("SKYTELLS_EMULATOR_TIME_SCALE", EMULATOR_TIME_SCALE))
    with (
        Emulator(time_scale=scale) as emu,
        SkytellsClient(emu.api_key, base_url=emu.base_url) as client,
    ):
        yield client
