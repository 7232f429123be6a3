"""Import and construction: ``import skytells`` and ``SkytellsClient()`` against httpx's own.

Each sample is a fresh interpreter (``-X importtime`` off, bytecode already compiled) that times
one import with ``time.perf_counter`` and then one construction (the first, as a script pays it):

- ``import skytells`` against ``import httpx`` (goal: at most 1.0x; skytells imports no HTTP
  stack until a client needs one);
- ``SkytellsClient()`` against ``httpx.Client()`` and ``AsyncSkytellsClient()`` against
  ``httpx.AsyncClient()``, each in a process that has already imported its package.

Samples alternate between the variants; medians and ratios are reported, and the process also
checks what ``import skytells`` must not import (the emulator, its server stack, the CLI's rich,
aiohttp, httpx, urllib3). ``python -X importtime -c "import skytells"`` shows where the time goes.

    python benchmarks/import_time.py [--samples 15]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _benchlib import median, rounds_text

NOT_IMPORTED = (
    "skytells.emulator",
    "skytells.cli",
    "starlette",
    "uvicorn",
    "aiohttp",
    "httpx",
    "httpcore",
    "urllib3",
    "PIL",
    "av",
)
"""Modules `import skytells` must leave alone: the HTTP stacks come with the first client or
request that needs one (urllib3 for the sync client, httpx/aiohttp for the async one)."""
GOAL = 1.0
"""``import skytells`` at most this many times ``import httpx``."""

PROBES = {
    "import httpx": ("import httpx", "httpx.Client()"),
    "import skytells": ("import skytells", "skytells.SkytellsClient('sk-x')"),
    "import httpx (async)": ("import httpx", "httpx.AsyncClient()"),
    "import skytells (async)": ("import skytells", "skytells.AsyncSkytellsClient('sk-x')"),
}

_PROBE = """
import sys, time, json
t0 = time.perf_counter()
{imp}
t1 = time.perf_counter()
unwanted = [m for m in sys.modules if m.split('.')[0] in {roots!r} or m.startswith({prefixes!r})]
client = {make}
t2 = time.perf_counter()
print(json.dumps({{"import": t1 - t0, "construct": t2 - t1, "unwanted": unwanted}}))
"""


def sample(name: str) -> dict[str, object]:
    """One fresh interpreter's import and construction seconds for probe ``name``."""
    imp, make = PROBES[name]
    roots = [m for m in NOT_IMPORTED if "." not in m]
    prefixes = tuple(m for m in NOT_IMPORTED if "." in m)
    code = _PROBE.format(imp=imp, make=make, roots=roots, prefixes=prefixes)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def benchmark(samples: int) -> dict[str, dict[str, list[float]]]:
    """Import and construction seconds of every probe, ``samples`` fresh processes each."""
    for name in PROBES:  # compile and cache bytecode, warm the file cache
        sample(name)
    results: dict[str, dict[str, list[float]]] = {
        name: {"import": [], "construct": []} for name in PROBES
    }
    unwanted: set[str] = set()
    for _ in range(samples):
        for name in PROBES:
            one = sample(name)
            results[name]["import"].append(float(one["import"]))  # type: ignore[arg-type]
            results[name]["construct"].append(float(one["construct"]))  # type: ignore[arg-type]
            if name.startswith("import skytells"):
                unwanted.update(one["unwanted"])  # type: ignore[arg-type]
    if unwanted:
        raise RuntimeError(f"import skytells imported {sorted(unwanted)}")
    return results


def report(results: dict[str, dict[str, list[float]]]) -> dict[str, float]:
    """Print medians (ms) and ratios; returns the ratios."""
    ms = {
        name: {what: median(values) * 1000 for what, values in parts.items()}
        for name, parts in results.items()
    }
    ratios = {
        "import": ms["import skytells"]["import"] / ms["import httpx"]["import"],
        "SkytellsClient()": ms["import skytells"]["construct"] / ms["import httpx"]["construct"],
        "AsyncSkytellsClient()": ms["import skytells (async)"]["construct"]
        / ms["import httpx (async)"]["construct"],
    }
    rows = [
        ("import httpx", "import httpx", "import"),
        ("import skytells", "import skytells", "import"),
        ("httpx.Client()", "import httpx", "construct"),
        ("SkytellsClient()", "import skytells", "construct"),
        ("httpx.AsyncClient()", "import httpx (async)", "construct"),
        ("AsyncSkytellsClient()", "import skytells (async)", "construct"),
    ]
    for label, name, what in rows:
        values = [value * 1000 for value in results[name][what]]
        print(f"  {label:<22} median {ms[name][what]:7.2f} ms   samples: {rounds_text(values)}")
    print(
        f"  ratios: import skytells / import httpx {ratios['import']:.2f}; "
        f"SkytellsClient() / httpx.Client() {ratios['SkytellsClient()']:.2f}; "
        f"AsyncSkytellsClient() / httpx.AsyncClient() {ratios['AsyncSkytellsClient()']:.2f}"
    )
    goal = "meets" if ratios["import"] <= GOAL else "MISSES"
    print(f"  import skytells / import httpx: {goal} the goal of {GOAL}; none of {NOT_IMPORTED}")
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=15, help="fresh processes per probe")
    args = parser.parse_args()
    results = benchmark(args.samples)
    print(f"import and first construction, {args.samples} fresh interpreters per probe")
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
