"""The benchmarks' core functions at tiny sizes, so that they cannot rot (no timing asserted)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))  # the scripts import their helpers as `_benchlib`


def load(name: str) -> ModuleType:
    """A benchmark script as a module (not run: its main is behind ``__name__``)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH_DIR / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_all_finds_every_benchmark_and_no_helper() -> None:
    names = {path.name for path in load("run_all").scripts()}
    assert {
        "async_io.py",
        "dispatch.py",
        "completion_lag.py",
        "sync_http.py",
        "import_time.py",
        "batch.py",
    } <= names
    assert not any(name.startswith("_") for name in names) and "run_all.py" not in names


def test_async_io_variants(emu: Any, capsys: pytest.CaptureFixture[str]) -> None:
    async_io = load("async_io")
    prediction = async_io.create_prediction(emu.base_url, emu.api_key)
    gets = {
        variant: [
            asyncio.run(
                async_io.run_get(variant, emu.base_url, emu.api_key, prediction["id"], 8, 2)
            )
        ]
        for variant in async_io.GET_VARIANTS
    }
    table = async_io.report(gets, 8, async_io.GET_BASELINE, "req")
    assert table[async_io.GET_BASELINE]["rate_ratio"] == 1.0 and table["sdk"]["cpu_us"] > 0
    # Through the runner too: a worker process per round, as the benchmark runs them.
    variants = (async_io.GET_BASELINE, "sdk")
    rounds = async_io.benchmark_get(
        emu.base_url, emu.api_key, requests=8, warmup=2, rounds=1, variants=variants
    )
    assert set(async_io.report(rounds, 8, async_io.GET_BASELINE, "req")) == set(variants)
    emu.configure(time_scale=1000.0)  # predictions stay pending, as in the benchmark
    creates = {
        variant: [asyncio.run(async_io.run_dispatch(variant, emu.base_url, emu.api_key, 10))]
        for variant in async_io.DISPATCH_VARIANTS
    }
    async_io.report(creates, 10, async_io.DISPATCH_BASELINE, "create")
    assert "sdk async" in capsys.readouterr().out


def test_import_time_probe_checks_what_import_skytells_pulls_in() -> None:
    import_time = load("import_time")
    sample = import_time.sample("import skytells")
    assert sample["unwanted"] == []  # no emulator, server stack, aiohttp, httpx, urllib3
    assert float(sample["import"]) > 0 and float(sample["construct"]) > 0


def test_dispatch_variants(emu: Any) -> None:
    dispatch = load("dispatch")
    emu.configure(time_scale=1000.0)  # predictions stay pending, as in the benchmark
    for variant, runner in dispatch.RUNNERS.items():
        # "official" runs on this SDK here: the same surface; the benchmark uses the real one.
        assert runner(emu.base_url, emu.api_key, 20) > 0, variant
    warm_ups = sum(dispatch.WARM_UP_CREATES.values())  # one untimed dispatch of one
    assert emu.state()["predictions_created"] == 20 * len(dispatch.RUNNERS) + warm_ups
    ratios = dispatch.report({name: [1.0] for name in dispatch.RUNNERS}, 20)
    assert ratios["ours sync vs official"] == 1.0


def test_dispatch_latency_is_armed(emu: Any) -> None:
    benchlib = load("_benchlib")
    benchlib.arm_latency(emu, 0.001)
    assert [fault["kind"] for fault in emu.faults()] == ["latency"]
    emu.clear_faults()


def test_completion_lag_groups() -> None:
    completion_lag = load("completion_lag")
    results = completion_lag.benchmark(
        reps=2, time_scale=0.01, packages=("ours",), durations=("2 s",)
    )
    assert set(results) == {("ours", "run", "2 s"), ("ours", "wait", "2 s")}
    for row in results.values():
        assert row["statuses"] == ["succeeded"] and len(row["lags"]) == 2
        assert row["requests"] >= 1
    completion_lag.report(results)


def test_batch_throughput_and_crash_test(tmp_path: Path) -> None:
    batch = load("batch")
    rates = batch.throughput(20, tmp_path)
    assert rates["run_many"] > 0 and rates["batch"] > 0
    crash = batch.crash_test(30, 1, 3, tmp_path)
    assert crash["runs"] == 2
    assert crash["predictions"] == crash["lines"] == crash["distinct_requests"] == 30
