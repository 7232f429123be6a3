"""Dispatching queued predictions: this SDK's ``dispatch()`` against the official package's and a
bare aiohttp loop, with no added latency (CPU-bound; ``--latency 20`` adds 20 ms to every API
request).

Variants, each run in its own process (the emulator runs in this one):

- ``ours sync``: ``SkytellsClient.queue()`` x N then ``dispatch()`` (32 threads, the default
  ``dispatch_concurrency``, over the client's own urllib3 pool);
- ``ours async``: the same with ``AsyncSkytellsClient`` (tasks over its default transport);
- ``ours sync, http_client``: the sync client over an ``httpx.Client`` of yours; ``ours async,
  httpx only``: ``SKYTELLS_ASYNC_HTTP=httpx``, httpx's own async transport; for information;
- ``official``: ``skytells==1.0.0`` in its own venv (``benchmarks/.official-venv``, made on first
  run): its ``dispatch()`` creates the queued predictions one after another over urllib;
- ``bare aiohttp``: 32 tasks POSTing the same bodies over one aiohttp session: the ceiling.

Only ``dispatch()`` is timed (not a warm-up request, nor queueing). Rounds alternate between the variants (the official
one, about N x 22 ms a round, runs fewer rounds); medians and ratios are printed. Goals: at least
20x the official package's speed and within 1.25x of the bare loop's time.

    python benchmarks/dispatch.py [--predictions 1000] [--rounds 3] [--official-rounds 1]
                                  [--latency 0]

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from _benchlib import arm_latency, median, python_for, rounds_text, run_worker, verdict

LATENCY = 0.0
CONCURRENCY = 32  # the SDK's default dispatch_concurrency
MODEL = "flux-edge"
WARM_UP_CREATES = {"ours sync": 1, "ours sync, http_client": 1}  # one untimed dispatch first
OURS = ("ours sync", "ours async")  # the defaults: the goals apply
PLAIN = ("ours sync, http_client", "ours async, httpx only")  # for information
BASELINE = "bare aiohttp"
GOAL_OFFICIAL = 20.0
GOAL_BARE = 1.25


def payloads(count: int) -> list[dict[str, Any]]:
    """The create bodies dispatched (background creates of a fast model)."""
    return [{"model": MODEL, "input": {"prompt": f"benchmark {i}"}} for i in range(count)]


# ------------------------------------------------------------------------- the worker processes


def without_aiohttp(runner: Callable[[str, str, int], float]) -> Callable[[str, str, int], float]:
    """``runner`` with ``SKYTELLS_ASYNC_HTTP=httpx``: httpx alone, no aiohttp."""

    def run(base_url: str, api_key: str, count: int) -> float:
        before = os.environ.get("SKYTELLS_ASYNC_HTTP")
        os.environ["SKYTELLS_ASYNC_HTTP"] = "httpx"  # read when the client is made
        try:
            return runner(base_url, api_key, count)
        finally:  # the smoke test runs workers in its own process
            if before is None:
                del os.environ["SKYTELLS_ASYNC_HTTP"]
            else:
                os.environ["SKYTELLS_ASYNC_HTTP"] = before

    return run


def run_ours_sync(
    base_url: str, api_key: str, count: int, *, own_http_client: bool = False
) -> float:
    import httpx

    from skytells import SkytellsClient

    http = httpx.Client() if own_http_client else None
    with SkytellsClient(api_key, base_url=base_url, http_client=http) as client:
        client.models.get(MODEL)  # warm-up: one-time imports and a first connection
        client.queue(next(iter(payloads(1))))  # ... and the batch path's (aiohttp, first loop)
        client.dispatch()
        for payload in payloads(count):
            client.queue(payload)
        started = time.perf_counter()
        created = client.dispatch()
        elapsed = time.perf_counter() - started
    assert len(created) == count and client.queued == 0
    if http is not None:
        http.close()
    return elapsed


def run_ours_sync_httpx(base_url: str, api_key: str, count: int) -> float:
    return run_ours_sync(base_url, api_key, count, own_http_client=True)


def run_ours_async(base_url: str, api_key: str, count: int) -> float:
    from skytells import AsyncSkytellsClient

    async def main() -> float:
        async with AsyncSkytellsClient(api_key, base_url=base_url) as client:
            await client.models.get(MODEL)  # warm-up: one-time imports and a first connection
            for payload in payloads(count):
                client.queue(payload)
            started = time.perf_counter()
            created = await client.dispatch()
            elapsed = time.perf_counter() - started
        assert len(created) == count
        return elapsed

    return asyncio.run(main())


def run_official(base_url: str, api_key: str, count: int) -> float:
    """The official package's sync `dispatch()` (also runs on this SDK: the same surface)."""
    from skytells import SkytellsClient

    client = SkytellsClient(api_key=api_key, base_url=base_url)
    client.models.get(MODEL)  # warm-up, as for the others (it opens no lasting connection)
    for payload in payloads(count):
        client.queue(payload)
    started = time.perf_counter()
    created = client.dispatch()
    elapsed = time.perf_counter() - started
    assert len(created) == count
    return elapsed


def run_bare(base_url: str, api_key: str, count: int) -> float:
    import aiohttp

    bodies = [json.dumps({**payload, "await": False}).encode() for payload in payloads(count)]
    headers = {"x-api-key": api_key, "content-type": "application/json"}
    keys = [str(uuid.uuid4()) for _ in bodies]  # the SDK's creates carry one too

    async def main() -> float:
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            async with session.get(f"{base_url}/model/{MODEL}") as warmup:
                await warmup.read()
            pending = iter(zip(bodies, keys, strict=True))

            async def worker() -> None:
                for body, key in pending:
                    idempotency = {"idempotency-key": key}
                    url = f"{base_url}/predict"
                    async with session.post(url, data=body, headers=idempotency) as response:
                        data = await response.read()
                        if response.status != 200 or not json.loads(data).get("id"):
                            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return time.perf_counter() - started

    return asyncio.run(main())


RUNNERS = {
    "ours sync": run_ours_sync,
    "ours async": run_ours_async,
    "ours sync, http_client": run_ours_sync_httpx,
    "ours async, httpx only": without_aiohttp(run_ours_async),
    "official": run_official,
    "bare aiohttp": run_bare,
}


# --------------------------------------------------------------------------------- the runner


def benchmark(
    emulator: Any,
    *,
    predictions: int,
    rounds: int,
    official_rounds: int,
    latency: float = LATENCY,
    variants: tuple[str, ...] = tuple(RUNNERS),
) -> dict[str, list[float]]:
    """Seconds each round of each variant took to dispatch ``predictions``."""
    if official_rounds <= 0:
        variants = tuple(variant for variant in variants if variant != "official")
    results: dict[str, list[float]] = {variant: [] for variant in variants}
    for number in range(rounds):
        for variant in variants:
            if variant == "official" and number >= official_rounds:
                continue
            emulator.reset()  # fresh state each round; reset clears fault rules
            arm_latency(emulator, latency)
            python = python_for("official" if variant == "official" else "ours")
            command = [python, __file__, "--worker", variant, emulator.base_url, emulator.api_key]
            results[variant].append(run_worker([*command, str(predictions)]))
            created = emulator.state()["predictions_created"]
            if created != predictions + WARM_UP_CREATES.get(variant, 0):
                raise RuntimeError(f"{variant}: {created} predictions created, not {predictions}")
    return results


def report(results: dict[str, list[float]], predictions: int) -> dict[str, float]:
    """Print medians and ratios; returns the ratios of ours to the official package and bare."""
    medians = {variant: median(values) for variant, values in results.items()}
    for variant, values in results.items():
        rate = predictions / medians[variant]
        print(
            f"  {variant:<22} median {medians[variant]:7.3f} s ({rate:6.0f} creates/s)   "
            f"rounds: {rounds_text(values, '{:.3f}')}"
        )
    ratios: dict[str, float] = {}
    for variant in (*OURS, *PLAIN):
        if variant not in medians:
            continue
        if "official" in medians:
            speedup = medians["official"] / medians[variant]
            ratios[f"{variant} vs official"] = speedup
            goal = f" ({verdict(speedup >= GOAL_OFFICIAL)} >= {GOAL_OFFICIAL:g}x)"
            print(
                f"  {variant}: {speedup:5.1f}x faster than the official package"
                f"{goal if variant in OURS else ''}"
            )
        if BASELINE in medians:
            slower = medians[variant] / medians[BASELINE]
            ratios[f"{variant} vs bare"] = slower
            goal = f" ({verdict(slower <= GOAL_BARE)} <= {GOAL_BARE:g}x)"
            print(
                f"  {variant}: {slower:5.2f}x the bare aiohttp loop's time"
                f"{goal if variant in OURS else ''}"
            )
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--predictions", type=int, default=1000, help="queued per dispatch")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each variant")
    parser.add_argument(
        "--official-rounds", type=int, default=1, help="rounds of the official package (slow)"
    )
    parser.add_argument("--latency", type=float, default=LATENCY * 1000, help="ms added")
    args = parser.parse_args()
    latency = args.latency / 1000

    from _benchlib import start_latent_emulator

    python_for("official")  # install it first, outside the timings
    # Predictions stay pending during a round (a 1.3 s model at 1000x): the server's work is
    # the requests alone, the same for every variant.
    emulator = start_latent_emulator(latency, time_scale=1000.0)
    try:
        results = benchmark(
            emulator,
            predictions=args.predictions,
            rounds=args.rounds,
            official_rounds=args.official_rounds,
        )
    finally:
        emulator.stop()
    print(
        f"dispatch() of {args.predictions} queued predictions, {args.latency:.0f} ms added to "
        f"every API request, {CONCURRENCY} in flight (ours, bare), each round a fresh process"
    )
    report(results, args.predictions)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        variant, base_url, api_key, count = sys.argv[2:6]
        print(json.dumps(RUNNERS[variant](base_url, api_key, int(count))))
    else:
        sys.exit(main())
