"""``skytells completion bash|zsh|fish``: print the shell's completion script."""

from __future__ import annotations

import argparse
from typing import Any

from .._completion import SHELLS, script
from .._context import Context
from .._errors import OK
from .._parser import subparser

EPILOG = """\
install:
  bash  eval "$(skytells completion bash)"            (in ~/.bashrc)
  zsh   eval "$(skytells completion zsh)"             (in ~/.zshrc, after compinit)
  fish  skytells completion fish > ~/.config/fish/completions/skytells.fish"""


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``completion`` to the parser."""
    parser = subparser(
        commands,
        "completion",
        common,
        help="print a shell completion script (bash, zsh, fish)",
        description="Print the completion script of a shell.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell")
    parser.set_defaults(handler=completion)


def completion(ctx: Context) -> int:
    """Print the script (the parser is built anew: the script covers every command)."""
    from .._parser import build

    ctx.out.write(script(ctx.args.shell, build()))
    return OK
