"""The SDK against the emulator with faults: every kind is retried, creates happen exactly once.

The exactly-once tests run with the emulator's `Idempotency-Key` support off (its default, as on
the real service): a create whose answer was lost is found in the listing, not sent again. One
test turns keys on (`honour_idempotency`) to show they are still sent and used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from skytells import DispatchError, SkytellsClient
from skytells.emulator import Emulator

CREATE = {"model": "flux-pro", "input": {"prompt": "a lighthouse"}}
FAULTS: dict[str, dict[str, Any]] = {
    "status 429": {"kind": "status", "status": 429, "retry_after": 0.01},
    "status 500": {"kind": "status", "status": 500},
    "status 502": {"kind": "status", "status": 502},
    "status 503": {"kind": "status", "status": 503, "retry_after": 0.01},
    "status 504": {"kind": "status", "status": 504},
    "drop": {"kind": "drop"},
    "reset": {"kind": "reset"},
    "truncate": {"kind": "truncate"},
    "hang": {"kind": "hang"},
    "post_commit": {"kind": "post_commit"},
    "post_commit reset": {"kind": "post_commit", "then": "reset"},
    "post_commit hang": {"kind": "post_commit", "then": "hang"},
    "post_commit 504": {"kind": "post_commit", "status": 504},
}


@pytest.fixture
def sdk(emu: Emulator) -> Iterator[SkytellsClient]:
    """A client with fast retries and a short per-attempt timeout (it ends hung requests)."""
    with SkytellsClient(
        emu.api_key,
        base_url=emu.base_url,
        timeout=400,
        retry={"retries": 3, "retry_delay": 5, "max_delay": 50},
        poll_interval=50,
    ) as client:
        yield client


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulted_create_is_retried_and_creates_once(
    sdk: SkytellsClient, emu: Emulator, fault: str
) -> None:
    emu.add_fault(path="/v1/predict", method="POST", count=1, **FAULTS[fault])
    created = sdk.predictions.create(CREATE)
    (rule,) = emu.faults()
    assert rule["fired"] == 1
    assert [p["id"] for p in emu.predictions()] == [created["id"]]  # exactly one, the one returned


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulted_read_is_retried(sdk: SkytellsClient, emu: Emulator, fault: str) -> None:
    created = sdk.predictions.create(CREATE)
    emu.add_fault(path="/v1/predictions/*", method="GET", count=1, **FAULTS[fault])
    assert sdk.predictions.get(created["id"])["id"] == created["id"]
    assert sdk.models.list()  # other paths are untouched
    assert emu.faults()[0]["fired"] == 1


def test_a_create_whose_answer_was_lost_is_found_not_repeated(
    sdk: SkytellsClient, emu: Emulator
) -> None:
    emu.add_fault("post_commit", path="/v1/predict", count=2)
    prediction = sdk.run("flux-pro", {"prompt": "a lighthouse"})  # await: true, answer lost
    assert prediction.status == "succeeded"
    state = emu.state()
    assert state["requests_by_endpoint"]["create"] == 1  # looked for in the listing instead
    assert state["requests_by_endpoint"]["list"] >= 1
    assert state["predictions_created"] == 1
    assert [p["id"] for p in emu.predictions()] == [prediction.id]


@pytest.mark.usefixtures("honour_idempotency")
def test_a_run_while_the_same_create_is_held_asks_again_until_it_is_answered(
    emu: Emulator,
) -> None:
    # A first run() with the key is held by `await`; a second run() with the same key answers
    # 409 IDEMPOTENCY_REQUEST_IN_PROGRESS until the first finishes, then gets it replayed.
    emu.configure(time_scale=0.05)  # flux-pro: about 0.5 s
    retry = {"retries": 2, "retry_delay": 20, "max_delay": 100}
    payload = {"prompt": "a lighthouse"}
    with SkytellsClient(emu.api_key, base_url=emu.base_url, retry=retry) as client:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(client.run, "flux-pro", payload, idempotency_key="held-key")
            held_by = time.monotonic() + 10
            while not emu.state()["predictions_created"]:  # the first create is being held
                assert time.monotonic() < held_by
                time.sleep(0.005)
            second = client.run("flux-pro", payload, idempotency_key="held-key")
            assert first.result().id == second.id and second.status == "succeeded"
    state = emu.state()
    assert state["predictions_created"] == 1 and state["requests_by_endpoint"]["create"] >= 3


@pytest.mark.parametrize(
    "concurrency",
    [32, 8],
    ids=["32 threads", "8 threads"],
)
def test_dispatch_under_30_percent_faults_creates_every_item_exactly_once(
    sdk: SkytellsClient, emu: Emulator, concurrency: int
) -> None:
    kinds = list(FAULTS.values())
    each = 1 - 0.7 ** (1 / len(kinds))  # 30% of requests faulted in all
    for seed, fault in enumerate(kinds):
        emu.add_fault(path="/v1/*", probability=each, seed=seed, **fault)
    client = sdk.with_options(max_retries=1)  # leftovers are likely: re-dispatch them
    payloads = [{"model": "flux-edge", "input": {"prompt": f"item {n}"}} for n in range(50)]
    for payload in payloads:
        client.queue(payload)
    created: list[dict[str, Any]] = []
    for _ in range(20):
        try:
            created += client.dispatch(concurrency=concurrency)
            break
        except DispatchError as error:
            created += error.created
    assert client.queued == 0
    assert len({p["id"] for p in created}) == len(created) == 50
    prompts = sorted(p["input"]["prompt"] for p in emu.predictions())
    assert prompts == sorted(p["input"]["prompt"] for p in payloads)  # none lost, none twice
    assert sum(rule["fired"] for rule in emu.faults()) > 0


def test_rate_limited_calls_wait_out_the_window_and_succeed(
    sdk: SkytellsClient, emu: Emulator
) -> None:
    emu.configure(rate_limit=2, rate_limit_window=0.3)
    for _ in range(5):
        assert sdk.models.list()
    state = emu.state()
    assert state["rate_limited"] >= 1  # 429s happened, and were waited out
    assert state["requests"] == 5 + state["rate_limited"]


def test_every_attempt_is_logged_at_debug_level(
    sdk: SkytellsClient, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    created = sdk.predictions.create(CREATE)
    emu.add_fault("drop", path="/v1/predictions/*", count=1)
    with caplog.at_level(logging.DEBUG, logger="skytells"):
        sdk.predictions.get(created["id"])
    lines = [r.getMessage() for r in caplog.records if r.name == "skytells"]
    path = f"/predictions/{created['id']}"
    assert f"GET {path} -> NETWORK_ERROR" in lines[0] and lines[0].endswith("(attempt 1)")
    assert any(line.startswith("retrying GET") for line in lines)
    assert f"GET {path} -> 200" in lines[-1] and lines[-1].endswith("(attempt 2)")
    assert not any(emu.api_key in line for line in lines)
