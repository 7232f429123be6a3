"""A batch too large for one machine, on a Dask cluster: exactly once, even when Dask retries.

The whole requests file is checked first, on the driver (every line, ``custom_id`` unique
across the file): a bad line stops the run before any shard spends anything. It is then cut
into shards, by the hash of each request's model and input (identical requests share a shard,
whose journal keeps them apart), and the cut is recorded with the file's hash and the shard
count: a re-run with another file or count is refused once shards have run. Each shard is
one Dask task that runs it as a durable batch with a client of its own, its journal and
results on a path every worker sees (``work_dir``, a shared file system), named by the shard. When Dask runs a task again (its worker died, or the task raised), the new attempt
opens the same journal and resumes it: nothing created is created again, nothing finished is
redone. A second attempt while the first still runs is refused by the journal's lock (the task
fails and Dask retries it later), so a shard never runs twice at once. At the end the shards'
results are merged into one file, checked: every request answered exactly once.

    pip install "dask[distributed]" skytells
    python examples/batch_dask.py requests.jsonl results.jsonl --shards 8 --scheduler tcp://...

Without ``--scheduler`` it starts a local cluster (2 worker processes) and the bundled emulator,
so it runs anywhere: ``python examples/batch_dask.py --demo``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from skytells import SkytellsClient

MANIFEST = "manifest.json"
"""Beside the shards: the requests file's SHA-256 and size and the shard count they were cut
with. A work folder serves only that file cut that way (`split`)."""


class ShardsMismatch(RuntimeError):
    """The work folder was cut from another requests file or into another number of shards,
    and its shards have journals: running it as asked would skip or repeat requests."""


def shard_of(line: dict[str, Any], shards: int) -> int:
    """The shard of a request: by the SHA-256 of its model and input (keys sorted), so that
    identical requests land in the same shard, whose journal keeps them apart (two shards
    could each take the other's prediction for their own)."""
    key = json.dumps([line.get("model"), line.get("input")], sort_keys=True, ensure_ascii=False)
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % shards


def file_digest(path: Path) -> dict[str, Any]:
    """The requests file's SHA-256 and size, read in pieces."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        for piece in iter(lambda: file.read(1 << 20), b""):
            digest.update(piece)
            size += len(piece)
    return {"requests_sha256": digest.hexdigest(), "requests_size": size}


def split(requests: Path, shards_dir: Path, shards: int) -> list[Path]:
    """Cut the requests file into ``shards`` files (by `shard_of`), streamed. The cut is
    recorded in ``manifest.json`` (the file's hash and size, the shard count): a re-run with the
    same file and count finds the same shards and their journals. A re-run with another file
    (lines added, edited) or another count is cut again if no shard has run yet, and refused
    (`ShardsMismatch`) otherwise: its shards' journals hold what was created. Lines keep their
    ``custom_id``: the merged results say which request each line answers."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    shards_dir.mkdir(parents=True, exist_ok=True)
    paths = [shards_dir / f"shard-{index:05d}.jsonl" for index in range(shards)]
    wanted = {**file_digest(requests), "shards": shards, "scheme": "sha256(model, input)"}
    manifest = shards_dir / MANIFEST
    if manifest.exists():
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        if recorded == wanted and all(path.exists() for path in paths):
            return paths  # already cut (a re-run): the journals are bound to these files
    else:
        recorded = None
    started = sorted(
        path.name
        for path in shards_dir.parent.glob("**/*.journal.sqlite")
        if path.name.startswith("shard-")
    )
    if started or (recorded is None and any(shards_dir.glob("shard-*.jsonl"))):
        raise ShardsMismatch(
            f"{shards_dir} was cut from another requests file or into another number of shards "
            f"(recorded: {recorded}; now: {wanted}) and its shards have run ({len(started)} "
            "journals): running it so would skip or repeat requests. Run it with the same file "
            "and --shards, or use a new --work-dir for the new file."
        )
    for old in shards_dir.glob("shard-*.jsonl"):
        old.unlink()
    files = [path.with_suffix(".part").open("w", encoding="utf-8") for path in paths]
    try:
        with requests.open(encoding="utf-8") as source:
            for line in source:
                if line.strip():
                    try:
                        request = json.loads(line)
                    except ValueError:  # `check` reports it; kept whole, in a shard of its own
                        request = {"input": line}
                    shard = shard_of(request if isinstance(request, dict) else {}, shards)
                    files[shard].write(line if line.endswith("\n") else line + "\n")
    finally:
        for file in files:
            file.close()
    for path in paths:
        os.replace(path.with_suffix(".part"), path)
    part = manifest.with_suffix(".part")
    part.write_text(json.dumps(wanted), encoding="utf-8")
    os.replace(part, manifest)
    return paths


def check(
    requests: Path, work_dir: Path, *, api_key: str | None = None, base_url: str | None = None
) -> None:
    """Check every line of the whole requests file as a batch does (JSON, fields, the model's
    input schema, ``custom_id`` unique across the file, so across the shards): raises the SDK's
    ``INVALID_BATCH`` error listing every bad line. Nothing is created or written."""
    with SkytellsClient(api_key, base_url=base_url) as client:
        client.batch(requests, work_dir / "check.results.jsonl").estimate()


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
    """Run every shard on the cluster (``retries``: how often Dask may run a task again).

    The whole requests file is checked first, here on the driver (`check`): a bad line or a
    ``custom_id`` used twice (in any shards) stops the run before any shard spends anything."""
    check(requests, work_dir, api_key=api_key, base_url=base_url)
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


class IncompleteResults(RuntimeError):
    """A shard's results do not answer each of its requests exactly once."""


def merge(statuses: list[dict[str, Any]], out: Path, requests: Path | None = None) -> int:
    """Concatenate the shards' results into ``out`` (written whole, then moved into place).

    Each shard's results must answer each of its requests exactly once, and with ``requests``
    (the whole file) every ``custom_id`` of the file must be answered: else `IncompleteResults`
    and ``out`` is not written (a request dropped is never passed off as done)."""
    answered: set[str] = set()
    count = 0
    part = out.with_name(out.name + ".part")
    try:
        with part.open("wb") as merged:
            for status in statuses:
                asked = _custom_ids(Path(status["shard"]))
                got: list[str] = []
                with open(status["results"], "rb") as shard:
                    for line in shard:
                        got.append(json.loads(line)["custom_id"])
                        merged.write(line)
                        count += 1
                if len(got) != len(set(got)) or set(got) != asked:
                    missing = len(asked - set(got))
                    raise IncompleteResults(
                        f"{status['results']}: {len(got)} result lines for {len(asked)} "
                        f"requests ({missing} unanswered): run the shards again to finish them"
                    )
                answered |= set(got)
        if requests is not None:
            missing_ids = _custom_ids(requests) - answered
            if missing_ids:
                raise IncompleteResults(
                    f"{len(missing_ids)} requests of {requests} are in no shard's results "
                    f"(e.g. {sorted(missing_ids)[:3]}): was the file cut for another run?"
                )
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, out)
    return count


def _custom_ids(path: Path) -> set[str]:
    with path.open(encoding="utf-8") as file:
        return {json.loads(line)["custom_id"] for line in file if line.strip()}


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
        count = merge(statuses, args.out, args.requests)
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
