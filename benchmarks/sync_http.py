"""The sync HTTP stack: 2,000 sequential ``GET /v1/predictions/{id}`` by each raw sync client and
by ``SkytellsClient.predictions.get``.

Every variant sends the same headers over one keep-alive connection and decodes the JSON body:

- raw ``httpx.Client``;
- raw ``urllib3.PoolManager`` (urllib3 2) and a raw ``urllib3.HTTPConnectionPool``;
- raw ``http.client.HTTPConnection`` (the standard library, the floor of any Python client);
- the SDK, ``client.predictions.get(id)`` (its own pool, the default path).

The calls run in a separate process from the emulator (so the client does not share the server's
GIL), in blocks that rotate through the variants; the medians of wall and CPU time (the client
process's ``time.process_time``) per call are compared. Goal: the SDK within 1.1x of the fastest
raw, well-kept client of the same run (http.client is shown as the floor, not as a candidate: it
has no pool, no proxies and no TLS defaults of its own).

    python benchmarks/sync_http.py [--calls 2000] [--block 100]

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from _benchlib import create_prediction, median, rotated, run_worker, verdict

GOAL = 1.1
CANDIDATES = ("raw httpx.Client", "raw urllib3.PoolManager", "raw urllib3.HTTPConnectionPool")
"""The well-kept clients the SDK could be built on (http.client is the floor, not a candidate)."""


def variants(base_url: str, api_key: str, prediction_id: str) -> dict[str, Callable[[], Any]]:
    """Each variant's one GET, decoded; the SDK's last."""
    import http.client
    from urllib.parse import urlsplit

    import httpx
    import urllib3

    from skytells import SkytellsClient
    from skytells._core.config import USER_AGENT

    url = f"{base_url}/predictions/{prediction_id}"
    # The SDK's own headers, so that every variant puts the same request on the wire.
    headers = {
        "accept": "application/json",
        "accept-encoding": "gzip, deflate",
        "user-agent": USER_AGENT,
        "x-api-key": api_key,
    }
    parts = urlsplit(url)
    raw_httpx = httpx.Client()
    manager = urllib3.PoolManager()
    pool = urllib3.HTTPConnectionPool(parts.hostname or "127.0.0.1", parts.port)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
    sdk = SkytellsClient(api_key, base_url=base_url)

    def httpx_get() -> Any:
        response = raw_httpx.get(url, headers=headers)
        response.raise_for_status()
        return response.json()

    def manager_get() -> Any:
        response = manager.request("GET", url, headers=headers)
        assert response.status == 200
        return response.json()

    def pool_get() -> Any:
        response = pool.request("GET", parts.path, headers=headers)
        assert response.status == 200
        return response.json()

    def stdlib_get() -> Any:
        conn.request("GET", parts.path, headers=headers)
        response = conn.getresponse()
        assert response.status == 200
        return json.loads(response.read())

    def sdk_get() -> Any:
        return sdk.predictions.get(prediction_id)

    return {
        "raw httpx.Client": httpx_get,
        "raw urllib3.PoolManager": manager_get,
        "raw urllib3.HTTPConnectionPool": pool_get,
        "raw http.client": stdlib_get,
        "sdk predictions.get": sdk_get,
    }


def measure_calls(
    base_url: str, api_key: str, prediction_id: str, calls: int, block: int
) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU seconds per call of each block, by variant (in this process)."""
    gets = variants(base_url, api_key, prediction_id)
    for get in gets.values():  # warm up: connection, caches, lazy imports
        for _ in range(max(10, block // 5)):
            assert get()["id"] == prediction_id
    results: dict[str, dict[str, list[float]]] = {n: {"wall": [], "cpu": []} for n in gets}
    for number in range(max(1, calls // block)):
        for name, get in rotated(list(gets.items()), number):
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(block):
                get()
            results[name]["wall"].append((time.perf_counter() - wall) / block)
            results[name]["cpu"].append((time.process_time() - cpu) / block)
    return results


def benchmark(
    base_url: str, api_key: str, *, calls: int, block: int
) -> dict[str, dict[str, list[float]]]:
    """Run `measure_calls` in a fresh process."""
    prediction_id = create_prediction(base_url, api_key)["id"]
    command = [sys.executable, __file__, "--worker", base_url, api_key, prediction_id]
    result: dict[str, dict[str, list[float]]] = run_worker([*command, str(calls), str(block)])
    return result


def report(results: dict[str, dict[str, list[float]]]) -> float:
    """Print a table of medians and ratios; returns the SDK's wall ratio to the fastest candidate."""
    wall = {name: median(v["wall"]) for name, v in results.items()}
    cpu = {name: median(v["cpu"]) for name, v in results.items()}
    best = min(CANDIDATES, key=lambda name: wall[name])
    print(f"| variant | wall µs/call | CPU µs/call | wall vs {best} | CPU vs {best} |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in results:
        print(
            f"| {name} | {wall[name] * 1e6:.0f} | {cpu[name] * 1e6:.0f} | "
            f"{wall[name] / wall[best]:.2f} | {cpu[name] / cpu[best]:.2f} |"
        )
    ratio = wall["sdk predictions.get"] / wall[best]
    print(f"sdk / {best} (wall): {ratio:.3f}; {verdict(ratio <= GOAL)} the goal of {GOAL}")
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
        f"sequential GET /v1/predictions/{{id}}: {args.calls} calls of each variant, blocks of "
        f"{args.block} rotating, client in its own process"
    )
    report(results)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        base_url, api_key, prediction_id, calls, block = sys.argv[2:7]
        print(json.dumps(measure_calls(base_url, api_key, prediction_id, int(calls), int(block))))
    else:
        sys.exit(main())
