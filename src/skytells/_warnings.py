"""Warnings that point at the caller's line, however deep in the SDK they are raised."""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue ``message`` attributed to the first frame outside the ``skytells`` package: the
    line of the application that called the SDK (sync or async, whatever the entry point: a
    script, ``python -c``, ``python -`` or the interactive prompt)."""
    frame = sys._getframe(1)
    while frame.f_back is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        _PACKAGE
    ):
        frame = frame.f_back
    module_globals = frame.f_globals
    warnings.warn_explicit(
        message,
        category,
        frame.f_code.co_filename,
        frame.f_lineno,
        module=module_globals.get("__name__", "<string>"),
        registry=module_globals.setdefault("__warningregistry__", {}),
        module_globals=module_globals if _source_loadable(module_globals) else None,
    )


def _source_loadable(module_globals: dict[str, Any]) -> bool:
    """Whether the module's loader can give its source (a zipped module's line is then shown).

    ``warn_explicit`` asks the loader itself and lets its error through: ``__main__`` of
    ``python -c``, ``python -`` and the interactive prompt has the built-in importer as its
    loader, which raises ``ImportError`` for it. Without the globals, the line is read from the
    file by its name, as `warnings.warn` does."""
    loader = module_globals.get("__loader__")
    get_source = getattr(loader, "get_source", None)
    if get_source is None:
        return False
    try:
        get_source(module_globals.get("__name__"))
    except Exception:  # ImportError, OSError, or whatever a custom loader raises
        return False
    return True
