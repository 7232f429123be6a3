"""The optional extras (`skytells[cli]`, `skytells[emulator]`) and the line that names a missing one.

The core SDK installs without them; the `skytells` command, the emulator and its pytest fixture
check here first, so a missing extra is one line naming what to install, never a traceback.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "missing_extra_line"]

EXTRAS: dict[str, tuple[str, ...]] = {
    # The top-level modules of each extra's distributions (pyproject.toml's
    # [project.optional-dependencies]); rich's own dependencies come with it.
    "cli": ("rich",),
    "emulator": ("starlette", "uvicorn", "httptools", "jsonschema", "PIL", "av"),
}


def _missing(modules: tuple[str, ...]) -> str | None:
    """The first of ``modules`` that cannot be found (nothing is imported)."""
    for name in modules:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # a broken or half-removed install
            return name
    return None


def missing_extra_line(extra: str, what: str) -> str | None:
    """One line that says ``what`` needs ``extra`` and how to install it, or None if it is there.

    ``missing_extra_line("cli", "the command line")`` ->
    ``skytells: the command line needs the 'cli' extra (rich is not installed): pip install
    'skytells[cli]'``
    """
    module = _missing(EXTRAS[extra])
    if module is None:
        return None
    return (
        f"skytells: {what} needs the {extra!r} extra ({module} is not installed): "
        f"pip install 'skytells[{extra}]'"
    )
