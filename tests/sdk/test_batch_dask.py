"""The Dask recipe (``examples/batch_dask.py``) on a local cluster of two worker processes: each
task a shard with a client and a journal of its own; a worker killed mid-task and a task that
raises after creating are run again by Dask, and every request is still created exactly once."""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from skytells import SkytellsClient, ValidationError  # noqa: E402
from tests.batch_files import assert_exactly_once, write_requests  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example() -> ModuleType:
    """The recipe, imported as its users would (its folder on the path of every process: the
    cluster's workers get this process's ``sys.path``)."""
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module("batch_dask")


def chaotic_shard(
    shard: str, results_dir: str, marker_dir: str, api_key: str, base_url: str
) -> dict[str, Any]:
    """`run_shard`, whose first attempt fails after three results: shard 0's worker process
    dies (``os._exit``), shard 1's task raises. Dask runs both again."""
    marker = Path(marker_dir) / (Path(shard).stem + ".tried")
    first = not marker.exists()
    marker.touch()
    results = Path(results_dir) / (Path(shard).stem + ".results.jsonl")
    with SkytellsClient(api_key, base_url=base_url) as client:
        batch = client.batch(shard, results, concurrency=2)
        for done, _ in enumerate(batch, start=1):
            if first and done == 3:
                if shard.endswith("00000.jsonl"):
                    os._exit(1)  # the worker dies mid-task, predictions in flight
                raise RuntimeError("the task failed after creating predictions")
        status = batch.status()
    return {"shard": shard, "results": str(results), "done": status.done, "total": status.total}


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    load_example()  # before the workers start: they inherit the path
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with distributed.Client(cluster) as client:
        yield client
    cluster.close()


@pytest.mark.timeout(240)
def test_the_recipe_creates_every_request_once_though_dask_retries(
    dask_client: Any, emu: Any, tmp_path: Path
) -> None:
    example = load_example()
    requests = write_requests(tmp_path / "requests.jsonl", 24)
    work = tmp_path / "work"
    shards = example.split(requests, work / "shards", 2)
    (work / "results").mkdir()
    (work / "markers").mkdir()
    futures = dask_client.map(
        chaotic_shard,
        [str(path) for path in shards],
        results_dir=str(work / "results"),
        marker_dir=str(work / "markers"),
        api_key=emu.api_key,
        base_url=emu.base_url,
        retries=3,
        pure=False,
    )
    statuses = dask_client.gather(futures)
    assert [s["done"] for s in statuses] == [s["total"] for s in statuses]
    assert sum(s["done"] for s in statuses) == 24
    assert sorted(p.name for p in (work / "markers").iterdir()) == [
        "shard-00000.tried",
        "shard-00001.tried",
    ]
    merged = tmp_path / "results.jsonl"
    assert example.merge(statuses, merged) == 24
    lines = assert_exactly_once(emu, merged, 24)
    assert {line["custom_id"] for line in lines} == {f"req-{i}" for i in range(24)}


@pytest.mark.timeout(240)
def test_the_recipe_as_written(dask_client: Any, emu: Any, tmp_path: Path) -> None:
    example = load_example()
    requests = write_requests(tmp_path / "requests.jsonl", 9)
    statuses = example.run_on_cluster(
        dask_client,
        requests,
        tmp_path / "work",
        shards=3,
        api_key=emu.api_key,
        base_url=emu.base_url,
    )
    assert [s["done"] for s in statuses] == [s["total"] for s in statuses]
    assert sum(s["done"] for s in statuses) == 9
    assert example.merge(statuses, tmp_path / "results.jsonl", requests) == 9
    assert_exactly_once(emu, tmp_path / "results.jsonl", 9)
    # Run again (a re-submitted job): the shards resume, nothing is created again.
    again = example.run_on_cluster(
        dask_client,
        requests,
        tmp_path / "work",
        shards=3,
        api_key=emu.api_key,
        base_url=emu.base_url,
    )
    assert [s["done"] for s in again] == [s["done"] for s in statuses]
    assert len(emu.predictions()) == 9
    assert json.loads((tmp_path / "results.jsonl").read_text().splitlines()[0])["status"] == (
        "succeeded"
    )


@pytest.mark.timeout(240)
def test_a_rerun_with_another_file_or_shard_count_is_refused_not_partial(
    dask_client: Any, emu: Any, tmp_path: Path
) -> None:
    """The shards record the file's hash and their count: a re-run with fewer shards or with
    lines added is refused once shards have run (it would run only the old shards), and the
    merge refuses results that miss a request of the file."""
    example = load_example()
    requests = write_requests(tmp_path / "requests.jsonl", 8)
    work = tmp_path / "work"
    settings = {"api_key": emu.api_key, "base_url": emu.base_url}
    statuses = example.run_on_cluster(dask_client, requests, work, shards=4, **settings)
    assert example.merge(statuses, tmp_path / "out.jsonl", requests) == 8
    with pytest.raises(example.ShardsMismatch, match="another number of shards"):
        example.run_on_cluster(dask_client, requests, work, shards=2, **settings)
    with requests.open("a", encoding="utf-8") as file:
        line = {"custom_id": "req-new", "model": "flux-edge", "input": {"prompt": "new fox"}}
        file.write(json.dumps(line) + "\n")
    with pytest.raises(example.ShardsMismatch, match="another requests file"):
        example.run_on_cluster(dask_client, requests, work, shards=4, **settings)
    assert len(emu.predictions()) == 8  # nothing ran
    # The old shards' results, merged against the file that grew: the new request is missing.
    with pytest.raises(example.IncompleteResults, match="1 requests"):
        example.merge(statuses, tmp_path / "out2.jsonl", requests)
    assert not (tmp_path / "out2.jsonl").exists()
    # A new work folder for the new file: all 9 answered, the 8 made before made again there.
    again = example.run_on_cluster(dask_client, requests, tmp_path / "work2", shards=2, **settings)
    assert example.merge(again, tmp_path / "out3.jsonl", requests) == 9


def test_split_cuts_again_while_no_shard_has_run_and_keeps_identical_requests_together(
    tmp_path: Path,
) -> None:
    example = load_example()
    requests = write_requests(tmp_path / "requests.jsonl", 12, same_input=True)
    with requests.open("a", encoding="utf-8") as file:
        line = {"custom_id": "other", "model": "flux-edge", "input": {"prompt": "another"}}
        file.write(json.dumps(line) + "\n")
    shards = example.split(requests, tmp_path / "shards", 4)
    sizes = sorted(len(path.read_text().splitlines()) for path in shards)
    # Identical requests share a shard, whose journal keeps them apart: never one shard
    # adopting what another created for the same input.
    assert sizes[-1] >= 12
    assert sum(sizes) == 13
    two = example.split(requests, tmp_path / "shards", 2)  # nothing ran yet: cut again
    assert sorted(p.name for p in (tmp_path / "shards").glob("shard-*.jsonl")) == [
        p.name for p in two
    ]
    assert sum(len(path.read_text().splitlines()) for path in two) == 13


@pytest.mark.timeout(240)
def test_the_whole_file_is_checked_before_any_shard_spends(
    dask_client: Any, emu: Any, tmp_path: Path
) -> None:
    """A bad line, or a custom_id repeated in other shards, stops the run on the driver:
    nothing created, no shard run; the error lists every bad line."""
    example = load_example()
    requests = tmp_path / "requests.jsonl"
    with requests.open("w", encoding="utf-8") as file:
        for i in range(3):
            line = {"custom_id": "same-id", "model": "flux-edge", "input": {"prompt": f"f {i}"}}
            file.write(json.dumps(line) + "\n")
        file.write(json.dumps({"custom_id": "bad", "model": "flux-edge", "input": {"prompt": 5}}))
    with pytest.raises(ValidationError) as caught:
        example.run_on_cluster(
            dask_client,
            requests,
            tmp_path / "work",
            shards=4,
            api_key=emu.api_key,
            base_url=emu.base_url,
        )
    assert caught.value.error_id == "INVALID_BATCH"
    assert [problem["line"] for problem in caught.value.details] == [2, 3, 4]
    assert emu.predictions() == []
    assert not (tmp_path / "work" / "results").exists()
