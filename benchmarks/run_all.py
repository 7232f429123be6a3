"""Run every benchmark script in ``benchmarks/`` in turn (``make bench``).

Every ``*.py`` here except this file and the helpers (``_*.py``) is a benchmark, run with its
default sizes by this interpreter. Exits non-zero if any of them crashed or overran its time.

    python benchmarks/run_all.py [--only NAME ...] [--timeout 300]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def scripts(only: list[str] | None = None) -> list[Path]:
    """The benchmark scripts, by name (optionally only those named, with or without ``.py``)."""
    found = sorted(
        path
        for path in BENCH_DIR.glob("*.py")
        if not path.name.startswith("_") and path.name != Path(__file__).name
    )
    if only:
        wanted = {name.removesuffix(".py") for name in only}
        found = [path for path in found if path.stem in wanted]
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="run only these benchmarks")
    parser.add_argument("--timeout", type=float, default=300, help="seconds one may take")
    args = parser.parse_args()
    failed: list[str] = []
    started = time.monotonic()
    for script in scripts(args.only):
        print(f"\n=== {script.name}", flush=True)
        began = time.monotonic()
        try:
            code = subprocess.run([sys.executable, str(script)], timeout=args.timeout).returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"  timed out after {args.timeout:g} s")
        print(f"--- {script.name}: exit {code}, {time.monotonic() - began:.0f} s", flush=True)
        if code != 0:
            failed.append(script.name)
    total = time.monotonic() - started
    if failed:
        print(f"\n{len(failed)} benchmark(s) failed: {', '.join(failed)} ({total:.0f} s)")
        return 1
    print(f"\nevery benchmark ran ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
