"""Validate every HTTP response the test suite receives against the emulator's OpenAPI document.

`response_validator_hooks()` returns httpx `event_hooks` for a sync `httpx.Client`; every test client
that talks to the emulator is built with them. (Stub: the OpenAPI work fills in the validation.)
"""

from __future__ import annotations

from typing import Any


def response_validator_hooks() -> dict[str, list[Any]]:
    """httpx event hooks that validate each response against the emulator's OpenAPI document."""
    return {"response": []}
