"""The command groups of ``skytells``: one module each, registered in `GROUPS` (in help order).

A group module has ``register(commands, common)``: it adds its parsers with
``_parser.subparser(commands, name, common, ...)`` (so the global options are accepted after the
command too) and sets ``handler`` on each: a function of a `Context` that returns the exit code.
"""

from __future__ import annotations

from . import batch, completion, emulator, models, predictions, run

GROUPS = (run, predictions, models, batch, emulator, completion)
