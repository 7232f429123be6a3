"""Typical user code: it must type-check cleanly under ``mypy --strict`` and ``pyright`` (basic),
with no cast and no ignore, and it runs against the emulator (tests/test_typing.py does both).

Written as a user would, not as the SDK's tests are: plain dict access on what the API always
sends, ``.get()`` on the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from pathlib import Path

import skytells
from skytells import (
    AsyncSkytellsClient,
    ModelResponse,
    ModelType,
    NotFoundError,
    Prediction,
    PredictionFailedError,
    PredictionResponse,
    SkytellsClient,
    SkytellsError,
    ValidationError,
)
from skytells.webhooks import WebhookDeduplicator, construct_event


def show(prediction: PredictionResponse) -> str:
    """A one-line summary of a prediction dict."""
    progress = prediction.get("metrics", {}).get("progress")
    model = prediction.get("model")
    name = model if isinstance(model, str) else (model or {}).get("name", "?")
    return f"{prediction['id']} {prediction['status']} {name} {progress}"


def images(client: SkytellsClient, folder: Path) -> list[Path]:
    prediction: Prediction = client.run("flux-pro", input={"prompt": "A cat wearing sunglasses"})
    first = prediction.outputs()
    if isinstance(first, str):
        print(first.upper()[:10])
    for url in prediction.output or []:
        print(len(url))
    data = prediction.raw()
    print(data["id"], data["status"], data.get("output"), data.get("created_at", ""))
    files: list[Path] = prediction.save(folder)
    return files


def background(client: SkytellsClient) -> PredictionResponse:
    created = client.predictions.create({"model": "flux-edge", "input": {"prompt": "a fox"}})
    same = client.predictions.get(created["id"])
    assert same["id"] == created["id"]
    final = client.wait(created, {"interval": 100, "max_wait": 60_000}, on_progress=print)
    urls = final.get("urls", {})
    print(final["status"], final.get("output"), urls.get("get"), final.get("error"))
    if final["status"] == "succeeded":
        cost = final.get("metadata", {}).get("billing", {}).get("credits_used", 0.0)
        print(f"{cost:.2f} credits")
    return final


def cancel_and_delete(client: SkytellsClient) -> None:
    created = client.predictions.create({"model": "mera", "input": {"prompt": "a city"}})
    cancelled = client.predictions.cancel(created["id"])
    print(cancelled["status"])
    deleted = client.predictions.delete(created["id"])
    print(deleted.get("deleted"))


def listing(client: SkytellsClient) -> list[str]:
    page = client.predictions.list(model="flux-edge", per_page=10)
    ids = [p["id"] for p in page]
    print(page.pagination.total, page.pagination.has_next, len(page), page[0]["status"])
    for prediction in client.predictions.iter_all(status="succeeded"):
        print(show(prediction))
    return ids


def catalogue(client: SkytellsClient) -> None:
    videos: list[ModelResponse] = client.models.list(type="video")
    for model in client.models.list(type=ModelType.IMAGE):
        print(model["namespace"], model["name"], model["type"], model.get("description"))
        pricing = model.get("pricing")
        if pricing is not None:
            print(pricing["amount"], pricing["currency"], pricing["unit"])
    schema = client.models.get("truefusion-pro", fields=["input_schema"]).get("input_schema")
    print(len(videos), sorted((schema or {}).get("properties", {})))


def batches(client: SkytellsClient) -> None:
    for prompt in ["cat", "dog"]:
        client.queue({"model": "flux-edge", "input": {"prompt": prompt}})
    created = client.dispatch(concurrency=4)
    print([p["id"] for p in client.wait_many(created)])
    payloads = [{"model": "flux-edge", "input": {"prompt": f"icon {i}"}} for i in range(3)]
    for result in client.run_many(payloads, concurrency=2):
        if result.ok and result.prediction is not None:
            print(result.index, result.id, result.output, result.prediction["status"])
        elif result.error is not None:
            print(result.error.error_id)


def errors(client: SkytellsClient) -> None:
    try:
        client.run("truefusion-pro", input={"num_outputs": 99})
    except ValidationError as error:
        print(error.error_id, error.http_status, error.details, error.message)
    except PredictionFailedError as error:
        print(error.prediction_id, error.prediction)
    try:
        client.models.get("no-such-model")
    except NotFoundError as error:
        status: int | None = error.http_status
        print(error.error_id, status, error.request_id)
    except SkytellsError as error:
        print(str(error))


def webhook(secret: str) -> str:
    body = json.dumps({"id": "pred_1", "status": "succeeded", "output": ["https://x/y.png"]})
    raw = body.encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    event = construct_event(raw, {"X-Skytells-Signature": signature}, secret)
    if WebhookDeduplicator().first_time(event):
        print(event.prediction["id"], event.prediction.get("output"), event.status)
    return event.prediction_id


def default_client() -> None:
    prediction = skytells.run("flux-edge", input={"prompt": "a lighthouse"})
    print(prediction.id, prediction.status)
    again = skytells.predictions.get(prediction.id)
    print(again["status"], [m["namespace"] for m in skytells.models.list(type="image")])


async def asynchronous(client: AsyncSkytellsClient) -> list[str]:
    first, second = await asyncio.gather(
        client.run("flux-edge", input={"prompt": "cat"}),
        client.run("flux-edge", input={"prompt": "dog"}),
    )
    created = await client.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    final = await client.wait(created["id"])
    async for prediction in client.predictions.iter_all():
        print(prediction["id"])
    page = await client.predictions.list()
    models = await client.models.list(type="image")
    print(final["status"], len(page), models[0]["name"])
    async for result in client.run_many([{"model": "flux-edge", "input": {"prompt": "y"}}]):
        print(result.id, result.ok)
    return [str(first.outputs()), str(second.outputs())]


def main(folder: Path) -> None:
    """Everything above but `cancel_and_delete` (which needs a prediction slow enough to cancel),
    against the API (or emulator) the environment names."""
    with SkytellsClient() as client:
        print(images(client, folder), background(client)["status"])
        print(listing(client))
        catalogue(client)
        batches(client)
        errors(client)
    print(webhook("sk-secret"))
    default_client()

    async def run_async() -> None:
        async with AsyncSkytellsClient() as client:
            print(await asynchronous(client))

    asyncio.run(run_async())
