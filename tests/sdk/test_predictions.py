"""Predictions against the emulator: lifecycle outcomes, waiting, dispatch, errors, listing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import skytells
from skytells import Prediction, SkytellsClient
from tests.scripted_server import Reply, ScriptedServer, prediction

pytestmark = pytest.mark.both_clients  # the default client and an http_client= one


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (None, None),
        ("https://x/a.png", "https://x/a.png"),
        (["https://x/a.png"], "https://x/a.png"),
        (["a", "b"], ["a", "b"]),
        ([], []),
    ],
)
def test_outputs_table_of_the_seed(output: Any, expected: Any) -> None:
    p = Prediction(None, {"id": "p", "status": "succeeded", "output": output})  # type: ignore[arg-type]
    assert p.outputs() == expected
    assert p.output == output


def test_failed_prediction_raises_with_the_prediction(client: SkytellsClient, emu: Any) -> None:
    emu.fail_next(count=1, message="NSFW content detected.")
    with pytest.raises(skytells.PredictionFailedError) as info:
        client.run("flux-pro", input={"prompt": "x"})
    error = info.value
    assert error.error_id == "PREDICTION_FAILED"
    assert str(error) == "NSFW content detected."
    assert error.prediction is not None and error.prediction["status"] == "failed"
    assert error.prediction_id == error.prediction["id"]
    # nothing is lost: the failed prediction can still be fetched by its id
    assert client.predictions.get(error.prediction_id)["error"] == "NSFW content detected."


def test_failed_prediction_in_background_run(client: SkytellsClient, emu: Any) -> None:
    emu.fail_next(count=1, model="truefusion", message="Input resolution too high.")
    with pytest.raises(skytells.PredictionFailedError, match="resolution"):
        client.run("truefusion", input={"prompt": "x"}, on_progress=lambda p: None)


def test_wait_accepts_dict_prediction_or_id(client: SkytellsClient) -> None:
    bg = client.predictions.create({"model": "flux-pro", "input": {"prompt": "x"}})
    assert client.wait(bg["id"])["status"] == "succeeded"
    assert client.wait(bg)["id"] == bg["id"]
    done = client.run("flux-pro", input={"prompt": "y"})
    assert client.wait(done)["id"] == done.id


def test_first_check_is_immediate(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    # max_wait is shorter than one interval: only an immediate first check can succeed.
    scripted.script(Reply(200, prediction("succeeded")))
    pending = prediction("pending")
    result = scripted_client.wait(pending, {"interval": 5000, "max_wait": 1000})
    assert result["status"] == "succeeded"
    assert len(scripted.requests) == 1


def test_a_terminal_dict_needs_no_request(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    assert scripted_client.wait(prediction("failed"))["status"] == "failed"
    assert scripted.requests == []


def test_max_wait_raises_wait_timeout_with_the_id(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)  # mera takes about a minute
    bg = client.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    with pytest.raises(skytells.WaitTimeoutError) as info:
        client.wait(bg, {"interval": 100, "max_wait": 300})
    assert info.value.error_id == "WAIT_TIMEOUT"
    assert info.value.prediction_id == bg["id"]
    assert bg["id"] in str(info.value)
    assert client.predictions.get(bg["id"])["status"] not in skytells.TERMINAL_STATUSES


def test_run_deadline_can_cancel_on_the_server(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    with pytest.raises(skytells.WaitTimeoutError) as info:
        client.run("mera", input={"prompt": "x"}, max_wait=200, cancel_on_timeout=True)
    prediction_id = info.value.prediction_id
    assert prediction_id
    assert client.predictions.get(prediction_id)["status"] == "cancelled"


def test_cancel_running_then_cancel_again(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    bg = client.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    cancelled = client.cancel_prediction(bg["id"])
    assert cancelled["status"] == "cancelled"
    with pytest.raises(skytells.SkytellsError) as info:
        client.cancel_prediction(bg["id"])
    assert "cancel" in str(info.value).lower()
    assert 400 <= info.value.http_status < 500


def test_prediction_object_lifecycle_methods(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    bg = client.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    p = Prediction(client, bg)
    assert p.refresh() is p and p.status in ("pending", "starting", "processing")
    p.cancel()
    assert p.status == "cancelled"
    assert p.wait() is p and p.status == "cancelled"
    p.delete()
    with pytest.raises(skytells.NotFoundError):
        p.refresh()


def test_run_of_a_cancelled_prediction_raises(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    bg = client.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    client.cancel_prediction(bg["id"])
    with pytest.raises(skytells.PredictionCancelledError):
        skytells._core.running.check_outcome(client.wait(bg))


def test_delete_then_get_is_unknown(client: SkytellsClient) -> None:
    done = client.run("flux-pro", input={"prompt": "x"})
    client.delete_prediction(done.id)
    with pytest.raises(skytells.NotFoundError) as info:
        client.predictions.get(done.id)
    assert (info.value.error_id, info.value.http_status) == ("PREDICTION_FAILED", 502)


def test_dispatch_many_in_queue_order(client: SkytellsClient) -> None:
    for i in range(40):
        client.queue(skytells.PredictionRequest("flux-edge", {"prompt": f"n{i}"}))
    results = client.dispatch(concurrency=8)
    assert [r["input"]["prompt"] for r in results] == [f"n{i}" for i in range(40)]
    assert len({r["id"] for r in results}) == 40


@pytest.mark.parametrize(
    ("payload", "error_id", "status"),
    [
        ({"input": {"prompt": "x"}}, "VALIDATION_ERROR", 422),
        ({"model": "flux-pro"}, "VALIDATION_ERROR", 422),
        ({"model": "nope", "input": {"prompt": "x"}}, "MODEL_NOT_FOUND", 404),
        ({"model": "flux-pro", "input": {"num_outputs": 9}}, "INVALID_INPUT", 422),
    ],
)
def test_create_errors(
    client: SkytellsClient, payload: dict[str, Any], error_id: str, status: int
) -> None:
    with pytest.raises(skytells.SkytellsError) as info:
        client.predict(payload)
    assert (info.value.error_id, info.value.http_status) == (error_id, status)


def test_invalid_input_names_each_field(client: SkytellsClient) -> None:
    with pytest.raises(skytells.ValidationError) as info:
        client.run("truefusion-pro", input={"num_outputs": 9, "output_format": "gif"})
    details = str(info.value.details)
    assert "prompt" in details and "num_outputs" in details and "output_format" in details


@pytest.mark.parametrize(
    ("kwargs", "error_id"),
    [
        ({"since": "2026-13-01"}, "INVALID_DATE_FORMAT"),
        ({"until": "yesterday"}, "INVALID_DATE_FORMAT"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "INVALID_DATE_RANGE"),
        ({"per_page": 0}, "INVALID_PARAMETER"),
        ({"per_page": 51}, "INVALID_PARAMETER"),
        ({"page": 0}, "INVALID_PARAMETER"),
    ],
)
def test_list_errors(client: SkytellsClient, kwargs: dict[str, Any], error_id: str) -> None:
    with pytest.raises(skytells.ValidationError) as info:
        client.predictions.list(**kwargs)
    assert (info.value.error_id, info.value.http_status) == (error_id, 400)


def test_bad_key(emu: Any) -> None:
    with (
        SkytellsClient("sk-wrong", base_url=emu.base_url) as bad,
        pytest.raises(skytells.AuthenticationError) as info,
    ):
        bad.models.list()
    assert (info.value.error_id, info.value.http_status) == ("UNAUTHORIZED", 401)


@pytest.mark.parametrize("weird", ["a b", "a&b", "a/b", "../models", "x?y=1"])
def test_weird_ids_and_slugs_are_not_found(client: SkytellsClient, weird: str) -> None:
    with pytest.raises(skytells.NotFoundError):
        client.predictions.get(weird)
    with pytest.raises(skytells.NotFoundError):
        client.models.get(weird)


def test_list_page_is_indexable_and_iterable(client: SkytellsClient) -> None:
    ids = [
        client.predictions.create({"model": "flux-edge", "input": {"prompt": str(i)}})["id"]
        for i in range(3)
    ]
    page = client.predictions.list(per_page=2)
    assert len(page) == 2 and page[0]["id"] == ids[-1]  # newest first
    assert [p["id"] for p in page] == ids[:0:-1]
    assert page["pagination"]["total"] == 3 and page["data"][0] is page[0]
    assert page.pagination.last_page == 2 and page.pagination.has_next


def test_iter_all_walks_every_page_lazily(client: SkytellsClient) -> None:
    ids = {
        client.predictions.create({"model": "flux-edge", "input": {"prompt": str(i)}})["id"]
        for i in range(7)
    }
    client.predictions.create({"model": "truefusion", "input": {"prompt": "other"}})
    seen = list(client.predictions.iter_all(model="flux-edge", per_page=3, since=dt.date.today()))
    assert {p["id"] for p in seen} == ids and len(seen) == 7


def test_list_filters_by_status(client: SkytellsClient, emu: Any) -> None:
    client.run("flux-edge", input={"prompt": "done"})
    emu.fail_next(count=1)
    with pytest.raises(skytells.PredictionFailedError):
        client.run("flux-edge", input={"prompt": "fails"})
    failed = client.predictions.list(status="failed")
    assert [p["input"]["prompt"] for p in failed] == ["fails"]


def test_run_refuses_bad_arguments_locally(client: SkytellsClient) -> None:
    with pytest.raises(skytells.ValidationError):
        client.run("", input={"prompt": "x"})
    with pytest.raises(skytells.ValidationError):
        client.run("flux-pro", input=["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(skytells.ValidationError):
        client.run("flux-pro", input={"prompt": object()})


def test_iter_all_ends_when_the_server_ignores_the_page(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    same_page = {
        "data": [prediction("succeeded")],
        "pagination": {"current_page": 1, "last_page": 9},
    }
    scripted.script(Reply(200, same_page))
    assert [p["id"] for p in scripted_client.predictions.iter_all()] == ["pred_abc123"]
    assert len(scripted.requests) == 2  # the second page brought nothing new: the walk stops
