"""Durable batches: throughput against ``run_many()``, and a crash test.

1. Throughput: the same N requests (default 10,000; a fast model at ``time_scale=0``) run by
   ``run_many()`` and by ``client.batch()`` (journal, results file and all) with the same
   client settings, in the same run, against one emulator in a process of its own. Goal: the
   batch at least 0.8x the requests a second of ``run_many()``: the journal is no bottleneck.
2. Crash test: ``skytells batch run`` on N requests, killed with SIGKILL at 5 random moments
   and resumed each time, against a fresh emulator with idempotency off (the documented
   service's behaviour): exactly N predictions on the emulator and N result lines, one per
   request.

The prompts cycle over 50 texts (the emulator renders an image per new input; the SDK's work
does not depend on the text). Traffic goes to 127.0.0.1 only.

    python benchmarks/batch.py [--requests 10000] [--kills 5] [--seed 16]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from skytells import SkytellsClient

MODEL = "flux-edge"
GOAL = 0.8
CONCURRENCY = 32  # the SDK's default dispatch_concurrency, for both


@contextlib.contextmanager
def emulator_process(*flags: str) -> Iterator[tuple[str, str]]:
    """An emulator at ``time_scale=0`` in a process of its own: (base URL, API key)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "skytells.emulator", "--port", "0", "--time-scale", "0", *flags],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = re.search(r"(http://\S+)", process.stdout.readline())
        key = re.search(r"API key: (\S+)", process.stdout.readline())
        assert url and key, "the emulator did not start"
        yield url.group(1), key.group(1)
    finally:
        process.terminate()
        process.wait(30)


def created(base_url: str, api_key: str) -> int:
    """Predictions the emulator has created (its control API)."""
    root = base_url.rsplit("/v1", 1)[0]
    state = httpx.get(f"{root}/_emulator/state", headers={"x-api-key": api_key}, timeout=30)
    return int(state.json()["predictions_created"])


def write_requests(path: Path, count: int) -> Path:
    """N request lines, streamed."""
    with path.open("w", encoding="utf-8") as file:
        for i in range(count):
            line = {"custom_id": f"r{i}", "model": MODEL, "input": {"prompt": f"fox {i % 50}"}}
            file.write(json.dumps(line) + "\n")
    return path


def throughput(count: int, work: Path) -> dict[str, float]:
    """Requests a second of run_many() and of a batch, on the same requests and emulator."""
    requests = write_requests(work / "throughput.jsonl", count)
    payloads = [{"model": MODEL, "input": {"prompt": f"fox {i % 50}"}} for i in range(count)]
    rates: dict[str, float] = {}
    with emulator_process() as (url, key), SkytellsClient(key, base_url=url) as client:
        client.run("flux-edge", {"prompt": "warm up"})
        began = time.perf_counter()
        done = sum(1 for result in client.run_many(payloads, concurrency=CONCURRENCY) if result.ok)
        rates["run_many"] = done / (time.perf_counter() - began)
        began = time.perf_counter()
        results = work / "throughput.results.jsonl"
        status = client.batch(requests, results, concurrency=CONCURRENCY).run()
        rates["batch"] = status.succeeded / (time.perf_counter() - began)
        assert done == count and status.succeeded == count, (done, status)
    return rates


def crash_test(count: int, kills: int, seed: int, work: Path) -> dict[str, Any]:
    """The batch killed with SIGKILL at ``kills`` random moments, resumed each time."""
    requests = write_requests(work / "crash.jsonl", count)
    results = work / "crash.results.jsonl"
    rng = random.Random(seed)
    command = [
        str(Path(sys.executable).parent / "skytells"),
        "batch",
        "run",
        str(requests),
        "--out",
        str(results),
    ]
    runs = 0
    with emulator_process() as (url, key):
        env = {**os.environ, "SKYTELLS_API_KEY": key, "SKYTELLS_BASE_URL": url}
        for _ in range(kills):
            # A random moment of this run: once it has made a random share of what is left.
            before = created(url, key)
            target = before + max(1, int((count - before) * rng.uniform(0.05, 0.35)))
            runs += 1
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            while process.poll() is None and created(url, key) < target:
                time.sleep(0.02)
            time.sleep(rng.uniform(0, 0.05))
            process.send_signal(signal.SIGKILL)
            process.wait()
            print(f"  killed at {created(url, key):,} predictions (aimed at {target:,})")
        runs += 1
        finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        assert finished.returncode == 0, finished.stderr[-2000:]
        predictions = created(url, key)
    lines = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    return {
        "runs": runs,
        "predictions": predictions,
        "lines": len(lines),
        "distinct_requests": len({line["custom_id"] for line in lines}),
        "distinct_predictions": len({line["id"] for line in lines}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="skytells-bench-batch-") as folder:
        work = Path(folder)
        print(f"throughput: {args.requests:,} requests, concurrency {CONCURRENCY}")
        rates = throughput(args.requests, work)
        ratio = rates["batch"] / rates["run_many"]
        print(f"  run_many(): {rates['run_many']:,.0f} requests/s")
        print(f"  batch:      {rates['batch']:,.0f} requests/s")
        ok_rate = ratio >= GOAL
        print(
            f"  batch / run_many = {ratio:.2f}x (goal >= {GOAL}x: {'meets' if ok_rate else 'MISSES'})"
        )
        print(f"crash test: {args.requests:,} requests, SIGKILL x {args.kills}, idempotency off")
        crash = crash_test(args.requests, args.kills, args.seed, work)
        exact = (
            crash["predictions"]
            == crash["lines"]
            == crash["distinct_requests"]
            == crash["distinct_predictions"]
            == args.requests
        )
        print(
            f"  {crash['runs']} runs: {crash['predictions']:,} predictions on the emulator, "
            f"{crash['lines']:,} result lines ({crash['distinct_requests']:,} requests, "
            f"{crash['distinct_predictions']:,} predictions): "
            f"{'exactly once' if exact else 'NOT EXACTLY ONCE'}"
        )
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main())
