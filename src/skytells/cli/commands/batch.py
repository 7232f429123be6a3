"""``skytells batch run | status | cancel``: durable batches from a JSON Lines file.

skytells batch run requests.jsonl --out results.jsonl --outputs-dir outputs
skytells batch status --out results.jsonl
skytells batch cancel --out results.jsonl
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

from rich.console import Console
from rich.table import Table

from ..._clients.batch import BatchProgress, BatchStatus
from ..._clients.sync import SkytellsClient
from ..._core.batchfile import CostEstimate
from .. import _render as render

PLAIN_EVERY = 5.0
"""Seconds between two progress lines when stderr is not a terminal."""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``batch`` to the subcommands, each action built with ``parents=[common]`` (the
    global options) and its ``handler(ctx)`` set (``ctx``: ``.client``, ``.args``), as command
    groups register themselves."""
    add_parser(commands, [common])

    def handler(ctx: Any) -> int:
        out = ctx.out
        return command(ctx.client, ctx.args, out.out, err=out.err, live=out.live_progress)

    commands.choices["batch"].set_defaults(handler=handler)


def add_parser(commands: Any, parents: list[argparse.ArgumentParser] | None = None) -> None:
    """Add ``batch`` and its actions to the command line's subcommands."""
    parents = parents or []
    batch = commands.add_parser(
        "batch", help="run a file of requests, durably (resumable)", parents=parents
    )
    actions = batch.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="run (or resume) a batch: one JSON request a line, one result a line",
        parents=parents,
    )
    run.add_argument("requests", help='JSON Lines: {"custom_id", "model", "input"} a line')
    run.add_argument("--out", required=True, metavar="RESULTS", help="the results file (JSONL)")
    run.add_argument("--outputs-dir", metavar="DIR", help="save every output file here")
    run.add_argument("--concurrency", type=int, metavar="N", help="most requests in flight")
    run.add_argument(
        "--dry-run", action="store_true", help="check every line and print the estimated cost"
    )
    run.add_argument(
        "--max-cost", type=_cost, metavar="X", help="refuse to start if the estimate is above X"
    )
    run.add_argument(
        "--resend-unknown",
        action="store_true",
        help="create again the requests whose outcome cannot be told (CREATE_OUTCOME_UNKNOWN), "
        "accepting a possible duplicate",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    status = actions.add_parser(
        "status", help="where a batch is (from its journal)", parents=parents
    )
    status.add_argument("--out", required=True, metavar="RESULTS", help="the batch's results file")
    status.add_argument("--json", action="store_true")
    cancel = actions.add_parser(
        "cancel",
        help="cancel a batch: its requests not yet created, and its predictions still running",
        parents=parents,
    )
    cancel.add_argument("--out", required=True, metavar="RESULTS", help="the batch's results file")
    cancel.add_argument("--json", action="store_true")


def _cost(text: str) -> float:
    """``--max-cost``: a finite number >= 0 (``nan`` or ``inf`` would remove the cap)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text!r}")
    return value


def command(
    client: SkytellsClient,
    args: argparse.Namespace,
    console: Console,
    *,
    err: Console | None = None,
    live: bool | None = None,
) -> int:
    """Run ``skytells batch ACTION``; returns the exit code. ``console``: stdout's, ``err``:
    stderr's; ``live``: a live bar (else plain progress lines on stderr)."""
    if args.action == "status":
        batch = client.batch("-", args.out)
        _show_status(console, args, batch.status())
        return 0
    if args.action == "cancel":
        batch = client.batch("-", args.out)
        cancelled = batch.cancel()
        if args.json:
            _json(console, {"cancelled": cancelled})
        else:
            console.print(
                render.plain(
                    f"cancelled {len(cancelled)} prediction(s); the requests not yet created "
                    "will not be"
                )
            )
        return 0
    return _run(client, args, console, err or Console(stderr=True), live)


def _json(console: Console, data: Any) -> None:
    """``data`` as JSON, for scripts: raw text on the console's stream (no markup, no colour)."""
    console.file.write(render.json_text(data) + "\n")
    console.file.flush()


def _run(
    client: SkytellsClient,
    args: argparse.Namespace,
    console: Console,
    err: Console,
    live: bool | None,
) -> int:
    if args.dry_run:
        estimate = client.batch(args.requests, args.out, max_cost=args.max_cost).estimate()
        _show_estimate(console, args, estimate)
        if args.max_cost is not None and estimate.total > args.max_cost:
            return 1
        return 0
    display = _Display(err, err.is_terminal if live is None else live)
    batch = client.batch(
        args.requests,
        args.out,
        outputs_dir=args.outputs_dir,
        concurrency=args.concurrency,
        max_cost=args.max_cost,
        on_progress=display.update,
        resend_unknown=args.resend_unknown,
    )
    try:
        with display, _sigterm_interrupts():
            for _ in batch:
                pass
    except KeyboardInterrupt as stop:
        err.print(
            render.plain(
                "Stopped. Nothing is lost: run the same command again to resume "
                f"(journal: {batch.journal_path}).",
                multiline=True,
            ),
            soft_wrap=True,
        )
        return 143 if isinstance(stop, _Terminated) else 130
    _show_status(console, args, batch.status())
    return 0


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Ctrl-C would be (exit code 143 instead of 130)."""


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the batch as Ctrl-C does (the journal committed, a note printed)."""

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Display:
    """A rich progress bar on a terminal; plain lines on stderr otherwise."""

    def __init__(self, console: Console, live: bool) -> None:
        self.console = console
        self.live = live
        self._last = 0.0
        self._latest: BatchProgress | None = None
        self._paused = False
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _Display:
        if self.live:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("batch", style="bold"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}", markup=False),
                TimeRemainingColumn(),
                console=self.console,
            )
            self._task = self._bar.add_task("batch", total=None, info="checking")
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif self._latest is not None:
            self._line(self._latest)

    def update(self, progress: BatchProgress) -> None:
        """Called by the batch (from its own thread)."""
        self._latest = progress
        if self._bar is not None:
            self._bar.update(
                self._task, total=progress.total, completed=progress.done, info=_info(progress)
            )
            return
        now = time.monotonic()
        waiting = progress.paused > 0 and not self._paused
        self._paused = progress.paused > 0
        if waiting or now - self._last >= PLAIN_EVERY:
            self._last = now
            self._line(progress)

    def _line(self, progress: BatchProgress) -> None:
        eta = "" if progress.eta is None else f", eta {progress.eta:.0f}s"
        print(
            f"batch: {progress.done}/{progress.total} done, {_info(progress)}{eta}",
            file=sys.stderr,
            flush=True,
        )


def _info(progress: BatchProgress) -> str:
    info = (
        f"{progress.failed} failed, {progress.running} running, {progress.rate:.1f}/s, "
        f"{progress.credits:g} credits, concurrency {progress.concurrency}"
    )
    if progress.paused > 0:
        info += f", rate limited: waiting {math.ceil(progress.paused)}s (Retry-After)"
    return info


def _show_status(console: Console, args: argparse.Namespace, status: BatchStatus) -> None:
    if args.json:
        _json(
            console,
            {
                "total": status.total,
                "done": status.done,
                "running": status.running,
                "succeeded": status.succeeded,
                "failed": status.failed,
                "states": status.states,
                "credits": status.credits,
                "complete": status.complete,
                "results": status.results,
            },
        )
        return
    console.print(
        render.plain(
            f"{status.done}/{status.total} done ({status.succeeded} succeeded, "
            f"{status.failed} failed), {status.running} running, "
            f"{status.states.get('pending', 0)} pending, {status.credits:g} credits; "
            f"results: {status.results}",
            multiline=True,
        ),
        soft_wrap=True,
    )


def _show_estimate(console: Console, args: argparse.Namespace, estimate: CostEstimate) -> None:
    if args.json:
        _json(console, estimate.to_dict())
        return
    table = Table("model", "requests", "price", "estimate")
    for slug, entry in sorted(estimate.by_model.items()):
        table.add_row(
            render.plain(slug),
            str(entry["requests"]),
            render.plain(f"{render.number(entry['amount'])} {entry['currency']}/{entry['unit']}"),
            render.number(entry["cost"]),
        )
    for slug, count in sorted(estimate.unpriced.items()):
        table.add_row(render.plain(slug), str(count), "no price", "?")
    console.print(table)
    console.print(
        render.plain(f"estimated total: {render.number(estimate.total)} {estimate.currency}"),
        soft_wrap=True,
    )
    if args.max_cost is not None and estimate.total > args.max_cost:
        console.print(render.plain(f"above --max-cost {args.max_cost:g}: it would not start"))
