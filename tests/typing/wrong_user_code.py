"""Deliberate type errors: tests/test_typing.py checks that mypy --strict and pyright reject
each line marked ``expect-error`` and no other (so the typing test can fail)."""

from __future__ import annotations

import skytells
from skytells import PredictionResponse, SkytellsClient


def wrong(client: SkytellsClient) -> None:
    prediction = client.run("flux-pro", input={"prompt": "x"})
    prediction.outputz()  # expect-error: no such method
    status: int = prediction.status  # expect-error: a str
    created = client.predictions.create({"model": "flux-pro", "input": {}})
    progress: str = created["id"]
    count: int = created["status"]  # expect-error: a str
    created["no_such_key"]  # expect-error: not a key of PredictionResponse
    client.predictions.cancel(42)  # expect-error: an id is a str
    client.models.list(type=3)  # expect-error: a model type is a str
    missing: PredictionResponse = {"status": "pending"}  # expect-error: "id" is required
    skytells.predictions.get(1)  # expect-error: the default client's resource is typed
    skytells.run(model=1)  # expect-error: skytells.run has run()'s parameters
    print(status, count, progress, missing)
