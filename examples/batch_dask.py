"""A batch too large for one machine, on a Dask cluster: exactly once, even when Dask retries.

The requests file is cut into shards (line ``i`` goes to shard ``i % shards``, always the same
way). Each shard is one Dask task that runs it as a durable batch with a client of its own, its
journal and results on a path every worker sees (``work_dir``, a shared file system), named by
the shard. When Dask runs a task again (its worker died, or the task raised), the new attempt
opens the same journal and resumes it: nothing created is created again, nothing finished is
redone. A second attempt while the first still runs is refused by the journal's lock (the task
fails and Dask retries it later), so a shard never runs twice at once. At the end the shards'
results are merged into one file.

    pip install "dask[distributed]" skytells
    python examples/batch_dask.py requests.jsonl results.jsonl --shards 8 --scheduler tcp://...

Without ``--scheduler`` it starts a local cluster (2 worker processes) and the bundled emulator,
so it runs anywhere: ``python examples/batch_dask.py --demo``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from skytells import SkytellsClient


def split(requests: Path, shards_dir: Path, shards: int) -> list[Path]:
    """Cut the requests file into ``shards`` files (line ``i`` to shard ``i % shards``), streamed.
    The same file always gives the same shards, so a re-run finds their journals. Lines keep
    their ``custom_id``: the merged results say which request each line answers."""
    shards_dir.mkdir(parents=True, exist_ok=True)
    paths = [shards_dir / f"shard-{index:05d}.jsonl" for index in range(shards)]
    if all(path.exists() for path in paths):
        return paths  # already cut (a re-run): the journals are bound to these files
    files = [path.with_suffix(".part").open("w", encoding="utf-8") for path in paths]
    try:
        with requests.open(encoding="utf-8") as source:
            for index, line in enumerate(line for line in source if line.strip()):
                files[index % shards].write(line if line.endswith("\n") else line + "\n")
    finally:
        for file in files:
            file.close()
    for path in paths:
        os.replace(path.with_suffix(".part"), path)
    return paths


def run_shard(
    shard: str,
    results_dir: str,
    api_key: str | None = None,
    base_url: str | None = None,
    outputs_dir: str | None = None,
    concurrency: int = 8,
) -> dict[str, Any]:
    """One Dask task: run (or resume) one shard as a durable batch, with a client of its own.
    Returns the shard's status."""
    results = Path(results_dir) / (Path(shard).stem + ".results.jsonl")
    with SkytellsClient(api_key, base_url=base_url) as client:
        status = client.batch(
            shard, results, outputs_dir=outputs_dir, concurrency=concurrency
        ).run()
    return {"shard": shard, "results": str(results), "done": status.done, "total": status.total}


def run_on_cluster(
    dask_client: Any,
    requests: Path,
    work_dir: Path,
    *,
    shards: int,
    api_key: str | None = None,
    base_url: str | None = None,
    outputs_dir: str | None = None,
    retries: int = 3,
) -> list[dict[str, Any]]:
    """Run every shard on the cluster (``retries``: how often Dask may run a task again)."""
    paths = split(requests, work_dir / "shards", shards)
    results_dir = work_dir / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    futures = dask_client.map(
        run_shard,
        [str(path) for path in paths],
        results_dir=str(results_dir),
        api_key=api_key,
        base_url=base_url,
        outputs_dir=outputs_dir,
        retries=retries,
        pure=False,
    )
    statuses: list[dict[str, Any]] = dask_client.gather(futures)
    return statuses


def merge(statuses: list[dict[str, Any]], out: Path) -> int:
    """Concatenate the shards' results into ``out`` (written whole, then moved into place)."""
    count = 0
    part = out.with_name(out.name + ".part")
    with part.open("wb") as merged:
        for status in statuses:
            with open(status["results"], "rb") as shard:
                for line in shard:
                    merged.write(line)
                    count += 1
    os.replace(part, out)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("requests", nargs="?", type=Path)
    parser.add_argument("out", nargs="?", type=Path)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument(
        "--work-dir", type=Path, help="shared by every worker (default: beside out)"
    )
    parser.add_argument("--scheduler", help="a Dask scheduler address (default: a local cluster)")
    parser.add_argument("--demo", action="store_true", help="20 requests on the bundled emulator")
    args = parser.parse_args()
    from dask.distributed import Client, LocalCluster

    emulator = None
    temp = None
    if args.demo:
        from skytells.emulator import Emulator

        temp = Path(tempfile.mkdtemp(prefix="skytells-dask-"))
        args.requests, args.out = temp / "requests.jsonl", temp / "results.jsonl"
        with args.requests.open("w", encoding="utf-8") as file:
            for i in range(20):
                line = {
                    "custom_id": f"fox-{i}",
                    "model": "flux-edge",
                    "input": {"prompt": f"fox {i}"},
                }
                file.write(json.dumps(line) + "\n")
        emulator = Emulator(time_scale=0.0).start()
    if args.requests is None or args.out is None:
        parser.error("give REQUESTS and OUT, or --demo")
    work_dir = args.work_dir or args.out.with_name(args.out.name + ".work")
    try:
        cluster = (
            None
            if args.scheduler
            else LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
        )
        with Client(args.scheduler or cluster) as dask_client:
            statuses = run_on_cluster(
                dask_client,
                args.requests,
                work_dir,
                shards=args.shards,
                api_key=emulator.api_key if emulator else None,
                base_url=emulator.base_url if emulator else None,
            )
        if cluster is not None:
            cluster.close()
        count = merge(statuses, args.out)
        with args.out.open(encoding="utf-8") as merged:
            succeeded = sum(json.loads(line)["status"] == "succeeded" for line in merged)
        print(f"{count} results ({succeeded} succeeded) in {args.out}")
    finally:
        if emulator is not None:
            emulator.stop()
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()
