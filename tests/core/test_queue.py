"""`queue`: `dispatch()` bookkeeping: nothing created is lost, nothing created twice."""

from __future__ import annotations

import threading

import pytest

import skytells
from skytells._core.queue import PredictionQueue, note_interrupted


def test_settle_removes_what_was_created_and_keeps_the_rest_with_their_keys() -> None:
    queue = PredictionQueue()
    queue.add({"model": "a"})
    queue.add({"model": "b"})
    items = queue.snapshot()
    error = skytells.ServerError("busy", "SERVICE_UNAVAILABLE", None, 503)
    with pytest.raises(skytells.DispatchError) as info:
        queue.settle(items, [{"id": "p1"}, error])
    assert info.value.created == [{"id": "p1"}]
    assert [item.payload for item in queue.snapshot()] == [{"model": "b"}]
    assert queue.snapshot()[0].idempotency_key == items[1].idempotency_key  # reused next time
    assert queue.settle(queue.snapshot(), [{"id": "p2"}]) == [{"id": "p2"}]
    assert len(queue) == 0


def test_an_item_queued_during_a_dispatch_stays_queued() -> None:
    queue = PredictionQueue()
    queue.add({"model": "a"})
    items = queue.snapshot()
    queue.add({"model": "late"})
    queue.settle(items, [{"id": "p1"}])
    assert [item.payload for item in queue.snapshot()] == [{"model": "late"}]
    assert queue.clear() == [{"model": "late"}] and len(queue) == 0


def test_threads_queueing_at_once_lose_nothing() -> None:
    queue = PredictionQueue()

    def add(n: int) -> None:
        for i in range(500):
            queue.add({"n": n, "i": i})

    threads = [threading.Thread(target=add, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(queue) == 2000 and len(queue.clear()) == 2000


def test_an_interrupted_dispatch_gets_a_note(caplog: pytest.LogCaptureFixture) -> None:
    interrupt = KeyboardInterrupt()
    note_interrupted(interrupt, 3)
    assert "its 3 requests stay queued" in caplog.text


def test_a_dispatch_claims_its_items_so_another_at_once_sends_none_of_them_again() -> None:
    queue = PredictionQueue()
    for name in "abc":
        queue.add({"model": name})
    first = queue.take()
    assert queue.take() == [] and len(queue) == 0  # a second dispatch meanwhile: nothing
    queue.add({"model": "late"})
    error = skytells.ServerError("busy", "SERVICE_UNAVAILABLE", None, 503)
    with pytest.raises(skytells.DispatchError):
        queue.settle(first, [{"id": "p1"}, error, {"id": "p3"}])
    # The failed one is back, in its place (before the late one), with its key.
    assert [item.payload["model"] for item in queue.snapshot()] == ["b", "late"]
    assert queue.snapshot()[0].idempotency_key == first[1].idempotency_key


def test_claimed_items_that_were_never_settled_go_back_in_their_place() -> None:
    queue = PredictionQueue()
    for name in "ab":
        queue.add({"model": name})
    taken = queue.take()
    queue.add({"model": "c"})
    queue.release(taken)  # an interrupted dispatch
    assert [item.payload["model"] for item in queue.snapshot()] == ["a", "b", "c"]
    queue.release(taken)  # twice: nothing more
    assert len(queue) == 3


def test_clearing_the_queue_during_a_dispatch_drops_what_it_is_sending_too() -> None:
    queue = PredictionQueue()
    for name in "ab":
        queue.add({"model": name})
    taken = queue.take()
    assert queue.clear() == [{"model": "a"}, {"model": "b"}]
    error = skytells.ServerError("busy", "SERVICE_UNAVAILABLE", None, 503)
    with pytest.raises(skytells.DispatchError):
        queue.settle(taken, [error, error])
    assert len(queue) == 0  # what the user cleared does not come back
