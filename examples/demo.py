"""`make demo`: a real prediction against the bundled emulator, its image saved under ./outputs/.

Runs offline, with no account: the emulator is the offline twin of the Skytells API.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from skytells import SkytellsClient, SkytellsError
from skytells.emulator import Emulator

OUTPUT_DIR = Path("outputs")


def main() -> int:
    # time_scale=0.1: the lifecycle runs ten times faster than the real service.
    with (
        Emulator(time_scale=0.1) as emu,
        SkytellsClient(emu.api_key, base_url=emu.base_url) as client,
    ):
        print(f"Emulator running at {emu.base_url}")

        def on_progress(p: dict[str, object]) -> None:
            metrics = p.get("metrics") or {}
            progress = metrics.get("progress") if isinstance(metrics, dict) else None
            print(
                f"  [{p['status']}]"
                + (f" {progress:.0f}%" if isinstance(progress, (int, float)) else "")
            )

        try:
            prediction = client.run(
                "truefusion-pro",
                input={
                    "prompt": "A photorealistic futuristic city at sunset",
                    "aspect_ratio": "16:9",
                    "output_format": "png",
                    "seed": 42,
                },
                on_progress=on_progress,
            )
        except SkytellsError as error:
            print(f"Prediction failed: {error.error_id}: {error}", file=sys.stderr)
            return 1

        url = prediction.outputs()
        assert isinstance(url, str)
        OUTPUT_DIR.mkdir(exist_ok=True)
        target = OUTPUT_DIR / f"{prediction.id}-{Path(urlsplit(url).path).name}"
        # Output files are served like a CDN: no API key is sent with the download.
        with httpx.stream("GET", url) as response, target.open("wb") as file:
            response.raise_for_status()
            for chunk in response.iter_bytes():
                file.write(chunk)
        credits = prediction.raw().get("metadata", {}).get("billing", {}).get("credits_used")
        print(f"Prediction {prediction.id} {prediction.status}; credits used: {credits}")
        print(f"Saved {target} ({target.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
