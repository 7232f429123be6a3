"""The async HTTP stack: httpx, httpx2 and aiohttp, raw and under `AsyncSkytellsClient`.

64 tasks issue GET /v1/predictions/{id} against the emulator (one prediction, 64 keep-alive
connections), each response read and decoded from JSON. Variants:

- raw ``httpx.AsyncClient`` (default transport: httpcore), raw ``httpx2.AsyncClient``, raw
  ``aiohttp.ClientSession``, raw ``httpx.AsyncClient`` over the aiohttp transport;
- ``AsyncSkytellsClient().predictions.get(id)`` over each: its default ``httpx.AsyncClient``, the
  same code on httpx2 (``httpx2.alias_httpx()`` before the SDK is imported, so ``import httpx``
  is httpx2), and ``http_client=httpx.AsyncClient(transport=<aiohttp transport>)``.

Each round of each variant runs in a fresh process (the emulator runs in this one, so the load
generator does not share its GIL); rounds are interleaved and rotated; medians are reported as
requests per second and as ratios to raw aiohttp measured in the same run.

    python benchmarks/http_stack.py [--requests 2000] [--rounds 3] [--concurrency 64]

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _benchlib import create_prediction, median, rotated, rounds_text, run_worker

RAW = ("raw aiohttp", "raw httpx", "raw httpx2", "raw httpx+aiohttp", "raw httpx+httpx-aiohttp")
SDK = ("sdk httpx", "sdk httpx2", "sdk aiohttp", "sdk httpx-aiohttp")
VARIANTS = RAW + SDK
BASELINE = "raw aiohttp"
OPTIONAL = {"httpx2": "httpx2", "httpx-aiohttp": "httpx_aiohttp"}
"""Variants that need a package the project does not depend on: skipped when it is missing."""

Fetch = Callable[[], Awaitable[Any]]


# ----------------------------------------------------------------------------- the variants


def _limits(module: Any, concurrency: int) -> Any:
    return module.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)


def aiohttp_transport(variant: str, concurrency: int) -> Any:
    """An aiohttp transport for httpx: the ``httpx-aiohttp`` package's, or the SDK's own."""
    import httpx

    if variant.endswith("httpx-aiohttp"):
        import httpx_aiohttp

        return httpx_aiohttp.AiohttpTransport(limits=_limits(httpx, concurrency))
    from skytells._io.aiohttp_transport import AiohttpTransport

    return AiohttpTransport(limits=_limits(httpx, concurrency))


def available(variant: str) -> bool:
    """False if ``variant`` needs a package that is not installed."""
    import importlib.util

    for suffix, module in OPTIONAL.items():
        if variant.endswith(suffix) and importlib.util.find_spec(module) is None:
            return False
    return True


async def _open(
    variant: str, url: str, base_url: str, api_key: str, prediction_id: str, concurrency: int
) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    """A function doing one request of ``variant``, and the function that closes its client."""
    headers = {"x-api-key": api_key, "accept": "application/json"}
    if variant == "raw aiohttp":
        import aiohttp

        connector = aiohttp.TCPConnector(limit=concurrency)
        session = aiohttp.ClientSession(connector=connector, headers=headers)

        async def fetch_aiohttp() -> Any:
            async with session.get(url) as response:
                body = await response.read()
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                return json.loads(body)

        return fetch_aiohttp, session.close
    if variant.startswith("raw"):
        if variant == "raw httpx2":
            import httpx2 as module
        else:
            import httpx as module
        transport = aiohttp_transport(variant, concurrency) if "aiohttp" in variant else None
        client = module.AsyncClient(
            headers=headers, limits=_limits(module, concurrency), transport=transport
        )

        async def fetch_httpx() -> Any:
            response = await client.get(url)
            response.raise_for_status()
            return response.json()

        return fetch_httpx, client.aclose
    import httpx

    from skytells import AsyncSkytellsClient

    # "sdk httpx" pins httpx's own transport: the SDK's default is aiohttp when it is installed.
    transport = aiohttp_transport(variant, concurrency) if "aiohttp" in variant else None
    http_client = httpx.AsyncClient(transport=transport, limits=_limits(httpx, concurrency))
    sdk = AsyncSkytellsClient(api_key, base_url=base_url, http_client=http_client)

    async def fetch_sdk() -> Any:
        return await sdk.predictions.get(prediction_id)

    async def close_sdk() -> None:
        await sdk.aclose()
        await http_client.aclose()

    return fetch_sdk, close_sdk


async def measure(fetch: Fetch, total: int, concurrency: int) -> float:
    """Seconds ``total`` requests take with ``concurrency`` tasks issuing them."""
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fetch()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def run_variant(
    variant: str,
    base_url: str,
    api_key: str,
    prediction_id: str,
    total: int,
    warmup: int,
    concurrency: int,
) -> dict[str, Any]:
    """One round of ``variant`` in this process: warm-up, then ``total`` timed requests."""
    url = f"{base_url}/predictions/{prediction_id}"
    fetch, close = await _open(variant, url, base_url, api_key, prediction_id, concurrency)
    try:
        if (await fetch())["id"] != prediction_id:
            raise RuntimeError(f"{variant}: wrong prediction returned")
        await measure(fetch, warmup, concurrency)
        elapsed = await measure(fetch, total, concurrency)
    finally:
        await close()
    return {"variant": variant, "rps": total / elapsed, "elapsed": elapsed}


def _worker_main(argv: list[str]) -> None:
    variant, base_url, api_key, prediction_id = argv[:4]
    total, warmup, concurrency = (int(value) for value in argv[4:7])
    if variant.endswith("httpx2"):
        import httpx2

        httpx2.alias_httpx()  # `import httpx` is httpx2 from here on: the SDK runs on it
    result = asyncio.run(
        run_variant(variant, base_url, api_key, prediction_id, total, warmup, concurrency)
    )
    print(json.dumps(result))


# --------------------------------------------------------------------------------- the runner


def benchmark(
    base_url: str,
    api_key: str,
    *,
    requests: int,
    warmup: int,
    rounds: int,
    concurrency: int,
    variants: tuple[str, ...] = VARIANTS,
) -> dict[str, list[float]]:
    """Requests per second of every variant, one list of rounds each (fresh process a round)."""
    prediction_id = create_prediction(base_url, api_key)["id"]
    missing = [variant for variant in variants if not available(variant)]
    if missing:
        print(f"  (skipped, package not installed: {', '.join(missing)})")
    variants = tuple(variant for variant in variants if variant not in missing)
    results: dict[str, list[float]] = {variant: [] for variant in variants}
    for round_number in range(rounds):
        for variant in rotated(variants, round_number):
            command = [sys.executable, __file__, "--worker", variant, base_url, api_key]
            command += [prediction_id, str(requests), str(warmup), str(concurrency)]
            results[variant].append(run_worker(command)["rps"])
    return results


def report(results: dict[str, list[float]], baseline: str = BASELINE) -> dict[str, float]:
    """Print medians and ratios to ``baseline``; returns the medians."""
    medians = {variant: median(rates) for variant, rates in results.items()}
    base = medians.get(baseline) or 1.0
    for variant, rates in results.items():
        print(
            f"  {variant:<24} median {medians[variant]:7.0f} req/s  "
            f"x{medians[variant] / base:5.2f} of {baseline}   rounds: {rounds_text(rates)}"
        )
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per round")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per variant")
    parser.add_argument("--concurrency", type=int, default=64, help="concurrent requests")
    args = parser.parse_args()

    from skytells.emulator import Emulator

    with Emulator(time_scale=0.0) as emulator:
        results = benchmark(
            emulator.base_url,
            emulator.api_key,
            requests=args.requests,
            warmup=args.warmup,
            rounds=args.rounds,
            concurrency=args.concurrency,
        )
    print(
        f"GET /v1/predictions/{{id}} at {args.concurrency} concurrent requests, "
        f"{args.requests} a round after {args.warmup} warm-up, {args.rounds} rounds, "
        "a fresh process per round"
    )
    medians = report(results)
    from skytells._io.aiohttp_transport import async_backend

    print(
        f"  the SDK over aiohttp / over httpx: x{medians['sdk aiohttp'] / medians['sdk httpx']:.2f}"
        f"; raw aiohttp / raw httpx: x{medians['raw aiohttp'] / medians['raw httpx']:.2f}"
        f"; AsyncSkytellsClient() here uses: {async_backend()}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2:])
    else:
        sys.exit(main())
