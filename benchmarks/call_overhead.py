"""Per-call overhead: ``client.predictions.get(id)`` against a raw ``httpx.Client`` GET.

Both do the same sequential GET /v1/predictions/{id} on the same emulator with the same headers
and decode the JSON body; the SDK adds building the request as a sans-IO operation, its deadline,
error mapping and retries policy. The calls run in a separate process from the emulator (so the
client does not share the server's GIL), in blocks that alternate raw, sdk, raw, sdk, ...; the
median seconds per call of each are compared (goal: the SDK within 1.15x of raw httpx).

    python benchmarks/call_overhead.py [--calls 2000] [--block 100]

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from _benchlib import create_prediction, median, run_worker, verdict

GOAL = 1.15


def measure_calls(
    base_url: str, api_key: str, prediction_id: str, calls: int, block: int
) -> dict[str, list[float]]:
    """Seconds per call of each block, raw httpx and the SDK alternating (in this process)."""
    import httpx

    from skytells import SkytellsClient
    from skytells._core.config import USER_AGENT

    url = f"{base_url}/predictions/{prediction_id}"
    headers = {"accept": "application/json", "user-agent": USER_AGENT, "x-api-key": api_key}
    raw = httpx.Client()
    sdk = SkytellsClient(api_key, base_url=base_url)

    def raw_get() -> Any:
        response = raw.get(url, headers=headers)
        response.raise_for_status()
        return response.json()

    def sdk_get() -> Any:
        return sdk.predictions.get(prediction_id)

    variants = {"raw httpx": raw_get, "sdk": sdk_get}
    for get in variants.values():  # warm up: connection, caches
        for _ in range(max(10, block // 5)):
            assert get()["id"] == prediction_id
    results: dict[str, list[float]] = {name: [] for name in variants}
    for number in range(max(1, calls // block)):
        order = list(variants.items()) if number % 2 == 0 else list(variants.items())[::-1]
        for name, get in order:
            started = time.perf_counter()
            for _ in range(block):
                get()
            results[name].append((time.perf_counter() - started) / block)
    raw.close()
    sdk.close()
    return results


def benchmark(base_url: str, api_key: str, *, calls: int, block: int) -> dict[str, list[float]]:
    """Run `measure_calls` in a fresh process; seconds per call of each block, by variant."""
    prediction_id = create_prediction(base_url, api_key)["id"]
    command = [sys.executable, __file__, "--worker", base_url, api_key, prediction_id]
    result: dict[str, list[float]] = run_worker([*command, str(calls), str(block)])
    return result


def report(results: dict[str, list[float]]) -> float:
    """Print the medians and the ratio sdk/raw; returns the ratio."""
    medians = {name: median(values) for name, values in results.items()}
    for name, value in medians.items():
        print(f"  {name:<10} median {value * 1e6:7.0f} µs a call ({1 / value:6.0f} calls/s)")
    ratio = medians["sdk"] / medians["raw httpx"]
    extra = (medians["sdk"] - medians["raw httpx"]) * 1e6
    print(
        f"  ratio sdk/raw httpx: {ratio:.3f} ({extra:+.0f} µs a call; "
        f"{verdict(ratio <= GOAL)} the goal of {GOAL})"
    )
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls of each variant")
    parser.add_argument("--block", type=int, default=100, help="calls of one variant in a row")
    args = parser.parse_args()

    from skytells.emulator import Emulator

    with Emulator(time_scale=0.0) as emulator:
        results = benchmark(emulator.base_url, emulator.api_key, calls=args.calls, block=args.block)
    print(
        f"sequential GET /v1/predictions/{{id}}: {args.calls} calls each, blocks of "
        f"{args.block} alternating, client in its own process"
    )
    report(results)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        base_url, api_key, prediction_id, calls, block = sys.argv[2:7]
        print(json.dumps(measure_calls(base_url, api_key, prediction_id, int(calls), int(block))))
    else:
        sys.exit(main())
