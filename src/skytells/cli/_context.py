"""What a command handler gets: its arguments, its output, and a client opened on first use."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._errors import UsageError
from ._output import Output
from ._parser import command_words
from ._render import visible

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
    def temporary_emulator(self) -> bool:
        """The client is a temporary emulator's: its predictions end with the command."""
        return bool(getattr(self.args, "temporary_emulator", False))

    @property
    def client(self) -> SkytellsClient:
        """The client of ``--api-key``/``--base-url``/``--emulator``, closed after the command."""
        if self._client is None:
            self._client = self._stack.enter_context(open_client(self.args, self.out))
        return self._client


@contextlib.contextmanager
def open_client(args: argparse.Namespace, out: Output) -> Iterator[SkytellsClient]:
    """The configured client; with ``--emulator``, the running emulator's or a temporary one.

    An emulator is reached directly: its address is added to ``NO_PROXY`` for this process, so
    a proxy of the environment never gets its traffic nor its key."""
    from .._clients.sync import SkytellsClient

    if not args.emulator:
        with SkytellsClient(args.api_key, base_url=args.base_url) as client:
            yield client
        return
    from ..emulator._discovery import find_running

    unanswered: list[str] = []
    running = find_running(unanswered)
    if running is not None:
        with (
            _bypassing_proxies(running.base_url),
            SkytellsClient(running.api_key, base_url=running.base_url) as client,
        ):
            yield client
        return
    scale = time_scale()
    for emulator in unanswered:
        out.line(
            visible(
                f"note: found a running emulator but it did not answer: {emulator}; using a "
                "temporary one"
            ),
            err=True,
        )
    out.line(TEMPORARY_EMULATOR_NOTE, err=True)
    from ..emulator import Emulator

    with Emulator(time_scale=scale) as emu, _bypassing_proxies(emu.base_url):
        args.temporary_emulator = True
        with SkytellsClient(emu.api_key, base_url=emu.base_url) as client:
            yield client


def time_scale() -> float:
    """``SKYTELLS_EMULATOR_TIME_SCALE`` (a number >= 0), or `EMULATOR_TIME_SCALE`; else a
    `UsageError` that names the variable."""
    raw = os.environ.get("SKYTELLS_EMULATOR_TIME_SCALE")
    if raw is None or not raw.strip():
        return EMULATOR_TIME_SCALE
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not (math.isfinite(value) and value >= 0):
        raise UsageError(
            f"SKYTELLS_EMULATOR_TIME_SCALE={raw[:40]!a} is not a time scale: use a number "
            "from 0 (instant) up, e.g. 0.1"
        )
    return value


@contextlib.contextmanager
def _bypassing_proxies(base_url: str) -> Iterator[None]:
    """``base_url``'s host in ``NO_PROXY``/``no_proxy`` while the client lives (the SDK reads
    them when it connects, as httpx does), then the environment as it was."""
    from ..emulator._discovery import NO_PROXY_VARIABLES, without_proxy

    before = {name: os.environ.get(name) for name in NO_PROXY_VARIABLES}
    for name in NO_PROXY_VARIABLES:
        os.environ[name] = without_proxy(base_url, before[name])
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
