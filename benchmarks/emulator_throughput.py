"""Throughput of the emulator's GET /v1/predictions/{id} against a bare Starlette endpoint.

Both servers run in this process exactly as `skytells.emulator.Emulator` runs: uvicorn with the
same settings, in a background thread, on a pre-bound loopback socket. The bare application has
one route that returns, with `JSONResponse`, the same prediction JSON the emulator answers (so
body size and serialisation match); the gap is the emulator's own per-request work (routing
middleware, authentication, rate limiting, the record's JSON form).

The load generator is a separate process (so it does not share the servers' GIL): aiohttp with
32 workers over 32 keep-alive connections, a warm-up, then a fixed number of requests. Rounds
alternate (bare, emulator, bare, emulator, ...) and the medians are reported with their ratio.
Absolute numbers depend on the machine; the ratio emulator/bare is the result (goal: >= 0.60).

    python benchmarks/emulator_throughput.py [--requests 5000] [--rounds 2]

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

CONCURRENCY = 32
GOAL = 0.60


# ------------------------------------------------------------------------------ load generator


async def _hammer(url: str, headers: dict[str, str], total: int, warmup: int) -> dict[str, Any]:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        failures: list[int] = []
        sizes: set[int] = set()

        async def run(count: int) -> float:
            remaining = count

            async def worker() -> None:
                nonlocal remaining
                while remaining > 0:
                    remaining -= 1
                    async with session.get(url) as response:
                        body = await response.read()
                        if response.status != 200:
                            failures.append(response.status)
                        sizes.add(len(body))

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return time.perf_counter() - started

        await run(warmup)
        elapsed = await run(total)
    return {
        "rps": total / elapsed,
        "elapsed": elapsed,
        "failures": len(failures),
        "sizes": sorted(sizes),
    }


def _load_main(url: str, headers_json: str, total: int, warmup: int) -> None:
    result = asyncio.run(_hammer(url, json.loads(headers_json), total, warmup))
    print(json.dumps(result))


def measure(url: str, headers: dict[str, str], total: int, warmup: int) -> dict[str, Any]:
    """Run one round in a fresh load-generator process; its JSON result."""
    command = [
        sys.executable,
        __file__,
        "--load",
        url,
        json.dumps(headers),
        str(total),
        str(warmup),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"load generator failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if result["failures"]:
        raise RuntimeError(f"{result['failures']} non-200 responses from {url}")
    return result


# -------------------------------------------------------------------------------- the servers


@dataclass
class BareServer:
    """A one-route Starlette app served by uvicorn exactly as `Emulator` serves the emulator."""

    body: dict[str, Any]
    port: int = 0

    def start(self) -> BareServer:
        import uvicorn
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        body = self.body

        async def prediction(request: Request) -> JSONResponse:
            return JSONResponse(body)

        app = Starlette(routes=[Route("/v1/predictions/{id}", prediction, methods=["GET"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            loop="asyncio",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._server.serve(sockets=[sock])),
            name="bare-starlette",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the bare server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="timed requests per round")
    parser.add_argument("--warmup", type=int, default=500, help="untimed requests per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per server")
    args = parser.parse_args()

    import httpx

    from skytells.emulator import Emulator

    with Emulator(time_scale=0.0) as emulator:
        headers = {"x-api-key": emulator.api_key}
        created = httpx.post(
            f"{emulator.base_url}/predict",
            json={"model": "truefusion", "input": {"prompt": "benchmark"}, "await": True},
            headers=headers,
            timeout=30,
        )
        created.raise_for_status()
        prediction = created.json()
        emulator_url = f"{emulator.base_url}/predictions/{prediction['id']}"
        bare = BareServer(httpx.get(emulator_url, headers=headers).json()).start()
        bare_url = f"http://127.0.0.1:{bare.port}/v1/predictions/{prediction['id']}"
        try:
            results: dict[str, list[dict[str, Any]]] = {"bare": [], "emulator": []}
            for _ in range(args.rounds):
                results["bare"].append(measure(bare_url, headers, args.requests, args.warmup))
                results["emulator"].append(
                    measure(emulator_url, headers, args.requests, args.warmup)
                )
        finally:
            bare.stop()

    print(
        f"GET /v1/predictions/{{id}}: {CONCURRENCY} concurrent connections, "
        f"{args.requests} requests a round after {args.warmup} warm-up, {args.rounds} rounds each"
    )
    medians = {}
    for name, rounds in results.items():
        rates = [round["rps"] for round in rounds]
        medians[name] = statistics.median(rates)
        sizes = sorted({size for round in rounds for size in round["sizes"]})
        print(
            f"  {name:<9} median {medians[name]:8.0f} req/s   rounds: "
            + ", ".join(f"{rate:.0f}" for rate in rates)
            + f"   body bytes: {', '.join(map(str, sizes))}"
        )
    ratio = medians["emulator"] / medians["bare"]
    verdict = "meets" if ratio >= GOAL else "misses"
    print(f"  ratio emulator/bare: {ratio:.2f} ({verdict} the goal of {GOAL:.2f})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--load":
        _load_main(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(main())
