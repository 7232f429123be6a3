"""Large output files on demand, for testing downloads of big outputs (a 500 MB video, say).

The file is a valid WAV (16-bit mono PCM, a repeating tone) of exactly the requested size,
written in 1 MiB chunks so the emulator's own memory stays flat.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

SAMPLE_RATE = 24_000
HEADER_BYTES = 44
CHUNK = 1 << 20


def write_wav_of_size(path: Path, size_bytes: int) -> None:
    """Write a playable WAV file of exactly ``size_bytes`` bytes (at least 46) at ``path``."""
    if size_bytes < HEADER_BYTES + 2:
        raise ValueError(f"size must be at least {HEADER_BYTES + 2} bytes")
    data_bytes = (size_bytes - HEADER_BYTES) // 2 * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    period = [int(8000 * math.sin(2 * math.pi * 440 * i / SAMPLE_RATE)) for i in range(SAMPLE_RATE)]
    second = struct.pack(f"<{len(period)}h", *period)
    block = (second * (CHUNK // len(second) + 1))[:CHUNK]
    with path.open("wb") as file:
        file.write(header)
        remaining = data_bytes
        while remaining > 0:
            piece = block[: min(CHUNK, remaining)]
            file.write(piece)
            remaining -= len(piece)
        if size_bytes - HEADER_BYTES - data_bytes:
            file.write(b"\0")  # odd sizes: one pad byte after the data chunk
