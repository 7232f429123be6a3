"""What the benchmarks share: medians and ratios, worker subprocesses, the official package's venv,
an emulator with added latency.

Every benchmark compares variants measured in the same run, rounds interleaved, and reports
medians and ratios against a baseline of the same run: absolute times depend on the machine.
All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
OFFICIAL_VENV = BENCH_DIR / ".official-venv"
OFFICIAL_VERSION = "1.0.0"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# ------------------------------------------------------------------------------------ numbers


def median(values: Sequence[float]) -> float:
    """The median (0.0 for no values)."""
    return statistics.median(values) if values else 0.0


def rounds_text(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    """Each round's value, comma-separated."""
    return ", ".join(fmt.format(value) for value in values)


def rotated(items: Sequence[Any], round_number: int) -> list[Any]:
    """``items`` rotated by the round number: each variant takes each position in turn."""
    shift = round_number % len(items) if items else 0
    return list(items[shift:]) + list(items[:shift])


def verdict(ok: bool) -> str:
    """'meets' or 'MISSES'."""
    return "meets" if ok else "MISSES"


# ---------------------------------------------------------------------------------- processes


def run_worker(command: Sequence[str], timeout: float = 150.0) -> Any:
    """Run a worker process and return the JSON on the last line of its output."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        list(command), capture_output=True, text=True, timeout=timeout, check=False, env=env
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"worker {' '.join(command[:3])} ... failed ({done.returncode}):\n{done.stderr[-4000:]}"
        )
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError(f"worker printed nothing:\n{done.stderr[-4000:]}")
    return json.loads(lines[-1])


def official_python(*, install: bool = True) -> Path:
    """The python of a venv holding the official ``skytells==1.0.0`` (created on first use)."""
    python = OFFICIAL_VENV / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('skytells'))"]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == OFFICIAL_VERSION:
            return python
    if not install:
        raise RuntimeError(f"the official package is not installed in {OFFICIAL_VENV}")
    print(f"  (installing skytells=={OFFICIAL_VERSION} into {OFFICIAL_VENV} ...)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(OFFICIAL_VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            f"skytells=={OFFICIAL_VERSION}",
        ],
        check=True,
        timeout=300,
    )
    return python


def python_for(package: str) -> str:
    """The interpreter that runs ``package``: 'ours' is this one, 'official' the venv's."""
    return sys.executable if package == "ours" else str(official_python())


# ---------------------------------------------------------------------------- the emulator


class LatencyMiddleware:
    """ASGI middleware that holds every API request (``/v1/...``) for ``seconds`` first."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/v1/"):
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


def start_latent_emulator(seconds: float, **options: Any) -> Any:
    """A started `Emulator` whose API answers every request ``seconds`` late: the emulator's
    ``latency`` fault when it has fault injection, else `LatencyMiddleware` around its app."""
    from skytells.emulator import Emulator

    emulator = Emulator(**options)
    if not hasattr(emulator, "add_fault"):
        emulator.app = LatencyMiddleware(emulator.app, seconds)
    emulator.start()
    arm_latency(emulator, seconds)
    return emulator


def arm_latency(emulator: Any, seconds: float) -> None:
    """(Re)add the latency fault of `start_latent_emulator` (``reset()`` clears fault rules)."""
    if hasattr(emulator, "add_fault") and seconds > 0:
        emulator.clear_faults()
        emulator.add_fault("latency", path="/v1", latency_ms=seconds * 1000)


def create_prediction(base_url: str, api_key: str, model: str = "flux-edge") -> dict[str, Any]:
    """Create one finished prediction (``await: true``) with a plain HTTP call; its JSON."""
    import httpx

    created = httpx.post(
        f"{base_url}/predict",
        json={"model": model, "input": {"prompt": "benchmark"}, "await": True},
        headers={"x-api-key": api_key},
        timeout=30,
    )
    created.raise_for_status()
    body: dict[str, Any] = created.json()
    return body
