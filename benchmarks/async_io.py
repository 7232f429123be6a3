"""The async client's I/O against a raw ``aiohttp.ClientSession``: throughput and CPU a request.

Two measurements, each variant's every round in a fresh worker process (the emulator runs in
this one, so the client's CPU time, ``time.process_time()`` of the worker over the timed part,
excludes the server's):

- ``get``: 64 tasks issue ``GET /v1/predictions/{id}``, 2000 a round after a 200-request
  warm-up. Variants: ``raw aiohttp`` (``session.get`` + ``.json()``, the baseline), ``sdk``
  (``AsyncSkytellsClient().predictions.get``, its default: aiohttp directly), ``sdk over httpx``
  (the same with ``http_client=httpx.AsyncClient()`` of the caller: httpx's model and its own
  transport, httpcore).
  Goals: the SDK's throughput at least 0.8x, its CPU a request at most 1.25x, of raw aiohttp.
- ``dispatch``: ``dispatch()`` of 1000 queued creates with no added latency (bound by CPU),
  32 in flight. Variants: ``bare aiohttp`` (32 tasks POSTing the same bodies, each serialised
  with an Idempotency-Key made as it is sent, each answer read with ``.json()``, the baseline) and ``sdk async``
  (``AsyncSkytellsClient.dispatch()``). Goal: within 1.25x of the bare loop's time.

Rounds are interleaved and rotated; medians, and the median of each round's ratio to the
baseline's round, are printed.

    python benchmarks/async_io.py [--requests 2000] [--creates 1000] [--rounds 5]

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from _benchlib import create_prediction, median, rotated, rounds_text, run_worker, verdict

CONCURRENCY = 64
DISPATCH_CONCURRENCY = 32  # the SDK's default dispatch_concurrency
MODEL = "flux-edge"
GET_VARIANTS = ("raw aiohttp", "sdk", "sdk over httpx")
GET_BASELINE = "raw aiohttp"
DISPATCH_VARIANTS = ("bare aiohttp", "sdk async")
DISPATCH_BASELINE = "bare aiohttp"
GOAL_THROUGHPUT = 0.8
GOAL_CPU = 1.25
GOAL_DISPATCH = 1.25

Fetch = Callable[[], Awaitable[Any]]


# ------------------------------------------------------------------------------ the GET workers


async def _open_get(
    variant: str, base_url: str, api_key: str, prediction_id: str
) -> tuple[Fetch, Callable[[], Awaitable[None]]]:
    """A function doing one GET of ``variant``, and the function that closes its client."""
    if variant == "raw aiohttp":
        import aiohttp

        headers = {"x-api-key": api_key, "accept": "application/json"}
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        session = aiohttp.ClientSession(connector=connector, headers=headers)
        url = f"{base_url}/predictions/{prediction_id}"

        async def fetch_raw() -> Any:
            async with session.get(url) as response:
                if response.status != 200:
                    raise RuntimeError(f"HTTP {response.status}")
                return await response.json()

        return fetch_raw, session.close

    from skytells import AsyncSkytellsClient

    http_client = None
    if variant == "sdk over httpx":
        import httpx

        limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
        http_client = httpx.AsyncClient(limits=limits, timeout=None)
    sdk = AsyncSkytellsClient(api_key, base_url=base_url, http_client=http_client)

    async def fetch_sdk() -> Any:
        return await sdk.predictions.get(prediction_id)

    async def close_sdk() -> None:
        await sdk.aclose()
        if http_client is not None:
            await http_client.aclose()

    return fetch_sdk, close_sdk


async def _gets(fetch: Fetch, total: int) -> None:
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await fetch()

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def run_get(
    variant: str, base_url: str, api_key: str, prediction_id: str, total: int, warmup: int
) -> dict[str, float]:
    """One round of ``variant``: warm-up, then ``total`` timed GETs; seconds and CPU seconds."""
    fetch, close = await _open_get(variant, base_url, api_key, prediction_id)
    try:
        if (await fetch())["id"] != prediction_id:
            raise RuntimeError(f"{variant}: wrong prediction returned")
        await _gets(fetch, warmup)
        cpu, started = time.process_time(), time.perf_counter()
        await _gets(fetch, total)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await close()
    return {"seconds": elapsed, "cpu": cpu}


# ------------------------------------------------------------------------- the dispatch workers


def payloads(count: int) -> list[dict[str, Any]]:
    """The create bodies dispatched (background creates of a fast model)."""
    return [{"model": MODEL, "input": {"prompt": f"benchmark {i}"}} for i in range(count)]


async def run_dispatch(variant: str, base_url: str, api_key: str, count: int) -> dict[str, float]:
    """One round: ``count`` creates, 32 in flight; seconds and CPU seconds of the creates."""
    if variant == "bare aiohttp":
        import aiohttp

        headers = {"x-api-key": api_key, "content-type": "application/json"}
        connector = aiohttp.TCPConnector(limit=DISPATCH_CONCURRENCY)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
            async with session.get(f"{base_url}/model/{MODEL}") as warmup:
                await warmup.read()
            pending = iter(payloads(count))

            async def worker() -> None:
                # As the SDK does for each create: serialise the body, make an Idempotency-Key.
                for payload in pending:
                    body = json.dumps({**payload, "await": False}).encode()
                    idempotency = {"idempotency-key": str(uuid.uuid4())}
                    url = f"{base_url}/predict"
                    async with session.post(url, data=body, headers=idempotency) as response:
                        data = await response.json()
                        if response.status != 200 or not data.get("id"):
                            raise RuntimeError(f"HTTP {response.status}: {data!r:.200}")

            cpu, started = time.process_time(), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(DISPATCH_CONCURRENCY)))
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        return {"seconds": elapsed, "cpu": cpu}

    from skytells import AsyncSkytellsClient

    async with AsyncSkytellsClient(api_key, base_url=base_url) as client:
        await client.models.get(MODEL)  # warm-up: one-time imports and a first connection
        for payload in payloads(count):
            client.queue(payload)
        cpu, started = time.process_time(), time.perf_counter()
        created = await client.dispatch()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if len(created) != count:
        raise RuntimeError(f"{len(created)} created, not {count}")
    return {"seconds": elapsed, "cpu": cpu}


def _worker_main(argv: list[str]) -> None:
    kind, variant, base_url, api_key = argv[:4]
    if kind == "get":
        prediction_id, total, warmup = argv[4], int(argv[5]), int(argv[6])
        result = asyncio.run(run_get(variant, base_url, api_key, prediction_id, total, warmup))
    else:
        result = asyncio.run(run_dispatch(variant, base_url, api_key, int(argv[4])))
    print(json.dumps(result))


# --------------------------------------------------------------------------------- the runner


Rounds = dict[str, list[dict[str, float]]]


def benchmark_get(
    base_url: str,
    api_key: str,
    *,
    requests: int,
    warmup: int,
    rounds: int,
    variants: tuple[str, ...] = GET_VARIANTS,
) -> Rounds:
    """Every round of every GET variant, each in a fresh process."""
    prediction_id = create_prediction(base_url, api_key)["id"]
    results: Rounds = {variant: [] for variant in variants}
    for number in range(rounds):
        for variant in rotated(variants, number):
            command = [sys.executable, __file__, "--worker", "get", variant, base_url, api_key]
            command += [prediction_id, str(requests), str(warmup)]
            results[variant].append(run_worker(command))
    return results


def benchmark_dispatch(
    emulator: Any, *, creates: int, rounds: int, variants: tuple[str, ...] = DISPATCH_VARIANTS
) -> Rounds:
    """Every round of every dispatch variant, each in a fresh process and a reset emulator."""
    results: Rounds = {variant: [] for variant in variants}
    for number in range(rounds):
        for variant in rotated(variants, number):
            emulator.reset()
            command = [sys.executable, __file__, "--worker", "dispatch", variant]
            command += [emulator.base_url, emulator.api_key, str(creates)]
            results[variant].append(run_worker(command))
            made = emulator.state()["predictions_created"]
            if made != creates:
                raise RuntimeError(f"{variant}: {made} predictions created, not {creates}")
    return results


def report(results: Rounds, count: int, baseline: str, unit: str) -> dict[str, dict[str, float]]:
    """Print each variant's medians (per second, CPU µs per item) and ratios to ``baseline``;
    returns ``{variant: {"rate", "cpu_us", "rate_ratio", "cpu_ratio"}}``.

    A ratio is the median of the ratios round by round (each variant's round n against the
    baseline's round n, run next to each other): the machine's load drifts between rounds, and a
    ratio of medians would compare rounds run under different loads."""
    table: dict[str, dict[str, float]] = {}
    base = results.get(baseline, [])
    for variant, rounds in results.items():
        rates = [count / r["seconds"] for r in rounds]
        cpus = [r["cpu"] / count * 1e6 for r in rounds]
        pairs = list(zip(rounds, base, strict=False))
        table[variant] = {
            "rate": median(rates),
            "cpu_us": median(cpus),
            "rate_ratio": median([b["seconds"] / r["seconds"] for r, b in pairs]) if pairs else 1,
            "cpu_ratio": median([r["cpu"] / b["cpu"] for r, b in pairs]) if pairs else 1,
        }
    for variant, row in table.items():
        print(
            f"  {variant:<16} {row['rate']:7.0f} {unit}/s  x{row['rate_ratio']:4.2f}   "
            f"CPU {row['cpu_us']:6.1f} µs/{unit}  x{row['cpu_ratio']:4.2f}   "
            f"rounds: {rounds_text([count / r['seconds'] for r in results[variant]])}"
        )
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="timed GETs per round")
    parser.add_argument("--warmup", type=int, default=200, help="untimed GETs per round")
    parser.add_argument("--creates", type=int, default=1000, help="creates per dispatch")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per variant")
    args = parser.parse_args()

    from skytells.emulator import Emulator

    with Emulator(time_scale=0.0) as emulator:
        gets = benchmark_get(
            emulator.base_url,
            emulator.api_key,
            requests=args.requests,
            warmup=args.warmup,
            rounds=args.rounds,
        )
    # Predictions stay pending during a round: the server's work is the requests alone.
    with Emulator(time_scale=1000.0) as emulator:
        dispatches = benchmark_dispatch(emulator, creates=args.creates, rounds=args.rounds)

    print(
        f"GET /v1/predictions/{{id}}, {CONCURRENCY} concurrent, {args.requests} a round after "
        f"{args.warmup} warm-up, {args.rounds} rounds, a fresh process each"
    )
    table = report(gets, args.requests, GET_BASELINE, "req")
    sdk = table["sdk"]
    print(
        f"  goal: throughput >= {GOAL_THROUGHPUT}x: {verdict(sdk['rate_ratio'] >= GOAL_THROUGHPUT)}"
        f"; CPU a request <= {GOAL_CPU}x: {verdict(sdk['cpu_ratio'] <= GOAL_CPU)}"
    )
    print(
        f"dispatch() of {args.creates} creates, no added latency, {DISPATCH_CONCURRENCY} in "
        f"flight, {args.rounds} rounds, a fresh process each"
    )
    table = report(dispatches, args.creates, DISPATCH_BASELINE, "create")
    slower = 1 / table["sdk async"]["rate_ratio"]
    print(
        f"  goal: time <= {GOAL_DISPATCH}x the bare loop's: x{slower:.2f} "
        f"{verdict(slower <= GOAL_DISPATCH)}"
    )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2:])
    else:
        sys.exit(main())
