"""Undoing a body's ``Content-Encoding`` in bounded pieces: pure, bytes in and bytes out.

Both the API responses (`_io.bodies`) and the saved outputs (`_io.files`) are decoded here, so a
compression bomb, ``gzip`` inside ``gzip`` or a body that never ends is met by the same code on
every path: each step gives out at most `PIECE` bytes, and the caller counts them against its
own cap before asking for the next.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

__all__ = [
    "ACCEPT_ENCODING",
    "KNOWN_ENCODINGS",
    "PIECE",
    "ContentDecoder",
    "DecodeError",
    "encodings",
]

PIECE = 64 * 1024
"""The most bytes one decoding step produces."""
KNOWN_ENCODINGS = ("gzip", "x-gzip", "deflate")
"""What `ContentDecoder` inflates; any other encoding is passed on as it is."""
ACCEPT_ENCODING = "gzip, deflate"
"""What the SDK asks API responses in: the encodings it inflates itself, bounded."""
MAX_LAYERS = 4
"""More encodings than this on one body is an attack, not a server."""


class DecodeError(Exception):
    """A body whose encoding is corrupt, truncated or stacked too deep."""


def encodings(header: str) -> list[str]:
    """The encodings a ``Content-Encoding`` header lists, in the order applied (no identity)."""
    names = (name.strip().lower() for name in header.split(","))
    return [name for name in names if name and name != "identity"]


class _Inflater:
    """One ``gzip`` or ``deflate`` layer (zlib-wrapped as the RFC says, or raw as some servers
    send); a ``gzip`` body may hold several members, one after another."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding != "deflate"
        self.started = False
        self.z = self._new()

    def _new(self, raw: bool = False) -> zlib._Decompress:
        if self.gzip:
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        return zlib.decompressobj(-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        while True:
            try:
                out = self.z.decompress(data, PIECE)
            except zlib.error as exc:
                if not self.gzip and not self.started:  # raw deflate, without the zlib header
                    self.started = True
                    self.z = self._new(raw=True)
                    continue
                raise DecodeError(str(exc)) from None
            self.started = self.started or bool(data)
            data = self.z.unconsumed_tail
            if self.z.eof and self.gzip and self.z.unused_data.strip(b"\x00"):
                data = self.z.unused_data  # another gzip member follows
                self.z = self._new()
            if out:
                yield out
            elif not data:
                return

    def finish(self) -> Iterator[bytes]:
        yield from self.feed(b"")
        if self.started and not self.z.eof:
            raise DecodeError("truncated compressed body")


class ContentDecoder:
    """Undoes the ``Content-Encoding`` layers of one body as its raw bytes arrive, the last
    applied first, `PIECE` bytes at most per piece. Encodings it does not know pass through."""

    def __init__(self, header: str) -> None:
        names = encodings(header)
        if len(names) > MAX_LAYERS:
            raise DecodeError(f"{len(names)} content encodings (at most {MAX_LAYERS})")
        self.layers = [_Inflater(name) for name in reversed(names) if name in KNOWN_ENCODINGS]

    def feed(self, data: bytes) -> Iterator[bytes]:
        """The decoded pieces of ``data``, lazily (take them one at a time to bound memory)."""
        return self._through(0, data, final=False)

    def finish(self) -> Iterator[bytes]:
        """Whatever the layers still hold once the raw body has ended (checks it is whole)."""
        return self._through(0, b"", final=True)

    def _through(self, level: int, data: bytes, final: bool) -> Iterator[bytes]:
        if level == len(self.layers):
            if data:
                yield data
            return
        layer = self.layers[level]
        for piece in layer.feed(data):
            yield from self._through(level + 1, piece, final=False)
        if final:
            for piece in layer.finish():
                yield from self._through(level + 1, piece, final=False)
            yield from self._through(level + 1, b"", final=True)
