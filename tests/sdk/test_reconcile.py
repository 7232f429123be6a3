"""A create of unknown outcome is resolved by looking, over real sockets, idempotency keys off.

The emulator makes the prediction and then loses the answer (`post_commit`: dropped, reset,
hung until the client times out, or a gateway's 504; `truncate`: half a body): the SDK finds the
prediction in the listing and adopts it instead of creating a second one, through every entry
point, sync and async. Identical payloads sent on purpose stay distinct predictions, also when
two identical creates are in flight and only one answer is lost.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time as _time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from skytells import (
    APIConnectionError,
    APITimeoutError,
    AsyncSkytellsClient,
    CreateOutcomeUnknownError,
    DispatchError,
    SkytellsClient,
)
from skytells.emulator import Emulator
from tests.routed_server import DROP, RoutedServer
from tests.scripted_server import Reply, Seen

RETRY = {"retries": 2, "retry_delay": 5, "max_delay": 20}
SETTINGS: dict[str, Any] = {"timeout": 600, "await_hold": 300, "retry": RETRY}
MODEL = "flux-edge"

AMBIGUOUS: dict[str, dict[str, Any]] = {
    "reset after commit": {"kind": "post_commit", "then": "reset"},
    "dropped after commit": {"kind": "post_commit"},
    "timeout after write": {"kind": "post_commit", "then": "hang"},
    "truncated answer": {"kind": "truncate"},
    "504 after commit": {"kind": "post_commit", "status": 504},
}


def _payload(prompt: str) -> dict[str, Any]:
    return {"model": MODEL, "input": {"prompt": prompt}}


def _sync(emu: Emulator) -> SkytellsClient:
    return SkytellsClient(emu.api_key, base_url=emu.base_url, **SETTINGS)


def _async(emu: Emulator) -> AsyncSkytellsClient:
    return AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, **SETTINGS)


def _check_once(emu: Emulator, ids: list[str], fired: int = 1) -> None:
    """Every id returned exists, once; nothing else was made; the faults did fire."""
    on_server = [p["id"] for p in emu.predictions()]
    assert sorted(on_server) == sorted(ids) and len(set(ids)) == len(ids)
    assert sum(rule["fired"] for rule in emu.faults()) == fired
    assert emu.state()["requests_by_endpoint"]["list"] >= 1  # it looked


def _fault(emu: Emulator, fault: dict[str, Any], count: int = 1, **extra: Any) -> None:
    emu.add_fault(path="/v1/predict", method="POST", count=count, **fault, **extra)


# ── each ambiguous fault kind ─────────────────────────────────────────────


@pytest.mark.parametrize("fault", list(AMBIGUOUS))
def test_each_lost_answer_is_found_not_created_twice(emu: Emulator, fault: str) -> None:
    _fault(emu, AMBIGUOUS[fault])
    with _sync(emu) as client:
        created = client.predictions.create(_payload("a lighthouse"))
    _check_once(emu, [created["id"]])
    assert emu.state()["requests_by_endpoint"]["create"] == 1  # adopted, not sent again


@pytest.mark.anyio
@pytest.mark.parametrize("fault", list(AMBIGUOUS))
async def test_async_each_lost_answer_is_found_not_created_twice(emu: Emulator, fault: str) -> None:
    _fault(emu, AMBIGUOUS[fault])
    async with _async(emu) as client:
        created = await client.predictions.create(_payload("a lighthouse"))
    _check_once(emu, [created["id"]])
    assert emu.state()["requests_by_endpoint"]["create"] == 1


@pytest.mark.parametrize("fault", ["drop", "reset", "hang"])
def test_a_create_lost_before_the_server_made_it_is_sent_again(emu: Emulator, fault: str) -> None:
    _fault(emu, {"kind": fault})
    with _sync(emu) as client:
        created = client.predictions.create(_payload("a lighthouse"))
    _check_once(emu, [created["id"]])
    assert emu.state()["requests_by_endpoint"]["create"] == 1  # the second send: the first
    # never reached the API, so the emulator's count starts with the one that made it


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # nothing listens there now


def test_a_connection_never_made_sent_nothing_and_is_not_looked_for() -> None:
    with (
        SkytellsClient("sk-test", base_url=_closed_port(), retry=RETRY) as client,
        pytest.raises(APIConnectionError) as caught,
    ):
        client.predictions.create(_payload("x"))
    assert caught.value.request_sent is False  # refused: retried as usual, no listing, no doubt
    assert not isinstance(caught.value, APITimeoutError)


@pytest.mark.anyio
async def test_async_a_connection_never_made_is_not_looked_for() -> None:
    async with AsyncSkytellsClient("sk-test", base_url=_closed_port(), retry=RETRY) as client:
        with pytest.raises(APIConnectionError) as caught:
            await client.run(MODEL, {"prompt": "x"})
    assert caught.value.request_sent is False


# ── every entry point, sync and async ─────────────────────────────────────

SyncCall = Callable[[SkytellsClient, list[str]], list[str]]
AsyncCall = Callable[[AsyncSkytellsClient, list[str]], Awaitable[list[str]]]


def _create(client: SkytellsClient, prompts: list[str]) -> list[str]:
    return [client.predictions.create(_payload(p))["id"] for p in prompts]


def _predict(client: SkytellsClient, prompts: list[str]) -> list[str]:
    return [client.predict({**_payload(p), "await": True})["id"] for p in prompts]


def _run(client: SkytellsClient, prompts: list[str]) -> list[str]:
    results = [client.run(MODEL, {"prompt": p}) for p in prompts]
    assert all(r.status == "succeeded" for r in results)
    return [r.id for r in results]


def _dispatch(client: SkytellsClient, prompts: list[str]) -> list[str]:
    for prompt in prompts:
        client.queue(_payload(prompt))
    created = client.dispatch(concurrency=4)
    assert client.queued == 0
    return [p["id"] for p in created]


def _run_many(client: SkytellsClient, prompts: list[str]) -> list[str]:
    results = list(client.run_many([_payload(p) for p in prompts], concurrency=4))
    assert all(r.ok for r in results), [r.error for r in results]
    return [str(r.id) for r in results]


async def _acreate(client: AsyncSkytellsClient, prompts: list[str]) -> list[str]:
    return [(await client.predictions.create(_payload(p)))["id"] for p in prompts]


async def _apredict(client: AsyncSkytellsClient, prompts: list[str]) -> list[str]:
    return [(await client.predict({**_payload(p), "await": True}))["id"] for p in prompts]


async def _arun(client: AsyncSkytellsClient, prompts: list[str]) -> list[str]:
    results = [await client.run(MODEL, {"prompt": p}) for p in prompts]
    assert all(r.status == "succeeded" for r in results)
    return [r.id for r in results]


async def _adispatch(client: AsyncSkytellsClient, prompts: list[str]) -> list[str]:
    for prompt in prompts:
        client.queue(_payload(prompt))
    created = await client.dispatch(concurrency=4)
    assert client.queued == 0
    return [p["id"] for p in created]


async def _arun_many(client: AsyncSkytellsClient, prompts: list[str]) -> list[str]:
    results = [r async for r in client.run_many([_payload(p) for p in prompts], concurrency=4)]
    assert all(r.ok for r in results), [r.error for r in results]
    return [str(r.id) for r in results]


SYNC_CALLS: dict[str, SyncCall] = {
    "run": _run,
    "predictions.create": _create,
    "predict": _predict,
    "dispatch": _dispatch,
    "run_many": _run_many,
}
ASYNC_CALLS: dict[str, AsyncCall] = {
    "run": _arun,
    "predictions.create": _acreate,
    "predict": _apredict,
    "dispatch": _adispatch,
    "run_many": _arun_many,
}
PROMPTS = [f"distinct {n}" for n in range(6)]


@pytest.mark.parametrize("entry", list(SYNC_CALLS))
def test_every_entry_point_adopts_what_a_lost_create_made(emu: Emulator, entry: str) -> None:
    _fault(emu, AMBIGUOUS["reset after commit"], count=2)
    with _sync(emu) as client:
        ids = SYNC_CALLS[entry](client, PROMPTS)
    _check_once(emu, ids, fired=2)
    assert emu.state()["requests_by_endpoint"]["create"] == len(PROMPTS)


@pytest.mark.anyio
@pytest.mark.parametrize("entry", list(ASYNC_CALLS))
async def test_async_every_entry_point_adopts_what_a_lost_create_made(
    emu: Emulator, entry: str
) -> None:
    _fault(emu, AMBIGUOUS["reset after commit"], count=2)
    async with _async(emu) as client:
        ids = await ASYNC_CALLS[entry](client, PROMPTS)
    _check_once(emu, ids, fired=2)
    assert emu.state()["requests_by_endpoint"]["create"] == len(PROMPTS)


@pytest.mark.parametrize("entry", ["run", "predict"])
def test_a_held_create_that_times_out_adopts_the_prediction(emu: Emulator, entry: str) -> None:
    _fault(emu, AMBIGUOUS["timeout after write"])
    with _sync(emu) as client:
        ids = SYNC_CALLS[entry](client, ["held"])
    _check_once(emu, ids)


# ── identical payloads sent on purpose ────────────────────────────────────

SAME = ["the same prompt"] * 10


@pytest.mark.parametrize("entry", ["dispatch", "run_many", "predictions.create"])
def test_ten_identical_payloads_three_answers_lost_make_ten(emu: Emulator, entry: str) -> None:
    _fault(emu, AMBIGUOUS["reset after commit"], count=3)
    with _sync(emu) as client:
        ids = SYNC_CALLS[entry](client, SAME)
    assert len(ids) == 10
    _check_once(emu, ids, fired=3)


@pytest.mark.anyio
@pytest.mark.parametrize("entry", ["dispatch", "run_many", "predictions.create"])
async def test_async_ten_identical_payloads_three_answers_lost_make_ten(
    emu: Emulator, entry: str
) -> None:
    _fault(emu, AMBIGUOUS["dropped after commit"], count=3)
    async with _async(emu) as client:
        ids = await ASYNC_CALLS[entry](client, SAME)
    assert len(ids) == 10
    _check_once(emu, ids, fired=3)


def test_identical_payloads_one_after_another_are_not_adopted(emu: Emulator) -> None:
    with _sync(emu) as client:
        first = client.predictions.create(_payload("again"))
        _fault(emu, AMBIGUOUS["reset after commit"])
        emu.add_fault("status", status=503, method="POST", path="/v1/predict", count=1)
        # The reset one made a prediction; then a 503 that made none: adopt the made one only.
        second = client.predictions.create(_payload("again"))
        third = client.predictions.create(_payload("again"))
    ids = [first["id"], second["id"], third["id"]]
    on_server = [p["id"] for p in emu.predictions()]
    assert sorted(on_server) == sorted(ids) and len(set(ids)) == 3


def _race(emu: Emulator) -> dict[str, Any]:
    """The first create to arrive is made at once, its answer held 0.6 s (B, well within the
    client's timeout); the second is made and its answer lost (A). A's reconcile lists at once
    and sees B's prediction, the older one, unclaimed: it must wait for B to land. Returns the
    client settings."""
    emu.add_fault("late", method="POST", path="/v1/predict", latency_ms=600, count=1)
    emu.add_fault("post_commit", method="POST", path="/v1/predict", then="reset", count=1)
    return {**SETTINGS, "timeout": 10_000}


def test_a_lost_create_does_not_adopt_an_identical_one_still_in_flight(emu: Emulator) -> None:
    settings = _race(emu)
    with SkytellsClient(emu.api_key, base_url=emu.base_url, **settings) as client:
        ids = _run_many(client, ["twin", "twin"])
    assert len(set(ids)) == 2  # without waiting for B, A would adopt B's and both get one id
    _check_once(emu, ids, fired=2)
    assert emu.state()["requests_by_endpoint"]["create"] == 2


@pytest.mark.anyio
async def test_async_a_lost_create_does_not_adopt_an_identical_one_in_flight(
    emu: Emulator,
) -> None:
    settings = _race(emu)
    async with AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, **settings) as client:
        ids = await _adispatch(client, ["twin", "twin"])
    assert len(set(ids)) == 2
    _check_once(emu, ids, fired=2)
    assert emu.state()["requests_by_endpoint"]["create"] == 2


# ── the listing fails ─────────────────────────────────────────────────────


def test_a_failing_listing_is_retried(emu: Emulator) -> None:
    _fault(emu, AMBIGUOUS["reset after commit"])
    emu.add_fault(
        "status", status=429, retry_after=0.01, method="GET", path="/v1/predictions", count=1
    )
    emu.add_fault("reset", method="GET", path="/v1/predictions", count=1)
    with _sync(emu) as client:
        created = client.predictions.create(_payload("x"))
    _check_once(emu, [created["id"]], fired=3)


@pytest.mark.parametrize("listing", [{"kind": "status", "status": 503}, {"kind": "hang"}])
def test_a_listing_that_keeps_failing_never_creates_blind(
    emu: Emulator, listing: dict[str, Any]
) -> None:
    _fault(emu, AMBIGUOUS["reset after commit"])
    emu.add_fault(method="GET", path="/v1/predictions", retry_after=0.01, **listing)
    with _sync(emu) as client, pytest.raises(CreateOutcomeUnknownError) as caught:
        client.predictions.create(_payload("x"), idempotency_key="key-9")
    assert caught.value.idempotency_key == "key-9" and "key-9" in str(caught.value)
    assert len(emu.predictions()) == 1  # the one the lost create made, not a second
    assert emu.state()["requests_by_endpoint"]["create"] == 1


@pytest.mark.anyio
async def test_async_a_listing_that_keeps_failing_never_creates_blind(emu: Emulator) -> None:
    _fault(emu, AMBIGUOUS["reset after commit"])
    emu.add_fault("status", status=500, method="GET", path="/v1/predictions")
    async with _async(emu) as client:
        with pytest.raises(CreateOutcomeUnknownError):
            await client.run(MODEL, {"prompt": "x"})
    assert len(emu.predictions()) == 1


def test_a_dispatch_that_could_not_tell_looks_again_before_sending(emu: Emulator) -> None:
    # The listing fails through the first dispatch: the lost creates stay queued, unknown. The
    # second dispatch looks for them first and adopts what they made.
    _fault(emu, AMBIGUOUS["reset after commit"], count=2)
    emu.add_fault("status", status=503, method="GET", path="/v1/predictions")
    with _sync(emu) as client:
        for prompt in PROMPTS:
            client.queue(_payload(prompt))
        with pytest.raises(DispatchError) as caught:
            client.dispatch(concurrency=2)
        assert len(caught.value.created) == len(PROMPTS) - 2 and client.queued == 2
        assert all(isinstance(error, CreateOutcomeUnknownError) for _, error in caught.value.failed)
        emu.clear_faults()
        created = client.dispatch()
    ids = [p["id"] for p in caught.value.created + created]
    on_server = [p["id"] for p in emu.predictions()]
    assert sorted(on_server) == sorted(ids) and len(set(ids)) == len(PROMPTS)
    assert emu.state()["requests_by_endpoint"]["create"] == len(PROMPTS)  # none sent twice


@pytest.mark.anyio
async def test_async_a_dispatch_that_could_not_tell_looks_again_before_sending(
    emu: Emulator,
) -> None:
    _fault(emu, AMBIGUOUS["timeout after write"], count=1)
    emu.add_fault("hang", method="GET", path="/v1/predictions")
    async with _async(emu) as client:
        client.queue(_payload("only"))
        with pytest.raises(DispatchError):
            await client.dispatch()
        emu.clear_faults()
        (created,) = await client.dispatch()
    assert [p["id"] for p in emu.predictions()] == [created["id"]]
    assert emu.state()["requests_by_endpoint"]["create"] == 1


# ── what the server echoes: numbers, Unicode, nesting, the model's shape ──

SENT_INPUT = {
    "prompt": "café ☕ 東京 \u00e9\u0301",
    "guidance": 3.5,
    "steps": 20,
    "weights": [[1, 2.5], [-0.0, 1e-7], []],
    "options": {"b": True, "a": None, "nested": {"list": ["x", 1]}},
}
ECHOED_INPUT = (  # another key order, 20 as 20.0, the same numbers written otherwise
    '{"options":{"nested":{"list":["x",1.0]},"a":null,"b":true},'
    '"weights":[[1.0,2.5],[0,1E-7],[]],"steps":20.0,"guidance":3.50,'
    '"prompt":"caf\\u00e9 \\u2615 \\u6771\\u4eac \\u00e9\\u0301"}'
)


def _echoing(model: str, input_json: str) -> Callable[[Seen, int], Reply]:
    """A service that makes the prediction, drops the answer, and lists it as it stored it."""
    made: list[str] = []

    def route(seen: Seen, number: int) -> Reply:
        if seen.method == "POST":
            made.append(dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"))
            return DROP
        items = [
            f'{{"id":"pred_{n}","status":"processing","model":{model},'
            f'"input":{input_json},"created_at":"{when}"}}'
            for n, when in reversed(list(enumerate(made)))
        ]
        pagination = '"pagination":{"current_page":1,"last_page":1}'
        return Reply(body=('{"data":[' + ",".join(items) + "]," + pagination + "}").encode())

    return route


@pytest.mark.parametrize(
    "model", ['"flux-edge"', '{"name":"flux-edge","type":"image"}'], ids=["string", "object"]
)
def test_the_echoed_input_matches_as_the_same_json_value(model: str) -> None:
    with (
        RoutedServer(_echoing(model, ECHOED_INPUT)).running() as server,
        SkytellsClient("sk-test", base_url=server.base_url, **SETTINGS) as client,
    ):
        created = client.predictions.create({"model": MODEL, "input": SENT_INPUT})
    assert created["id"] == "pred_0"
    assert [r.method for r in server.requests] == ["POST", "GET"]
    assert json.loads(server.requests[0].body)["input"] == SENT_INPUT


@pytest.mark.parametrize(
    "echoed",
    [
        ECHOED_INPUT.replace('"steps":20.0', '"steps":21'),
        ECHOED_INPUT.replace('"b":true', '"b":1'),
        ECHOED_INPUT.replace("\\u00e9\\u0301", "\\u00e9"),  # normalised: not what was sent
        ECHOED_INPUT.replace("[[1.0,2.5]", "[[2.5,1.0]"),
    ],
    ids=["number", "bool-as-1", "unicode-normalised", "list-order"],
)
def test_a_different_echo_is_not_adopted_and_the_create_is_sent_again(echoed: str) -> None:
    route = _echoing('"flux-edge"', echoed)

    def then_answer(seen: Seen, number: int) -> Reply:
        if seen.method == "POST" and number > 1:
            return Reply(body={"id": "pred_new", "status": "starting", "input": SENT_INPUT})
        return route(seen, number)

    with (
        RoutedServer(then_answer).running() as server,
        SkytellsClient("sk-test", base_url=server.base_url, **SETTINGS) as client,
    ):
        created = client.predictions.create({"model": MODEL, "input": SENT_INPUT})
    assert created["id"] == "pred_new"
    # Not found, looked for again after a pause (a listing may be late), then sent again.
    assert [r.method for r in server.requests] == ["POST", "GET", "GET", "POST"]


def test_the_listing_shows_the_model_as_a_string(emu: Emulator) -> None:
    emu.configure(variants=["model_string"])
    _fault(emu, AMBIGUOUS["reset after commit"])
    with _sync(emu) as client:
        created = client.predictions.create(_payload("x"))
    _check_once(emu, [created["id"]])


# ── keys are still sent ───────────────────────────────────────────────────


@pytest.mark.usefixtures("honour_idempotency")
def test_keys_are_still_sent_and_a_server_that_honours_them_agrees(emu: Emulator) -> None:
    _fault(emu, AMBIGUOUS["reset after commit"])
    emu.add_fault("status", status=503, method="GET", path="/v1/predictions")  # no listing
    with _sync(emu) as client, pytest.raises(CreateOutcomeUnknownError) as caught:
        client.predictions.create(_payload("x"), idempotency_key="key-1")
    emu.clear_faults()
    with _sync(emu) as client:  # the key recovers it where the server honours keys
        again = client.predictions.create(_payload("x"), idempotency_key="key-1")
    assert caught.value.idempotency_key == "key-1"
    assert [p["id"] for p in emu.predictions()] == [again["id"]]


# ── file inputs: the data: URI is recognised by its digest ───────────────


def _png(size: tuple[int, int], colour: tuple[int, int, int]) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("fault", ["reset after commit", "timeout after write"])
def test_a_lost_create_with_a_file_input_is_found_by_the_files_digest(
    emu: Emulator, fault: str
) -> None:
    # An identical prompt with another image already exists: only the same file may match.
    with _sync(emu) as client:
        other = client.predictions.create(
            {
                "model": "truefusion-pro",
                "input": {"prompt": "p", "image": _png((9, 9), (0, 0, 255))},
            }
        )
        _fault(emu, AMBIGUOUS[fault])
        created = client.predictions.create(
            {
                "model": "truefusion-pro",
                "input": {"prompt": "p", "image": _png((64, 48), (255, 0, 0))},
            }
        )
    assert created["id"] != other["id"]
    _check_once(emu, [other["id"], created["id"]])
    assert emu.state()["requests_by_endpoint"]["create"] == 2  # adopted, not sent again


@pytest.mark.anyio
async def test_async_a_lost_create_with_a_file_input_is_found_by_the_files_digest(
    emu: Emulator,
) -> None:
    _fault(emu, AMBIGUOUS["reset after commit"])
    async with _async(emu) as client:
        created = await client.predictions.create(
            {
                "model": "truefusion-pro",
                "input": {"prompt": "p", "image": _png((64, 48), (0, 255, 0))},
            }
        )
    _check_once(emu, [created["id"]])
    assert emu.state()["requests_by_endpoint"]["create"] == 1


# ── the server's clock and a listing that lags ────────────────────────────


class _SkewedTime:
    """The ``time`` module as an SDK module sees it, its wall clock ``skew`` seconds off."""

    def __init__(self, skew: float) -> None:
        self.skew = skew

    def time(self) -> float:
        return _time.time() + self.skew

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


@pytest.fixture(params=[120.0, -120.0], ids=["ahead", "behind"])
def client_clock_off(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> float:
    """This machine's clock, as the SDK reads it (not the emulator), two minutes off."""
    from skytells._clients import batch_engine
    from skytells._io import async_driver, effects

    skewed = _SkewedTime(request.param)
    for module in (effects, async_driver, batch_engine):
        monkeypatch.setattr(module, "time", skewed)
    return float(request.param)


def test_a_client_clock_two_minutes_off_still_finds_what_its_creates_made(
    emu: Emulator, client_clock_off: float, tmp_path: Any
) -> None:
    """The window is read on the server's clock (the answers' ``Date``): the lost creates of a
    client two minutes ahead are found, not made again (an assumed 60 s allowance missed them:
    a duplicate per lost answer)."""
    _fault(emu, AMBIGUOUS["reset after commit"], count=3)
    with _sync(emu) as client:
        first = client.predictions.create(_payload("skewed 0"))
        requests = tmp_path / "requests.jsonl"
        lines = [
            {"custom_id": f"r{n}", "model": MODEL, "input": {"prompt": f"skewed {n}"}}
            for n in range(1, 7)
        ]
        requests.write_text("".join(json.dumps(line) + "\n" for line in lines))
        status = client.batch(requests, tmp_path / "results.jsonl").run()
    assert status.done == 6
    results = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    _check_once(emu, [first["id"]] + [line["id"] for line in results], fired=3)


@pytest.mark.anyio
async def test_async_a_client_clock_two_minutes_off_still_finds_what_its_create_made(
    emu: Emulator, client_clock_off: float
) -> None:
    _fault(emu, AMBIGUOUS["dropped after commit"], count=2)
    async with _async(emu) as client:
        ids = [(await client.predictions.create(_payload(f"skewed {n}")))["id"] for n in range(3)]
    _check_once(emu, ids, fired=2)


def _lagging(lag: float) -> Callable[[Seen, int], Reply]:
    """A service that makes the prediction, drops the first create's answer, and lists each
    prediction only ``lag`` seconds after it was made."""
    made: list[tuple[float, str]] = []

    def route(seen: Seen, number: int) -> Reply:
        if seen.method == "POST":
            now = dt.datetime.now(dt.timezone.utc)
            made.append((_time.monotonic(), now.isoformat().replace("+00:00", "Z")))
            if len(made) == 1:
                return DROP
            return Reply(body={"id": f"pred_{len(made) - 1}", "status": "starting"})
        shown = [
            f'{{"id":"pred_{n}","status":"processing","model":"{MODEL}",'
            f'"input":{{"prompt":"lag"}},"created_at":"{when}"}}'
            for n, (at, when) in reversed(list(enumerate(made)))
            if _time.monotonic() - at >= lag
        ]
        pagination = '"pagination":{"current_page":1,"last_page":1}'
        return Reply(body=('{"data":[' + ",".join(shown) + "]," + pagination + "}").encode())

    return route


def test_a_lost_answer_is_looked_for_again_when_the_listing_lags() -> None:
    """The answer dropped (not a timeout) and the listing shows the prediction half a second
    late: the second look after the settle pause finds it (before, a duplicate was made)."""
    with (
        RoutedServer(_lagging(0.5)).running() as server,
        SkytellsClient("sk-test", base_url=server.base_url, **SETTINGS) as client,
    ):
        created = client.predictions.create(_payload("lag"))
    assert created["id"] == "pred_0"
    assert [r.method for r in server.requests] == ["POST", "GET", "GET"]


@pytest.mark.anyio
async def test_async_a_lost_answer_is_looked_for_again_when_the_listing_lags() -> None:
    with RoutedServer(_lagging(0.5)).running() as server:
        async with AsyncSkytellsClient("sk-test", base_url=server.base_url, **SETTINGS) as client:
            created = await client.predictions.create(_payload("lag"))
    assert created["id"] == "pred_0"
    assert [r.method for r in server.requests] == ["POST", "GET", "GET"]
