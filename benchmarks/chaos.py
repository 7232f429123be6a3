"""Chaos run: create and await many predictions through an emulator that faults 15% of requests.

Every API request (`/v1/...`) is exposed to fourteen seeded fault rules (statuses 429, 500, 502,
503 and 504, added latency, dropped and reset connections, truncated bodies, hung requests, and
`post_commit`, where a create happens but its answer is lost: dropped, reset, hung until the
client times out, or replaced by a gateway's 504), tuned so that about `--fault-rate` of the
requests are faulted. The sync client (2 retries, fast backoff) queues every payload and calls
`dispatch()` until the queue is empty (retrying `DispatchError` leftovers), then `wait_many()`
(again after a failure). A short client timeout ends hung requests.

It runs twice: with the emulator ignoring `Idempotency-Key` (its default, as the documented
service does: exactly-once rests on the SDK looking a create of unknown outcome up in the
listing before sending it again), and honouring it.

Figures: predictions completed (goal: all), predictions that exist on the emulator (goal: exactly
as many as requested: no duplicates), queue items lost (goal 0), server-side connections left
open after the client closed (goal 0), and what was fired. Bounded: each mode gives up after
`--budget` seconds. Traffic goes to 127.0.0.1 only.

    python benchmarks/chaos.py [--count 1000] [--fault-rate 0.15] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from skytells import DispatchError, SkytellsClient, SkytellsError
from skytells.emulator import Emulator

MODELS = ("flux-edge", "truefusion-edge", "flux-pro", "skytells-chat")
FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "status", "status": 429, "retry_after": 0.05},
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 502},
    {"kind": "status", "status": 503, "retry_after": 0.05},
    {"kind": "status", "status": 504},
    {"kind": "latency", "latency_ms": 30},
    {"kind": "drop"},
    {"kind": "reset"},
    {"kind": "truncate"},
    {"kind": "hang"},
    {"kind": "post_commit"},
    {"kind": "post_commit", "then": "reset"},
    {"kind": "post_commit", "then": "hang"},
    {"kind": "post_commit", "status": 504},
)


UNHANDLED = ("drop", "reset", "hang")
"""Fault kinds that end a request before the API sees it."""


def arm_faults(emu: Emulator, rate: float, seed: int) -> None:
    """One rule per entry of `FAULTS` on every API path, each with the probability that makes
    the share of faulted requests `rate` (rules are tried in turn)."""
    each = 1 - (1 - rate) ** (1 / len(FAULTS))
    for number, fault in enumerate(FAULTS):
        emu.add_fault(path="/v1/*", probability=each, seed=seed + number, **fault)


def _until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def chaos_run(
    count: int = 1000,
    *,
    fault_rate: float = 0.15,
    seed: int = 1,
    time_scale: float = 0.002,
    timeout_ms: float = 1000,
    budget: float = 80.0,
    honour_idempotency: bool = False,
) -> dict[str, Any]:
    """Run the chaos scenario; returns its figures (see the module docstring)."""
    started = time.monotonic()
    deadline = started + budget
    with Emulator(time_scale=time_scale, honour_idempotency=honour_idempotency) as emu:
        arm_faults(emu, fault_rate, seed)
        client = SkytellsClient(
            emu.api_key,
            base_url=emu.base_url,
            timeout=timeout_ms,
            retry={"retries": 2, "retry_delay": 20, "max_delay": 400, "max_retry_after": 1000},
            poll_interval=200,
        )
        for number in range(count):
            model = MODELS[number % len(MODELS)]
            client.queue({"model": model, "input": {"prompt": f"chaos item {number}"}})
        created: list[dict[str, Any]] = []
        dispatches = 0
        while client.queued and time.monotonic() < deadline:
            dispatches += 1
            try:
                created += client.dispatch()
            except DispatchError as error:
                created += error.created
        ids = list(dict.fromkeys(str(prediction["id"]) for prediction in created))
        final: list[dict[str, Any]] = []
        waits = 0
        while ids and not final and time.monotonic() < deadline:
            waits += 1
            left = max(1.0, deadline - time.monotonic()) * 1000
            try:
                final = list(client.wait_many(ids, {"interval": 200, "max_wait": left}))
            except SkytellsError:
                continue
        queued_left = client.queued
        client.close()
        fired = Counter[str]()
        for rule in emu.faults():
            fired[_fault_name(rule)] += rule["fired"]
        emu.clear_faults()
        # Requests that reached the API, plus those a fault answered before they could.
        attempts = emu.state()["requests"] + sum(
            n for kind, n in fired.items() if kind.startswith("status") or kind in UNHANDLED
        )
        by_endpoint = emu.state()["requests_by_endpoint"]
        prompts = Counter(record["input"]["prompt"] for record in emu.predictions())
        _until(lambda: emu.state()["open_connections"] == 0, 5.0)
        open_connections = emu.state()["open_connections"]
    return {
        "requested": count,
        "completed": sum(1 for prediction in final if prediction.get("status") == "succeeded"),
        "created_responses": len(ids),
        "on_emulator": sum(prompts.values()),
        "duplicates": sum(n - 1 for n in prompts.values() if n > 1),
        "lost": count - len(ids) - queued_left,
        "still_queued": queued_left,
        "open_connections": open_connections,
        "dispatch_calls": dispatches,
        "wait_calls": waits,
        "http_requests": attempts,
        "creates_reaching_api": by_endpoint.get("create", 0),
        "listings_sent": by_endpoint.get("list", 0),
        "faults_fired": dict(sorted(fired.items())),
        "faulted_share": sum(fired.values()) / max(1, attempts),
        "seconds": time.monotonic() - started,
    }


def _fault_name(rule: dict[str, Any]) -> str:
    if rule["kind"] == "status":
        return f"status {rule['status']}"
    if rule["kind"] == "post_commit":
        ending = f"status {rule['status']}" if rule["status"] else rule["then"] or "drop"
        return f"post_commit {ending}"
    return str(rule["kind"])


MODES = {"keys ignored": False, "keys honoured": True}
"""The emulator's `honour_idempotency` in each mode."""


def goals(figures: dict[str, Any]) -> dict[str, bool]:
    """Each goal of a run, met or not."""
    count = figures["requested"]
    return {
        "completed": figures["completed"] == count,
        "on_emulator": figures["on_emulator"] == count,
        "duplicates": figures["duplicates"] == 0,
        "lost": figures["lost"] == 0,
        "open_connections": figures["open_connections"] == 0,
    }


def table(runs: dict[str, dict[str, Any]]) -> list[str]:
    """The figures of each mode side by side, goals marked, ratios to the count requested."""
    names = list(runs)
    width = max(14, *(len(name) for name in names))
    lines = [f"  {'figure':<30}" + "".join(f"{name:>{width + 2}}" for name in names)]
    rows: list[tuple[str, list[str]]] = []
    first = next(iter(runs.values()))
    for key in first:
        if key in ("faults_fired", "requested"):
            continue
        cells = []
        for figures in runs.values():
            value = figures[key]
            mark = "" if key not in goals(figures) else (" ok" if goals(figures)[key] else " !!")
            if key == "faulted_share":
                cells.append(f"{value:.1%}")
            elif key == "seconds":
                cells.append(f"{value:.1f}")
            else:
                cells.append(f"{value}{mark}")
        rows.append((key, cells))
    for ratio in ("on_emulator", "creates_reaching_api", "http_requests"):
        rows.append(
            (
                f"{ratio} / requested",
                [f"{f[ratio] / max(1, f['requested']):.3f}" for f in runs.values()],
            )
        )
    kinds = sorted({kind for figures in runs.values() for kind in figures["faults_fired"]})
    for kind in kinds:
        rows.append(
            (f"fired: {kind}", [str(f["faults_fired"].get(kind, 0)) for f in runs.values()])
        )
    for key, cells in rows:
        lines.append(f"  {key:<30}" + "".join(f"{cell:>{width + 2}}" for cell in cells))
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run both modes and print the table; exit 1 if a goal was missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--fault-rate", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per mode at most")
    args = parser.parse_args(argv)
    runs = {
        mode: chaos_run(
            args.count,
            fault_rate=args.fault_rate,
            seed=args.seed,
            budget=args.budget,
            honour_idempotency=honour,
        )
        for mode, honour in MODES.items()
    }
    print(
        f"chaos: {args.count} predictions, {args.fault_rate:.0%} of requests faulted "
        f"(seed {args.seed}); Idempotency-Key ignored by the emulator, then honoured"
    )
    print("\n".join(table(runs)))
    return 0 if all(all(goals(figures).values()) for figures in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
