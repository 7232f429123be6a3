"""Held creates, requests whose answer was lost, and settings changed after construction.

A create held by ``await: true`` gets a deadline that covers the hold; a create whose outcome is
unknown is resolved or reported as such (never as invalid input); a retried cancel or delete that
finds its work already done succeeds; `with_options()` checks what the constructor checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from skytells import (
    AsyncSkytellsClient,
    CreateOutcomeUnknownError,
    NotFoundError,
    SkytellsClient,
    SkytellsError,
    ValidationError,
)
from skytells.emulator import Emulator
from tests.routed_server import DROP, RoutedServer
from tests.scripted_server import Reply, Seen, prediction

RETRY = {"retries": 2, "retry_delay": 5, "max_delay": 20}
IN_PROGRESS = Reply(
    409,
    {
        "error": {
            "http_status": 409,
            "message": "A request with this Idempotency-Key is still being processed; retry later",
            "error_id": "IDEMPOTENCY_REQUEST_IN_PROGRESS",
        }
    },
)


@pytest.fixture
def slow_hold(emu: Emulator) -> Emulator:
    """flux-pro takes about 2.5 s; a held create is answered after 1 s (still running)."""
    emu.configure(time_scale=0.25, await_limit=1.0)
    return emu


# ── item 11: a create held longer than the client's timeout ─────────────────


def test_run_outlasting_the_timeout_is_answered_by_the_hold_not_retried(
    slow_hold: Emulator,
) -> None:
    # The hold (1 s) outlasts the timeout (0.5 s): the held create's deadline covers it.
    with SkytellsClient(slow_hold.api_key, base_url=slow_hold.base_url, timeout=500) as client:
        result = client.run("flux-pro", {"prompt": "a lighthouse"})
    assert result.status == "succeeded"
    state = slow_hold.state()
    assert state["requests_by_endpoint"]["create"] == 1  # no retry raced the hold
    assert state["predictions_created"] == 1


@pytest.mark.anyio
async def test_async_run_outlasting_the_timeout_is_answered_by_the_hold(
    slow_hold: Emulator,
) -> None:
    async with AsyncSkytellsClient(
        slow_hold.api_key, base_url=slow_hold.base_url, timeout=500
    ) as client:
        result = await client.run("flux-pro", {"prompt": "a lighthouse"})
    assert result.status == "succeeded"
    state = slow_hold.state()
    assert state["requests_by_endpoint"]["create"] == 1
    assert state["predictions_created"] == 1


def test_predict_with_await_is_a_held_create_too(slow_hold: Emulator) -> None:
    payload = {"model": "flux-pro", "input": {"prompt": "x"}, "await": True}
    with SkytellsClient(slow_hold.api_key, base_url=slow_hold.base_url, timeout=500) as client:
        held = client.predict(payload)  # answered when the 1 s hold ends, still running
    assert held["status"] not in ("succeeded", "failed", "cancelled")
    assert slow_hold.state()["requests_by_endpoint"]["create"] == 1


@pytest.mark.anyio
async def test_async_predict_with_await_is_a_held_create_too(slow_hold: Emulator) -> None:
    payload = {"model": "flux-pro", "input": {"prompt": "x"}, "await": True}
    async with AsyncSkytellsClient(
        slow_hold.api_key, base_url=slow_hold.base_url, timeout=500
    ) as client:
        held = await client.predict(payload)
    assert held["status"] not in ("succeeded", "failed", "cancelled")
    assert slow_hold.state()["requests_by_endpoint"]["create"] == 1


def _in_progress_then_created(seen: Seen, number: int) -> Reply:
    """Three answers 'still in progress' (more than the retry budget), then the prediction."""
    if seen.method == "POST":
        return IN_PROGRESS if number <= 3 else Reply(body=prediction("processing"))
    return Reply(body=prediction("succeeded", output=["https://cdn.example/x.png"]))


@pytest.fixture
def in_progress() -> Iterator[RoutedServer]:
    with RoutedServer(_in_progress_then_created).running() as server:
        yield server


def _check_asked_again(server: RoutedServer, key: str) -> None:
    posts = [r for r in server.requests if r.method == "POST"]
    assert len(posts) == 4 and server.count("GET") == 1
    assert {r.headers["idempotency-key"] for r in posts} == {key}  # asked again, same key
    assert len({r.body for r in posts}) == 1 and json.loads(posts[0].body)["await"] is True


def test_run_asks_again_while_the_server_says_the_create_is_in_progress(
    in_progress: RoutedServer,
) -> None:
    with SkytellsClient("sk-test", base_url=in_progress.base_url, retry=RETRY) as client:
        result = client.run("flux-pro", {"prompt": "x"}, idempotency_key="key-1")
    assert result.status == "succeeded"
    _check_asked_again(in_progress, "key-1")


@pytest.mark.anyio
async def test_async_run_asks_again_while_the_create_is_in_progress(
    in_progress: RoutedServer,
) -> None:
    async with AsyncSkytellsClient("sk-test", base_url=in_progress.base_url, retry=RETRY) as client:
        result = await client.run("flux-pro", {"prompt": "x"}, idempotency_key="key-1")
    assert result.status == "succeeded"
    _check_asked_again(in_progress, "key-1")


def _always_in_progress(seen: Seen, number: int) -> Reply:
    return IN_PROGRESS


def test_a_direct_create_in_progress_is_not_invalid_input() -> None:
    with (
        RoutedServer(_always_in_progress).running() as server,
        SkytellsClient("sk-test", base_url=server.base_url, retry=RETRY) as client,
    ):
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            client.predictions.create(
                {"model": "flux-pro", "input": {"prompt": "x"}}, idempotency_key="k-9"
            )
    assert not isinstance(caught.value, ValidationError)
    assert caught.value.error_id == "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    assert caught.value.idempotency_key == "k-9" and caught.value.http_status == 409


def _held_too_long(seen: Seen, number: int) -> Reply:
    return Reply(body=prediction("succeeded"), delay=3.0)


@pytest.fixture
def held_too_long() -> Iterator[RoutedServer]:
    with RoutedServer(_held_too_long).running() as server:
        yield server


def _check_unknown(error: CreateOutcomeUnknownError, server: RoutedServer) -> None:
    assert not isinstance(error, ValidationError)
    assert error.error_id == "CREATE_OUTCOME_UNKNOWN"
    assert error.idempotency_key == "key-2" and "key-2" in str(error)
    assert error.details["idempotency_key"] == "key-2"
    assert server.count("POST") == 1  # not sent again blindly: that could start a second one


def test_a_hold_past_timeout_plus_hold_allowance_is_an_unknown_outcome(
    held_too_long: RoutedServer,
) -> None:
    with SkytellsClient(
        "sk-test", base_url=held_too_long.base_url, timeout=200, await_hold=300, retry=RETRY
    ) as client:
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            client.run("flux-pro", {"prompt": "x"}, idempotency_key="key-2")
    _check_unknown(caught.value, held_too_long)


@pytest.mark.anyio
async def test_async_hold_past_the_deadline_is_an_unknown_outcome(
    held_too_long: RoutedServer,
) -> None:
    async with AsyncSkytellsClient(
        "sk-test", base_url=held_too_long.base_url, timeout=200, await_hold=300, retry=RETRY
    ) as client:
        with pytest.raises(CreateOutcomeUnknownError) as caught:
            await client.run("flux-pro", {"prompt": "x"}, idempotency_key="key-2")
    _check_unknown(caught.value, held_too_long)


# ── item 12: a retried cancel or delete whose first attempt worked ──────────


@pytest.fixture
def lossy(emu: Emulator) -> Emulator:
    """Predictions run long enough to cancel; fast retries."""
    emu.configure(time_scale=1.0)
    return emu


def _sdk(emu: Emulator) -> SkytellsClient:
    return SkytellsClient(emu.api_key, base_url=emu.base_url, retry=RETRY)


def test_a_cancel_whose_answer_was_lost_succeeds_on_retry(lossy: Emulator) -> None:
    with _sdk(lossy) as client:
        created = client.predictions.create({"model": "flux-pro", "input": {"prompt": "x"}})
        lossy.add_fault("post_commit", path="/v1/predictions/*/cancel", count=1)
        cancelled = client.cancel_prediction(created["id"])  # done, answer lost, retry: 409
    assert cancelled["id"] == created["id"] and cancelled["status"] == "cancelled"
    assert lossy.faults()[0]["fired"] == 1
    assert lossy.state()["requests_by_endpoint"]["cancel"] == 2


@pytest.mark.anyio
async def test_async_cancel_whose_answer_was_lost_succeeds_on_retry(lossy: Emulator) -> None:
    async with AsyncSkytellsClient(lossy.api_key, base_url=lossy.base_url, retry=RETRY) as client:
        created = await client.predictions.create({"model": "flux-pro", "input": {"prompt": "x"}})
        lossy.add_fault("post_commit", path="/v1/predictions/*/cancel", count=1)
        cancelled = await client.cancel_prediction(created["id"])
    assert cancelled["status"] == "cancelled"
    assert lossy.state()["requests_by_endpoint"]["cancel"] == 2


def test_a_cancel_that_was_not_needed_still_raises_on_the_first_attempt(lossy: Emulator) -> None:
    with _sdk(lossy) as client:
        created = client.predictions.create({"model": "flux-pro", "input": {"prompt": "x"}})
        client.cancel_prediction(created["id"])
        with pytest.raises(ValidationError):  # really already cancelled: not our retry's echo
            client.cancel_prediction(created["id"])


def test_a_delete_whose_answer_was_lost_succeeds_on_retry(lossy: Emulator) -> None:
    with _sdk(lossy) as client:
        created = client.predictions.create({"model": "flux-pro", "input": {"prompt": "x"}})
        lossy.add_fault("post_commit", path="/v1/predictions/*/delete", count=1)
        deleted = client.delete_prediction(created["id"])  # done, answer lost, retry: unknown id
        assert deleted["id"] == created["id"] and deleted["deleted"] is True
        assert lossy.predictions() == []
        with pytest.raises(NotFoundError):  # a first attempt on an unknown id still raises
            client.delete_prediction(created["id"])


@pytest.mark.anyio
async def test_async_delete_whose_answer_was_lost_succeeds_on_retry(lossy: Emulator) -> None:
    async with AsyncSkytellsClient(lossy.api_key, base_url=lossy.base_url, retry=RETRY) as client:
        created = await client.predictions.create({"model": "flux-pro", "input": {"prompt": "x"}})
        lossy.add_fault("post_commit", path="/v1/predictions/*/delete", count=1)
        deleted = await client.delete_prediction(created["id"])
    assert deleted["deleted"] is True and lossy.predictions() == []


def _cancel_lost_then_done(seen: Seen, number: int) -> Reply:
    if seen.method == "POST" and number == 1:
        return DROP  # the cancel happened; its answer never came
    if seen.method == "POST":
        return Reply(409, {"error_id": "INVALID_REQUEST", "message": "already cancelled"})
    return Reply(body=prediction("canceled"))


def test_a_retried_cancel_on_a_raw_server_looks_the_prediction_up() -> None:
    with (
        RoutedServer(_cancel_lost_then_done).running() as server,
        SkytellsClient("sk-test", base_url=server.base_url, retry=RETRY) as client,
    ):
        cancelled = client.cancel_prediction("pred_abc123")
    assert cancelled["status"] == "canceled"
    assert [r.method for r in server.requests] == ["POST", "POST", "GET"]


# ── item 16: with_options() checks what the constructor checks ─────────────


@pytest.mark.parametrize(
    "change",
    [
        {"timeout": 0},
        {"timeout": -5},
        {"timeout": float("nan")},
        {"timeout": "60000"},
        {"max_retries": -1},
        {"max_retries": 1.5},
        {"await_hold": -1},
    ],
    ids=repr,
)
def test_with_options_refuses_what_the_constructor_refuses(
    client: SkytellsClient, emu: Emulator, change: dict[str, Any]
) -> None:
    with pytest.raises(SkytellsError) as built:
        SkytellsClient(emu.api_key, base_url=emu.base_url, **change)
    with pytest.raises(SkytellsError) as derived:
        client.with_options(**change)
    assert derived.value.error_id == built.value.error_id == "INVALID_PARAMETER"
    assert emu.state()["requests"] == 0


@pytest.mark.anyio
async def test_async_with_options_refuses_a_zero_timeout(
    aclient: AsyncSkytellsClient, emu: Emulator
) -> None:
    with pytest.raises(SkytellsError) as caught:
        aclient.with_options(timeout=0)
    assert caught.value.error_id == "INVALID_PARAMETER"
    faster = aclient.with_options(timeout=5000, max_retries=0)
    assert (await faster.models.list()) and faster.max_retries == 0
    assert emu.state()["requests"] == 1
