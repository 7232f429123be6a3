"""`python -m skytells.emulator`: serve the emulator until Ctrl-C (exit code 0)."""

from __future__ import annotations

import argparse
import errno
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import NoReturn

from .._extras import missing_extra_line
from ._config import DEFAULT_API_KEY, DEFAULT_AWAIT_LIMIT, REQUEST_TIMEOUT_SECONDS, VARIANTS

PROG = "python -m skytells.emulator"


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 0-65535 (0 picks one)")
    return value


def _parser(prog: str = PROG) -> argparse.ArgumentParser:
    parser = _Parser(
        prog=prog,
        description="Serve an offline emulator of the Skytells API (predictions and models).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only)")
    parser.add_argument("--port", type=_port, default=8787, help="port (0 picks a free one)")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="multiplier of model durations (0 = instant)"
    )
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help=f"accepted API key (repeatable; default {DEFAULT_API_KEY})",
    )
    parser.add_argument("--rate-limit", type=int, metavar="RPM", help="requests per minute per key")
    parser.add_argument(
        "--await-limit",
        type=float,
        default=DEFAULT_AWAIT_LIMIT,
        help=f"max seconds a create with await holds (default {DEFAULT_AWAIT_LIMIT:g}: "
        "below the official clients' 60 s timeout)",
    )
    parser.add_argument(
        "--retention", type=float, metavar="SECONDS", help="seconds outputs are kept (wall time)"
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (no protection!)"
    )
    parser.add_argument(
        "--webhook-secret", metavar="SECRET", help="sign webhooks with this (default: the API key)"
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        dest="allowed_hosts",
        default=[],
        metavar="NAME",
        help="also answer requests whose Host is NAME (repeatable; default: loopback names only)",
    )
    parser.add_argument(
        "--request-timeout",
        type=float,
        default=REQUEST_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help="close connections slower than this to send a request's headers or body",
    )
    parser.add_argument(
        "--allow-remote-webhooks",
        action="store_true",
        help="deliver webhooks to any host (default: loopback receivers only)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        dest="variants",
        choices=VARIANTS,
        default=[],
        help="answer with this documented response variant (repeatable)",
    )
    parser.add_argument(
        "--honour-idempotency",
        action="store_true",
        help="honour Idempotency-Key on creates (default: ignored, as the documented service)",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the emulator in the foreground; returns the exit code (2 for a usage error, 1
    without its extra)."""
    missing = missing_extra_line("emulator", "the emulator")
    if missing is not None:
        print(missing, file=sys.stderr)
        return 1
    try:
        args = _parser(prog).parse_args(argv)
    except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    from ._server import Emulator

    def failed(message: str) -> None:
        print(f"{prog}: error: {message}", file=sys.stderr)

    try:
        emulator = Emulator(
            host=args.host,
            port=args.port,
            time_scale=args.time_scale,
            api_keys=args.api_keys,
            rate_limit=args.rate_limit,
            await_limit=args.await_limit,
            retention_seconds=args.retention,
            allow_remote=args.allow_remote,
            webhook_secret=args.webhook_secret,
            allow_remote_webhooks=args.allow_remote_webhooks,
            allowed_hosts=args.allowed_hosts,
            request_timeout=args.request_timeout,
            variants=args.variants,
            honour_idempotency=args.honour_idempotency,
        ).start()
    except ValueError as exc:  # a setting no emulator can have: the command was not run
        failed(f"{exc} (see '{prog} --help')")
        return 2
    except OSError as exc:  # the port or address cannot be had now: a runtime error
        if exc.errno == errno.EADDRINUSE:
            failed(
                f"port {args.port} is in use ({exc.strerror}): stop what listens there, or "
                "pick another with --port (--port 0 picks a free one)"
            )
        else:
            failed(f"cannot listen on {args.host} port {args.port}: {exc.strerror or exc}")
        return 1
    except RuntimeError as exc:
        failed(str(exc))
        return 1
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    from ._discovery import publish, withdraw

    state_file = publish(emulator.base_url, emulator.api_key)
    try:
        for line in banner(emulator.base_url, emulator.api_key, found=state_file is not None):
            print(line, flush=True)
        stop.wait()
    finally:
        withdraw(state_file)
        emulator.stop()
    print("Emulator stopped.", flush=True)
    return 0


def banner(base_url: str, api_key: str, *, found: bool) -> list[str]:
    """What the emulator prints when it starts: where it is, its key, how to point at it."""
    lines = [
        f"Skytells emulator listening on {base_url}",
        f"API key: {api_key}",
        "Point the SDK and the skytells command at it (in another shell):",
        f"  export SKYTELLS_BASE_URL={shlex.quote(base_url)} "
        f"SKYTELLS_API_KEY={shlex.quote(api_key)}",
    ]
    if found:
        cli = missing_extra_line("cli", "the command line") is None
        lines.append(
            "'skytells --emulator ...' uses this emulator while it runs."
            if cli
            else "'skytells --emulator ...' (pip install 'skytells[cli]') uses this emulator "
            "while it runs."
        )
    lines += [
        "The control API under /_emulator/ needs the key too.",
        "Press Ctrl-C to stop.",
    ]
    return lines


if __name__ == "__main__":
    sys.exit(main())
