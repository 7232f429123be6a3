"""The offline twin of the Skytells API: a stateful emulator of `https://api.skytells.ai/v1`.

    from skytells.emulator import Emulator

    with Emulator(time_scale=0.0) as emu:
        ...  # point a client at emu.base_url with emu.api_key

Also `python -m skytells.emulator` and the `skytells_emulator` pytest fixture. This package
imports its server dependencies (Starlette, uvicorn, jsonschema, Pillow, PyAV) only when
`Emulator`, `create_app` or `ApiError` is first used, so the pytest plugin stays cheap to load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._config import DEFAULT_API_KEY, FAILURE_TEXTS, EmulatorConfig

if TYPE_CHECKING:
    from ._app import create_app
    from ._errors import ApiError
    from ._server import Emulator

__all__ = [
    "DEFAULT_API_KEY",
    "FAILURE_TEXTS",
    "ApiError",
    "Emulator",
    "EmulatorConfig",
    "create_app",
]

_LAZY = {"Emulator": "._server", "create_app": "._app", "ApiError": "._errors"}


def __getattr__(name: str) -> Any:
    """Import the server side on first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(_LAZY[name], __name__)
    except ImportError as exc:
        raise ImportError(
            f"skytells.emulator.{name} needs the emulator extras: pip install 'skytells[emulator]'"
            f" ({exc})"
        ) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value
