"""The sync `dispatch()`: threads over the client's connection pool (its own urllib3 pool, or your
``http_client``). It keeps dispatch's guarantees; Ctrl-C stops it, losing nothing."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

import skytells
from skytells import SkytellsClient, SkytellsError
from skytells.emulator import Emulator


def _prompts(results: list[dict[str, Any]]) -> list[str]:
    return [r["input"]["prompt"] for r in results]


def _workers() -> list[str]:
    """The dispatch threads alive now (none once a dispatch has returned)."""
    return [t.name for t in threading.enumerate() if t.name.startswith("skytells-batch")]


@pytest.fixture
def dispatcher(emu: Emulator) -> Iterator[SkytellsClient]:
    with SkytellsClient(
        emu.api_key, base_url=emu.base_url, retry={"retries": 3, "retry_delay": 5}
    ) as client:
        yield client


def test_dispatch_creates_every_queued_request_once_in_queue_order(
    dispatcher: SkytellsClient, emu: Emulator
) -> None:
    for i in range(60):
        dispatcher.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
    results = dispatcher.dispatch(concurrency=8)
    assert _prompts(results) == [f"n{i}" for i in range(60)]
    assert len({r["id"] for r in results}) == 60 == emu.state()["predictions_created"]
    assert dispatcher.queued == 0
    assert _workers() == []  # every dispatch thread has ended


def test_dispatch_keeps_the_failed_requests_queued(
    dispatcher: SkytellsClient, emu: Emulator
) -> None:
    dispatcher.queue({"model": "flux-pro", "input": {"prompt": "ok 1"}})
    dispatcher.queue({"model": "flux-pro", "input": {"prompt": "bad", "num_outputs": 99}})
    dispatcher.queue({"model": "no-such-model", "input": {"prompt": "bad"}})
    dispatcher.queue({"model": "flux-pro", "input": {"prompt": "ok 2"}})
    with pytest.raises(skytells.DispatchError) as info:
        dispatcher.dispatch(concurrency=2)
    assert _prompts(info.value.created) == ["ok 1", "ok 2"]
    assert [(p["model"], e.error_id) for p, e in info.value.failed] == [
        ("flux-pro", "INVALID_INPUT"),
        ("no-such-model", "MODEL_NOT_FOUND"),
    ]
    assert [p["model"] for p in dispatcher.queued_payloads()] == ["flux-pro", "no-such-model"]
    assert [p["input"]["prompt"] for p in dispatcher.queued_payloads()] == ["bad", "bad"]
    assert emu.state()["predictions_created"] == 2
    assert len(dispatcher.clear_queue()) == 2 and dispatcher.dispatch() == []


def test_dispatch_retries_and_times_out_as_a_single_call_does(emu: Emulator) -> None:
    emu.add_fault("status", path="/v1/predict", status=503, count=3, retry_after=0.01)
    emu.add_fault("hang", path="/v1/predict", model="flux-pro")  # every flux-pro create hangs
    with SkytellsClient(
        emu.api_key, base_url=emu.base_url, timeout=300, retry={"retries": 3, "retry_delay": 5}
    ) as client:
        for i in range(6):
            client.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
        client.queue({"model": "flux-pro", "input": {"prompt": "hangs"}})
        with pytest.raises(skytells.DispatchError) as info:
            client.dispatch(concurrency=2)
    assert _prompts(info.value.created) == [f"n{i}" for i in range(6)]
    ((payload, error),) = info.value.failed
    assert payload["input"]["prompt"] == "hangs"
    assert isinstance(error, skytells.APITimeoutError)
    assert emu.faults()[0]["fired"] == 3


def test_your_own_http_client_carries_the_creates(emu: Emulator) -> None:
    sent: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: sent.append(r.method)]}) as http:
        client = SkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http)
        for i in range(12):
            client.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
        assert len(client.dispatch()) == 12
    assert sent == ["POST"] * 12


def test_a_derived_client_dispatches_over_the_same_pool(dispatcher: SkytellsClient) -> None:
    derived = dispatcher.with_options(max_retries=0)
    for i in range(3):
        derived.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
    assert _prompts(derived.dispatch(concurrency=1)) == ["n0", "n1", "n2"]


def test_dispatch_works_from_inside_a_running_event_loop(dispatcher: SkytellsClient) -> None:
    import asyncio

    async def blocking_caller() -> list[Any]:
        for i in range(3):
            dispatcher.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
        return dispatcher.dispatch(concurrency=1)  # blocking, from async code: slow, but works

    assert _prompts(asyncio.run(blocking_caller())) == ["n0", "n1", "n2"]


def test_a_closed_client_fails_and_keeps_the_queue(dispatcher: SkytellsClient) -> None:
    dispatcher.close()
    for i in range(3):
        dispatcher.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
    with pytest.raises(SkytellsError) as info:
        dispatcher.dispatch(concurrency=1)
    assert info.value.error_id == "CLIENT_CLOSED"
    assert dispatcher.queued == 3


def test_your_closed_http_client_fails_the_dispatch_once_and_keeps_the_queue(
    emu: Emulator,
) -> None:
    import httpx

    http = httpx.Client()
    client = SkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http)
    for i in range(3):
        client.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
    http.close()
    with pytest.raises(SkytellsError) as info:
        client.dispatch(concurrency=2)
    assert info.value.error_id == "CLIENT_CLOSED" and "http_client" in info.value.message
    assert client.queued == 3 and emu.predictions() == []


# Keys honoured: the creates Ctrl-C abandoned are still being processed by the server (250 ms
# of latency) when the second dispatch looks for them; no listing can show a prediction the
# server has not made yet (a limit the README states), a server that honours the key covers it.
@pytest.mark.usefixtures("honour_idempotency")
def test_ctrl_c_stops_dispatch_and_a_second_dispatch_creates_nothing_twice(
    emu: Emulator, poll: Callable[..., Any]
) -> None:
    emu.add_fault("latency", path="/v1/predict", latency_ms=250)
    script = textwrap.dedent(
        f"""
        import json, os, sys, threading, time
        from skytells import SkytellsClient
        client = SkytellsClient({emu.api_key!r}, base_url={emu.base_url!r})
        for i in range(64):
            client.queue({{"model": "flux-edge", "input": {{"prompt": f"n{{i}}"}}}})
        print("queued", flush=True)
        try:
            client.dispatch(concurrency=4)  # 16 rounds of 0.25 s
            notes = None
        except KeyboardInterrupt as exc:
            notes = getattr(exc, "__notes__", [])
        queued = client.queued
        # A create already sent ends in the background: wait for the workers to end, so that
        # the test counts what the first dispatch created.
        while any(t.name.startswith("skytells-batch") for t in threading.enumerate()):
            time.sleep(0.01)
        print("interrupted", flush=True)
        sys.stdin.readline()  # the test looks at the server meanwhile
        created = client.dispatch(concurrency=64)
        print(json.dumps({{
            "notes": notes, "queued": queued,
            "created": [p["input"]["prompt"] for p in created], "left": client.queued,
        }}))
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        assert process.stdout.readline().strip() == "queued"
        poll(emu.predictions, lambda predictions: len(predictions) >= 4, 20, 0.01)
        process.send_signal(signal.SIGINT)
        assert process.stdout.readline().strip() == "interrupted"
        created_before = len(emu.predictions())
        process.stdin.write("go\n")
        process.stdin.flush()
        stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["notes"] is not None, "the dispatch ended before the interrupt"
    if sys.version_info >= (3, 11):  # exception notes exist from 3.11 on (3.10: the log only)
        assert any("stay queued" in note for note in report["notes"])
    assert 4 <= created_before < 64  # it stopped: it did not go on to create the rest
    assert report["queued"] == 64  # nothing left the queue on the interrupt
    assert report["created"] == [f"n{i}" for i in range(64)] and report["left"] == 0
    prompts = sorted(p["input"]["prompt"] for p in emu.predictions())
    assert prompts == sorted(f"n{i}" for i in range(64))  # none lost, none twice


def test_a_stopped_thread_ends_its_sleep_and_starts_no_new_attempt(emu: Emulator) -> None:
    from skytells._core.protocol import HttpRequest, Sleep
    from skytells._io.sync_driver import Stopped

    sent: list[str] = []
    stop = threading.Event()

    def op() -> Any:  # a retry's backoff of an hour, then a second attempt
        yield Sleep(3600.0)
        sent.append("second attempt")
        yield HttpRequest("GET", "/models", deadline=time.monotonic() + 30)

    with SkytellsClient(emu.api_key, base_url=emu.base_url) as client:
        threading.Timer(0.05, stop.set).start()
        with pytest.raises(Stopped):
            client._driver.run(op(), stop)  # without the stop: an hour (pytest-timeout fails it)
    assert sent == ["second attempt"] and emu.state()["requests"] == 0


def test_two_threads_dispatching_one_queue_create_each_request_once(emu: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with SkytellsClient(emu.api_key, base_url=emu.base_url) as client:
        for i in range(20):
            client.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda _: client.dispatch(concurrency=4), range(2)))
    assert sum(len(created) for created in results) == 20
    assert emu.state()["predictions_created"] == 20 and client.queued == 0
