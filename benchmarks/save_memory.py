"""Peak memory while saving a large output: `Prediction.save()` streams, memory stays flat.

The emulator (in this process) gives a prediction a 256 MB output; a separate client process
measures its peak resident set size (ru_maxrss) before and after saving it, so the emulator's
own memory does not count. For contrast the same run measures a naive download that reads the
whole body into memory. Goal: saving stays under 50 MB above the interpreter's baseline.

    python benchmarks/save_memory.py [--megabytes 256]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap

from skytells import SkytellsClient
from skytells.emulator import Emulator

CLIENT = textwrap.dedent(
    """
    import json, resource, sys, tempfile
    import httpx
    from skytells import SkytellsClient

    base_url, key, prediction_id, mode = sys.argv[1:5]
    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    with SkytellsClient(key, base_url=base_url) as client:
        prediction = client.predictions.get(prediction_id)  # warm: imports, pool, TLS-free
        baseline = peak_mb()
        with tempfile.TemporaryDirectory() as folder:
            if mode == "save":
                (path,) = client.save_outputs(prediction, folder)
                size = path.stat().st_size
            else:  # naive: the whole body in memory, then written
                body = httpx.get(prediction["output"], timeout=300).content
                size = len(body)
        print(json.dumps({"baseline_mb": baseline, "peak_mb": peak_mb(), "bytes": size}))
    """
)


def measure(emu: Emulator, prediction_id: str, mode: str) -> dict[str, float]:
    """Run the client process once and return its memory figures."""
    out = subprocess.run(
        [sys.executable, "-c", CLIENT, emu.base_url, emu.api_key, prediction_id, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--megabytes", type=int, default=256)
    args = parser.parse_args()
    size = args.megabytes * 1024 * 1024
    with (
        Emulator(time_scale=0.0) as emu,
        SkytellsClient(emu.api_key, base_url=emu.base_url) as client,
    ):
        prediction = client.run("beatfusion-2.0", input={"prompt": "a long song"})
        emu.attach_large_output(prediction.id, size)
        streamed = measure(emu, prediction.id, "save")
        naive = measure(emu, prediction.id, "naive")
    for name, figures in (("save() streaming", streamed), ("naive .content", naive)):
        grown = figures["peak_mb"] - figures["baseline_mb"]
        print(
            f"{name:18} file {figures['bytes'] / 2**20:7.1f} MB  baseline {figures['baseline_mb']:6.1f} MB"
            f"  peak {figures['peak_mb']:7.1f} MB  growth {grown:7.1f} MB"
        )
    growth = streamed["peak_mb"] - streamed["baseline_mb"]
    naive_growth = naive["peak_mb"] - naive["baseline_mb"]
    verdict = "OK" if growth < 50 else "MISSED"
    print(
        f"save() growth: {growth:.1f} MB (goal < 50 MB: {verdict}); "
        f"naive/save growth ratio: {naive_growth / max(growth, 0.1):.0f}x"
    )
    return 0 if growth < 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
