"""Large outputs on demand: the emulator writes a valid WAV of exactly the requested size."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import httpx
import pytest

from skytells import SkytellsClient
from skytells.emulator import ApiError


def test_attach_large_output_and_save_it(client: SkytellsClient, emu: Any, tmp_path: Path) -> None:
    prediction = client.run("beatfusion-2.0", input={"prompt": "lofi"})
    size = 5 * 1024 * 1024 + 1  # odd on purpose
    updated = emu.attach_large_output(prediction.id, size)
    (url,) = updated["output"]  # file outputs are arrays of URLs
    assert url.endswith(".wav")
    assert updated["metadata"]["storage"]["files"][0]["size"] == size
    (path,) = client.save_outputs(client.predictions.get(prediction.id), tmp_path)
    assert path.stat().st_size == size
    with wave.open(str(path)) as audio:
        assert audio.getframerate() == 24_000
        assert audio.getnframes() == (size - 44) // 2


def test_large_output_over_the_control_api(
    anon: httpx.Client, control: httpx.Client, client: SkytellsClient
) -> None:
    prediction = client.run("skytells-tts", input={"text": "hi"})
    response = control.post(
        f"/_emulator/predictions/{prediction.id}/large-output", json={"bytes": 1000}
    )
    assert response.status_code == 200
    assert anon.get(response.json()["output"][0]).content[:4] == b"RIFF"
    bad = control.post(f"/_emulator/predictions/{prediction.id}/large-output", json={"bytes": 3})
    assert bad.status_code == 400


def test_large_output_needs_a_succeeded_prediction(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1.0)
    running = client.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    with pytest.raises(ApiError) as info:
        emu.attach_large_output(running["id"], 1000)
    assert (info.value.http_status, info.value.error_id) == (400, "INVALID_REQUEST")
