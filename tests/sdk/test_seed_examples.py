"""Every code example of the seed (`python-sdk-predictions-and-models.txt`), as written.

Only the client construction points at the emulator; the assertions check what the seed's
comments promise.
"""

from __future__ import annotations

from typing import Any

import pytest

from skytells import Prediction, SkytellsClient, SkytellsError


def test_basic_run(client: SkytellsClient) -> None:
    prediction = client.run("flux-pro", input={"prompt": "A cat wearing sunglasses"})

    print(prediction.output)  # "https://..." or ["https://...", ...]
    print(prediction.id)  # "pred_abc123"
    print(prediction.status)  # "succeeded"

    assert isinstance(prediction, Prediction)
    output = prediction.output
    urls = output if isinstance(output, list) else [output]
    assert urls and all(isinstance(u, str) and u.startswith("http") for u in urls)
    assert isinstance(prediction.id, str) and prediction.id
    assert prediction.status == "succeeded"


def test_progress_tracking(
    client: SkytellsClient, emu: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.configure(time_scale=0.05)  # a few hundred ms of lifecycle, so progress is visible
    seen: list[dict[str, Any]] = []

    def on_progress(p):  # type: ignore[no-untyped-def]
        seen.append(p)
        status = p["status"]
        progress = p.get("metrics", {}).get("progress")
        if progress is not None:
            print(f"  [{status}] {progress:.0f}%")
        else:
            print(f"  [{status}]")

    prediction = client.run(
        "flux-pro",
        input={"prompt": "A detailed oil painting of a forest"},
        on_progress=on_progress,
    )
    print("Done:", prediction.output)

    assert prediction.status == "succeeded"
    assert seen and seen[-1]["status"] == "succeeded"
    assert all(isinstance(p, dict) and p["id"] == prediction.id for p in seen)
    assert "Done:" in capsys.readouterr().out


def test_run_with_webhook(client: SkytellsClient) -> None:
    prediction = client.run(
        "flux-pro",
        input={"prompt": "A robot dancing"},
        webhook={
            "url": "https://your-server.com/skytells-webhook",
            "events": ["completed", "failed"],
        },
    )
    assert prediction.status == "succeeded"
    assert prediction.response["webhook"]["url"] == "https://your-server.com/skytells-webhook"


def test_fire_and_forget_predict(client: SkytellsClient) -> None:
    # Returns immediately with status "pending"
    response = client.predict(
        {
            "model": "flux-pro",
            "input": {"prompt": "A landscape"},
        }
    )
    print(response["id"], response["status"])  # "pred_...", "pending"
    assert isinstance(response, dict)
    assert response["status"] == "pending"


def test_prediction_object_properties(client: SkytellsClient) -> None:
    prediction = client.run("flux-pro", input={"prompt": "A cat"})

    prediction.id  # "pred_abc123"
    prediction.status  # "succeeded"
    prediction.output  # "https://..." or ["https://...", ...]
    prediction.response  # full dict

    assert prediction.response is prediction.raw()
    assert prediction.response["id"] == prediction.id
    assert repr(prediction) == f"Prediction(id={prediction.id!r}, status='succeeded')"


def test_background_prediction_then_wait(client: SkytellsClient) -> None:
    # Create in the background (returns immediately)
    prediction = client.predictions.create(
        {
            "model": "flux-pro",
            "input": {"prompt": "A sunset over mountains"},
        }
    )
    print(prediction["id"], prediction["status"])  # "pred_...", "pending"
    assert prediction["status"] == "pending"

    # Poll until complete
    result = client.wait(prediction)
    print(result["output"])
    assert result["status"] == "succeeded"
    assert result["output"]


def test_wait_basic(client: SkytellsClient) -> None:
    bg = client.predictions.create(
        {
            "model": "flux-pro",
            "input": {"prompt": "A landscape"},
        }
    )

    # Polls every 5 seconds by default
    result = client.wait(bg)
    print(result["status"])  # "succeeded"
    print(result["output"])
    assert result["status"] == "succeeded"


def test_wait_with_progress(
    client: SkytellsClient, emu: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.configure(time_scale=0.05)
    bg = client.predictions.create(
        {
            "model": "flux-pro",
            "input": {"prompt": "A landscape"},
        }
    )
    result = client.wait(
        bg,
        options={"interval": 3000},
        on_progress=lambda p: print(f"  {p['status']}{p.get('metrics', {}).get('progress', '?')}%"),
    )
    assert result["status"] == "succeeded"
    assert "succeeded" in capsys.readouterr().out


def test_queue_and_dispatch(client: SkytellsClient) -> None:
    client.queue({"model": "flux-pro", "input": {"prompt": "Cat"}})
    client.queue({"model": "flux-pro", "input": {"prompt": "Dog"}})
    client.queue({"model": "flux-pro", "input": {"prompt": "Bird"}})

    results = client.dispatch()
    for pred in results:
        print(pred["id"], pred["status"])  # all "pending" initially
    assert [p["status"] for p in results] == ["pending"] * 3
    assert [p["input"]["prompt"] for p in results] == ["Cat", "Dog", "Bird"]
    assert client.queued == 0

    # Wait for all to complete
    completed = [client.wait(r) for r in results]
    for r in completed:
        print(r["output"])
    assert all(r["status"] == "succeeded" and r["output"] for r in completed)


def test_predictions_api_create(client: SkytellsClient) -> None:
    prediction = client.predictions.create(
        {
            "model": "flux-pro",
            "input": {"prompt": "An astronaut"},
        }
    )
    print(prediction["id"], prediction["status"])  # "pred_...", "pending"
    assert prediction["status"] == "pending"

    # Wait for it
    result = client.wait(prediction)
    print(result["output"])
    assert result["output"]


def test_predictions_list_with_filters(client: SkytellsClient) -> None:
    for i in range(3):
        client.predictions.create({"model": "flux-pro", "input": {"prompt": f"p{i}"}})
    client.predictions.create({"model": "truefusion", "input": {"prompt": "other"}})
    today = __import__("datetime").date.today().isoformat()

    result = client.predictions.list(
        model="flux-pro",
        since="2026-01-01",
        until=today,
        page=1,
    )

    for pred in result.data:
        print(pred["id"], pred["created_at"])
    assert len(result.data) == 3
    assert all(
        p["model"]["name"] if isinstance(p["model"], dict) else p["model"] for p in result.data
    )
    assert result.pagination.total == 3

    # page=2 as in the seed: past the end, an empty page
    assert (
        client.predictions.list(model="flux-pro", since="2026-01-01", until=today, page=2).data
        == []
    )


def test_models_list(client: SkytellsClient) -> None:
    models = client.models.list()

    for model in models:
        print(model["name"], model["type"], model["vendor"]["name"])
        # e.g. "TrueFusion" "image" "Skytells"
    names = {m["namespace"]: m for m in models}
    assert names["truefusion"]["name"] == "TrueFusion"
    assert names["truefusion"]["type"] == "image"
    assert names["mera"]["type"] == "video"
    assert names["truefusion"]["vendor"]["name"] == "Skytells"
    assert all("input_schema" not in m for m in models)


def test_models_get_with_fields(client: SkytellsClient) -> None:
    model = client.models.get("truefusion-pro", fields=["input_schema", "output_schema"])
    assert model["namespace"] == "truefusion-pro"
    assert model["input_schema"]["type"] == "object"
    assert "prompt" in model["input_schema"]["properties"]
    assert model["output_schema"]
    with pytest.raises(SkytellsError) as info:
        client.models.get("no-such-model")
    assert info.value.error_id == "MODEL_NOT_FOUND"


def test_truefusion_pro(client: SkytellsClient) -> None:
    # TrueFusion Pro — img2img, guidance, seed control
    prediction = client.run(
        "truefusion-pro",
        input={
            "prompt": "A photorealistic futuristic city at sunset",
            "aspect_ratio": "16:9",
            "num_outputs": 1,
            "num_inference_steps": 28,
            "guidance": 3,
            "output_format": "webp",
        },
    )
    print(prediction.outputs())
    out = prediction.outputs()
    assert isinstance(out, str) and out.endswith(".webp")  # one output: unwrapped


def test_mera_video(client: SkytellsClient) -> None:
    # Mera — Skytells flagship video model (the server answers at once; run() keeps waiting)
    prediction = client.run(
        "mera",
        input={
            "prompt": "A cinematic timelapse of a city at night, flying drone perspective",
            "seconds": "8",
            "size": "1280x720",
        },
    )
    print(prediction.outputs())  # video URL
    out = prediction.outputs()
    assert isinstance(out, str) and out.endswith(".mp4")


def test_streaming_endpoint(client: SkytellsClient) -> None:
    bg = client.predictions.create(
        {
            "model": "flux-pro",
            "input": {"prompt": "A landscape"},
            "stream": True,
        }
    )

    stream_info = client.stream_prediction(bg["id"])
    stream_url = stream_info["urls"]["stream"]
    print("Stream URL:", stream_url)
    assert stream_info["stream"] is True
    assert stream_url.startswith("http") and bg["id"] in stream_url
