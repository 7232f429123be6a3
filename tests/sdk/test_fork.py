"""A client made before a fork, used at once by the parent and its forked children.

The children are real processes (``multiprocessing`` with the ``fork`` start method) calling the
session's emulator with the SAME client object the parent made, and uses, before forking. Each
process asks for its own prediction, again and again, and checks it gets that one: with shared
pooled connections the processes read each other's responses (or hang on a response another
process took).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from typing import Any

import httpx
import pytest

import skytells
import skytells._logging
from skytells import AsyncSkytellsClient, Prediction, SkytellsClient

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only"),
    # Python 3.12+ warns on forking a process with threads (the emulator's, here).
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

CHILDREN = 3
ROUNDS = 20
BOUND = 30.0  # seconds: how long a hung child may take before it is reported (never when fixed)
TIMEOUT_MS = 10_000  # a request that hangs on a stolen response fails within this (ms)
ctx = multiprocessing.get_context("fork")

Work = Callable[[int, Barrier], list[str]]


def _child(work: Work, index: int, barrier: Barrier, results: Any) -> None:
    try:
        found = work(index, barrier)
    except BaseException as exc:  # reported to the parent, which fails the test
        found = [f"{type(exc).__name__}: {exc}"]
    results.put((index, found))


def _at_once(work: Work, bound: float = BOUND) -> dict[int, list[str]]:
    """Run ``work(i, barrier)`` in ``CHILDREN`` forked processes (i = 1..) and in this one (i = 0),
    all starting together; returns the problems each process found (``bound``: seconds after
    which a child that has not answered is reported as hung)."""
    barrier = ctx.Barrier(CHILDREN + 1)
    results = ctx.Queue()
    children = [
        ctx.Process(target=_child, args=(work, i, barrier, results), daemon=True)
        for i in range(1, CHILDREN + 1)
    ]
    for child in children:
        child.start()
    found = {0: work(0, barrier)}
    try:
        for _ in children:
            index, problems = results.get(timeout=bound)
            found[index] = problems
    except queue.Empty:
        pass
    for child in children:
        child.join(bound)
        if child.is_alive():
            child.kill()
    for index in range(1, CHILDREN + 1):
        found.setdefault(index, ["no answer: the child hung"])
    return found


def _checked(want: str, got: Any) -> list[str]:
    return [] if got.get("id") == want else [f"asked for {want}, got {got.get('id')!r}"]


def _create(client: SkytellsClient, count: int) -> list[str]:
    return [
        client.predictions.create({"model": "flux-edge", "input": {"prompt": f"p{i}"}})["id"]
        for i in range(count)
    ]


def test_sync_client_made_before_fork_serves_parent_and_children_at_once(emu: Any) -> None:
    with SkytellsClient(
        emu.api_key, base_url=emu.base_url, timeout=TIMEOUT_MS, max_retries=0
    ) as client:
        ids = _create(client, CHILDREN + 1)  # the pool now holds an idle keep-alive connection

        def gets(index: int, barrier: Barrier) -> list[str]:
            barrier.wait(BOUND)
            for _ in range(ROUNDS):
                try:
                    problems = _checked(ids[index], client.predictions.get(ids[index]))
                except skytells.SkytellsError as exc:
                    problems = [f"{type(exc).__name__}: {exc}"]
                if problems:
                    return problems
            return []

        found = _at_once(gets)
        assert found == {i: [] for i in range(CHILDREN + 1)}
        assert client.predictions.get(ids[0])["id"] == ids[0]  # the parent's pool still works


def test_sync_dispatch_after_fork(emu: Any) -> None:
    """`dispatch()` runs on threads over the client's pool, and so does the waiting that follows:
    in parent and children at once, each process on connections of its own."""
    with SkytellsClient(
        emu.api_key, base_url=emu.base_url, timeout=TIMEOUT_MS, max_retries=0
    ) as client:
        _create(client, 1)

        def dispatch(index: int, barrier: Barrier) -> list[str]:
            prompts = [f"process {index} item {i}" for i in range(8)]
            for prompt in prompts:
                client.queue({"model": "flux-edge", "input": {"prompt": prompt}})
            barrier.wait(BOUND)
            try:
                created = client.dispatch(concurrency=2)
                finals = client.wait_many(created, {"interval": 50})
                fetched = [client.predictions.get(c["id"]) for c in created]  # over the pool
            except skytells.SkytellsError as exc:
                return [f"{type(exc).__name__}: {exc}"]
            problems = []
            for answers in (created, finals, fetched):
                got = [answer["input"]["prompt"] for answer in answers]
                if got != prompts:
                    problems.append(f"queued {prompts}, got {got}")
            if client.queued:
                problems.append(f"{client.queued} left in the queue")
            return problems

        found = _at_once(dispatch)
        assert found == {i: [] for i in range(CHILDREN + 1)}


@pytest.mark.parametrize("backend", ["aiohttp", "httpx"])
def test_async_client_forked_inside_its_running_loop(
    emu: Any, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent forks from inside the event loop its client's pool lives in, and goes on
    using that pool while each child runs a loop of its own with the same client object."""
    monkeypatch.setenv("SKYTELLS_ASYNC_HTTP", backend)

    async def gets(client: AsyncSkytellsClient, want: str) -> list[str]:
        for _ in range(ROUNDS):
            try:
                problems = _checked(want, await client.predictions.get(want))
            except skytells.SkytellsError as exc:
                problems = [f"{type(exc).__name__}: {exc}"]
            if problems:
                return problems
        return []

    async def main() -> dict[int, list[str]]:
        async with AsyncSkytellsClient(
            emu.api_key, base_url=emu.base_url, timeout=TIMEOUT_MS, max_retries=0
        ) as client:
            ids = [
                (await client.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}}))[
                    "id"
                ]
                for _ in range(CHILDREN + 1)
            ]

            def in_child(index: int, barrier: Barrier) -> list[str]:
                barrier.wait(BOUND)
                return asyncio.run(gets(client, ids[index]))

            barrier = ctx.Barrier(CHILDREN + 1)
            results = ctx.Queue()
            children = [
                ctx.Process(target=_child, args=(in_child, i, barrier, results), daemon=True)
                for i in range(1, CHILDREN + 1)
            ]
            for child in children:
                child.start()
            await asyncio.to_thread(barrier.wait, BOUND)
            found = {0: await gets(client, ids[0])}
            for _ in children:
                try:
                    index, problems = await asyncio.to_thread(results.get, timeout=BOUND)
                except queue.Empty:
                    break
                found[index] = problems
            for child in children:
                await asyncio.to_thread(child.join, BOUND)
                if child.is_alive():
                    child.kill()
            found[0] += await gets(client, ids[0])  # the parent's pool still works afterwards
            for index in range(1, CHILDREN + 1):
                found.setdefault(index, ["no answer: the child hung"])
            return found

    assert asyncio.run(main()) == {i: [] for i in range(CHILDREN + 1)}


def test_own_http_client_in_a_forked_child_raises_a_clear_error(emu: Any) -> None:
    """An ``http_client`` of the user's cannot be remade by the SDK: in a child, the client says
    so instead of sharing the parent's connections; the parent goes on."""
    http = httpx.Client()
    ahttp = httpx.AsyncClient()
    client = SkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http)
    aclient = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, http_client=ahttp)
    (want,) = _create(client, 1)

    def in_child(index: int, barrier: Barrier) -> list[str]:
        barrier.wait(BOUND)
        problems = []
        calls: list[Callable[[], object]] = [
            lambda: client.predictions.get(want),
            lambda: asyncio.run(aclient.predictions.get(want)),
        ]
        for call in calls:
            try:
                call()
                problems.append("the parent's http_client was used in the child")
            except skytells.SkytellsError as exc:
                if exc.error_id != "CLIENT_FORKED" or "in this process" not in exc.message:
                    problems.append(f"unexpected error: {exc!r}")
                if emu.api_key in str(exc):
                    problems.append("the key is in the message")
        return problems

    def work(index: int, barrier: Barrier) -> list[str]:
        if index:
            return in_child(index, barrier)
        barrier.wait(BOUND)
        return _checked(want, client.predictions.get(want))

    try:
        assert _at_once(work) == {i: [] for i in range(CHILDREN + 1)}
    finally:
        http.close()
        asyncio.run(ahttp.aclose())


def test_locks_held_by_a_parent_thread_at_the_fork_do_not_block_the_child(emu: Any) -> None:
    """Another thread of the parent holds the client's locks (the log's key registry; the
    queue and the learnt state are lock-free) when the fork happens: the child, where that thread does not exist,
    still queues, dispatches, runs and makes clients."""
    with SkytellsClient(emu.api_key, base_url=emu.base_url, timeout=TIMEOUT_MS) as client:
        _create(client, 1)
        locks = [
            skytells._logging._lock,
        ]
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with contextlib.ExitStack() as stack:
                for lock in locks:
                    stack.enter_context(lock)
                holding.set()
                release.wait(BOUND)

        holder = threading.Thread(target=hold)
        holder.start()
        assert holding.wait(BOUND)

        def work(index: int, barrier: Barrier) -> list[str]:
            barrier.wait(BOUND)
            if index == 0:
                return []  # the parent waits for its thread, which holds the locks
            client.queue({"model": "flux-edge", "input": {"prompt": f"child {index}"}})
            (created,) = client.dispatch()
            final = client.run("flux-edge", {"prompt": "run"}, on_progress=lambda _: None)
            with SkytellsClient("sk-child-key-123456", base_url=emu.base_url) as other:
                other.queue({"model": "flux-edge", "input": {"prompt": "other"}})
            return _checked(created["id"], client.wait(created)) + (
                [] if final.status == "succeeded" else [f"run ended {final.status}"]
            )

        try:
            found = _at_once(work, bound=20.0)
        finally:
            release.set()
            holder.join()
        assert found == {i: [] for i in range(CHILDREN + 1)}


_worker_client: SkytellsClient | None = None


def _set_worker_client(client: SkytellsClient) -> None:
    global _worker_client
    _worker_client = client


def _refresh_in_worker(prediction: Prediction) -> tuple[int, str, str, Any]:
    """In a pool worker: the prediction arrives pickled, without a client; bind, then refresh."""
    assert _worker_client is not None
    unbound = "it was bound"
    try:
        prediction.refresh()
    except skytells.SkytellsError as exc:
        unbound = exc.error_id
    prediction.bind(_worker_client).refresh()
    return os.getpid(), unbound, prediction.id, prediction.outputs()


def test_process_pool_maps_over_pickled_predictions(emu: Any) -> None:
    with SkytellsClient(emu.api_key, base_url=emu.base_url, timeout=TIMEOUT_MS) as client:
        predictions = [
            client.run("flux-edge", {"prompt": f"pool {i}"}, max_wait=TIMEOUT_MS) for i in range(6)
        ]
        # The workers get the parent's client through the fork; each makes its own pool.
        with ctx.Pool(2, initializer=_set_worker_client, initargs=(client,)) as pool:
            answers = pool.map(_refresh_in_worker, predictions, chunksize=1)
        assert {pid for pid, *_ in answers} - {os.getpid()}  # it ran in other processes
        assert [(unbound, id, out) for _, unbound, id, out in answers] == [
            ("PREDICTION_NOT_BOUND", p.id, p.outputs()) for p in predictions
        ]
        assert predictions[0].refresh() is predictions[0]  # still bound in the parent
