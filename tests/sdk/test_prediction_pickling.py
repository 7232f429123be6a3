"""`Prediction` and `AsyncPrediction` pickle (data only, never the client or its key) and copy
(keeping the client); an unpickled one says how to bind it to a client, and works once bound."""

from __future__ import annotations

import copy
import functools
import pickle
from typing import Any

import pytest

import skytells
from skytells import AsyncPrediction, AsyncSkytellsClient, Prediction, SkytellsClient

PROTOCOLS = range(2, pickle.HIGHEST_PROTOCOL + 1)


def _same_view(a: Prediction | AsyncPrediction, b: Prediction | AsyncPrediction) -> None:
    assert (a.id, a.status, a.output, a.outputs()) == (b.id, b.status, b.output, b.outputs())
    assert a.raw() == b.raw() and a.response == b.response
    assert repr(a) == repr(b) and a == b and hash(a) == hash(b)


def _unbound(error: skytells.SkytellsError) -> None:
    assert error.error_id == "PREDICTION_NOT_BOUND"
    assert "prediction.bind(client)" in error.message


def test_prediction_pickles_its_data_but_never_the_client_or_key(
    client: SkytellsClient, emu: Any, tmp_path: Any
) -> None:
    prediction = client.run("flux-edge", {"prompt": "a cat"})
    assert prediction.status == "succeeded" and prediction.outputs()
    for protocol in PROTOCOLS:
        data = pickle.dumps(prediction, protocol)
        assert emu.api_key.encode() not in data
        assert b"SkytellsClient" not in data and b"httpx" not in data
        restored = pickle.loads(data)
        assert type(restored) is Prediction
        _same_view(restored, prediction)
        for method in (
            restored.refresh,
            restored.wait,
            restored.cancel,
            restored.delete,
            restored.stream,
            functools.partial(restored.save, tmp_path),
        ):
            with pytest.raises(skytells.SkytellsError) as caught:
                method()
            _unbound(caught.value)
        assert list(tmp_path.iterdir()) == []

    restored = pickle.loads(pickle.dumps(prediction))
    assert restored.bind(client) is restored
    assert restored.refresh() is restored and restored.status == "succeeded"
    assert [path.exists() for path in restored.save(tmp_path)] == [True]
    assert prediction.refresh() is prediction  # the original is still bound


def test_prediction_copies_keep_the_client(client: SkytellsClient) -> None:
    prediction = client.run("flux-edge", {"prompt": "a dog"})
    shallow, deep = copy.copy(prediction), copy.deepcopy(prediction)
    for twin in (shallow, deep):
        assert twin is not prediction and type(twin) is Prediction
        _same_view(twin, prediction)
    assert shallow.raw() is prediction.raw()  # shallow: the same dict
    assert deep.raw() is not prediction.raw()  # deep: the data copied...
    deep.raw()["output"] = ["changed"]
    assert prediction.raw()["output"] != ["changed"] and deep != prediction
    assert deep.refresh() is deep and deep == prediction  # ...and the client shared
    assert shallow.wait().status == "succeeded"


def test_prediction_bind_rejects_a_client_of_the_wrong_kind(
    client: SkytellsClient, emu: Any
) -> None:
    prediction = pickle.loads(pickle.dumps(client.run("flux-edge", {"prompt": "x"})))
    aclient = AsyncSkytellsClient(emu.api_key, base_url=emu.base_url)
    for wrong in (aclient, "sk-not-a-client", None):
        with pytest.raises(skytells.SkytellsError) as caught:
            prediction.bind(wrong)
        assert caught.value.error_id == "INVALID_PARAMETER"
        assert "SkytellsClient" in caught.value.message


@pytest.mark.anyio
async def test_async_prediction_pickles_copies_and_binds(
    aclient: AsyncSkytellsClient, emu: Any, tmp_path: Any
) -> None:
    prediction = await aclient.run("flux-edge", {"prompt": "a bird"})
    for protocol in PROTOCOLS:
        data = pickle.dumps(prediction, protocol)
        assert emu.api_key.encode() not in data
        restored = pickle.loads(data)
        assert type(restored) is AsyncPrediction
        _same_view(restored, prediction)
        for call in (restored.refresh, restored.wait, restored.cancel, restored.delete):
            with pytest.raises(skytells.SkytellsError) as caught:
                await call()
            _unbound(caught.value)
        with pytest.raises(skytells.SkytellsError) as caught:
            await restored.save(tmp_path)
        _unbound(caught.value)
        with pytest.raises(skytells.SkytellsError) as caught:
            restored.stream()
        _unbound(caught.value)

    restored = pickle.loads(pickle.dumps(prediction)).bind(aclient)
    assert await restored.refresh() is restored and restored.status == "succeeded"
    deep = copy.deepcopy(prediction)
    assert deep.raw() is not prediction.raw() and await deep.refresh() is deep
    with (
        SkytellsClient("sk-x", base_url=emu.base_url) as sync_client,
        pytest.raises(skytells.SkytellsError) as wrong,
    ):
        pickle.loads(pickle.dumps(prediction)).bind(sync_client)
    assert wrong.value.error_id == "INVALID_PARAMETER"
