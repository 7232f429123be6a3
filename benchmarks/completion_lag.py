"""Completion lag: from the emulator marking a prediction terminal to ``run()``/``wait()`` returning,
and the requests spent per prediction, for this SDK and the official ``skytells==1.0.0``.

Predictions of about 2 s, 10 s and 30 s (catalogue timings: ``flux-edge`` with two images is
1.9 s, ``flux-pro`` 10 s, ``beatfusion-2.0`` with its default 10 s song 30 s; all at
``--time-scale``, 1.0 by default so that poll intervals, which are wall seconds, keep their
meaning). Two ways of waiting: ``run()`` (a create that asks the server to hold the answer) and
``wait()`` on a background prediction (``predictions.create`` then ``wait``).

Every (package, way, duration) has its own emulator, so its ``state()["requests"]`` counts that
group's requests alone (create included, divided by the predictions in it). All groups run at
once: the clients in two processes (ours, and the official package in its venv), one thread per
prediction. The lag is the client's wall clock when the call returned minus the time of the
prediction's terminal status event (ms precision; same machine, same clock). Medians are
reported; goal: ours under 100 ms with no more requests than the official package.

    python benchmarks/completion_lag.py [--reps 3] [--time-scale 1.0]

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from datetime import datetime
from typing import Any

from _benchlib import median, python_for, run_worker, verdict

DURATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "2 s": ("flux-edge", {"prompt": "benchmark", "num_outputs": 2}),
    "10 s": ("flux-pro", {"prompt": "benchmark"}),
    "30 s": ("beatfusion-2.0", {"prompt": "benchmark", "duration": 10}),
}
MODES = ("run", "wait")
PACKAGES = ("ours", "official")
GOAL_LAG_MS = 100.0


# ------------------------------------------------------------------------------ the worker


def run_jobs(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run every prediction of every job at once (a thread each); when each call returned.

    A job is ``{"base_url", "api_key", "mode", "model", "input", "reps"}``. Works with this SDK
    and with the official package (the same surface).
    """
    from skytells import SkytellsClient

    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def one(job: dict[str, Any]) -> None:
        client = SkytellsClient(api_key=job["api_key"], base_url=job["base_url"])
        try:
            if job["mode"] == "run":
                prediction = client.run(job["model"], input=job["input"])
                final = prediction.response if hasattr(prediction, "response") else prediction.raw
            else:
                created = client.predictions.create({"model": job["model"], "input": job["input"]})
                final = client.wait(created)
            returned = time.time()
            outcome = {"id": final["id"], "status": final["status"], "returned": returned}
        except Exception as exc:
            outcome = {"error": f"{type(exc).__name__}: {exc}"}
        with lock:
            results.append({"job": job["name"], **outcome})

    threads = [
        threading.Thread(target=one, args=(job,)) for job in jobs for _ in range(job["reps"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return results


# ------------------------------------------------------------------------------ the runner


def _terminal_time(emulator: Any, prediction_id: str) -> float:
    """Epoch seconds of the prediction's terminal status event."""
    events = [e for e in emulator.events(prediction_id) if e["type"] == "status"]
    stamp = events[-1]["created_at"]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def benchmark(
    *,
    reps: int,
    time_scale: float,
    packages: tuple[str, ...] = PACKAGES,
    durations: tuple[str, ...] = tuple(DURATIONS),
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Lags (s) and requests per prediction of every (package, mode, duration) group."""
    from skytells.emulator import Emulator

    groups = [(p, m, d) for p in packages for m in MODES for d in durations]
    emulators = {group: Emulator(time_scale=time_scale).start() for group in groups}
    try:
        jobs: dict[str, list[dict[str, Any]]] = {package: [] for package in packages}
        for (package, mode, duration), emulator in emulators.items():
            model, input = DURATIONS[duration]
            jobs[package].append(
                {
                    "name": f"{mode}|{duration}",
                    "base_url": emulator.base_url,
                    "api_key": emulator.api_key,
                    "mode": mode,
                    "model": model,
                    "input": input,
                    "reps": reps,
                }
            )
        outputs: dict[str, list[dict[str, Any]]] = {}

        def work(package: str) -> None:
            command = [python_for(package), __file__, "--worker", json.dumps(jobs[package])]
            outputs[package] = run_worker(command, timeout=300)

        for package in packages:
            python_for(package)  # install the official package first, outside the timings
        threads = [threading.Thread(target=work, args=(package,)) for package in packages]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(320)
        results: dict[tuple[str, str, str], dict[str, Any]] = {}
        for (package, mode, duration), emulator in emulators.items():
            done = [r for r in outputs.get(package, []) if r["job"] == f"{mode}|{duration}"]
            errors = [r["error"] for r in done if "error" in r]
            if errors or len(done) != reps:
                raise RuntimeError(f"{package} {mode} {duration}: {errors or done}")
            lags = [r["returned"] - _terminal_time(emulator, r["id"]) for r in done]
            results[(package, mode, duration)] = {
                "lags": lags,
                "requests": emulator.state()["requests"] / reps,
                "statuses": sorted({r["status"] for r in done}),
            }
    finally:
        for emulator in emulators.values():
            emulator.stop()
    return results


def report(results: dict[tuple[str, str, str], dict[str, Any]]) -> bool:
    """Print the table and the verdict; True if ours meets the goal everywhere."""
    print(f"  {'':<6} {'':<5} {'nominal':>7}  {'median lag':>10}  {'requests':>8}   lags (ms)")
    ok = True
    for (package, mode, duration), row in results.items():
        lags_ms = [lag * 1000 for lag in row["lags"]]
        print(
            f"  {package:<8} {mode:<5} {duration:>5}  {median(lags_ms):8.0f} ms  "
            f"{row['requests']:8.1f}   {', '.join(f'{lag:.0f}' for lag in lags_ms)}"
        )
        theirs = results.get(("official", mode, duration))
        if package == "ours":
            ok &= median(lags_ms) < GOAL_LAG_MS
            ok &= theirs is None or row["requests"] <= theirs["requests"]
    print(
        f"  ours: {verdict(ok)} the goal (median lag < {GOAL_LAG_MS:.0f} ms and no more "
        "requests than the official package, in every row)"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="predictions per group")
    parser.add_argument("--time-scale", type=float, default=1.0, help="emulator time scale")
    args = parser.parse_args()
    results = benchmark(reps=args.reps, time_scale=args.time_scale)
    print(
        f"completion lag: {args.reps} predictions per row, all at once, time_scale "
        f"{args.time_scale:g}; requests per prediction include its create"
    )
    report(results)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        print(json.dumps(run_jobs(json.loads(sys.argv[2]))))
    else:
        sys.exit(main())
