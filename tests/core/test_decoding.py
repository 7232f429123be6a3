"""`_core/decoding.py`: Content-Encoding undone in bounded pieces, in memory (no server)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from skytells._core.decoding import PIECE, ContentDecoder, DecodeError, encodings


def _decode(header: str, body: bytes, chunk: int = 1000) -> list[bytes]:
    decoder = ContentDecoder(header)
    pieces: list[bytes] = []
    for start in range(0, len(body), chunk):
        pieces.extend(decoder.feed(body[start : start + chunk]))
    pieces.extend(decoder.finish())
    return pieces


def test_encodings_lists_the_header_in_order_without_identity() -> None:
    assert encodings(" GZIP, identity ,deflate,") == ["gzip", "deflate"]
    assert encodings("") == []


@pytest.mark.parametrize(
    ("header", "encode"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
        ("deflate, gzip", lambda data: gzip.compress(zlib.compress(data))),
    ],
)
def test_every_layer_is_undone_in_pieces_of_at_most_piece_bytes(
    header: str, encode: object
) -> None:
    data = bytes(range(256)) * 2000 + b"\x00" * (3 * PIECE)
    pieces = _decode(header, encode(data))  # type: ignore[operator]
    assert b"".join(pieces) == data
    assert max(len(piece) for piece in pieces) <= PIECE


def test_a_bomb_yields_one_piece_at_a_time() -> None:
    bomb = gzip.compress(b"\x00" * (64 * 1024 * 1024))
    pieces = ContentDecoder("gzip").feed(bomb)
    taken = [next(pieces) for _ in range(3)]  # lazily: nothing past what is taken is inflated
    assert [len(piece) for piece in taken] == [PIECE] * 3


def test_gzip_members_one_after_another_are_one_body() -> None:
    assert b"".join(_decode("gzip", gzip.compress(b"one ") + gzip.compress(b"two"))) == b"one two"


def test_a_truncated_or_corrupt_body_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="truncated"):
        _decode("gzip", gzip.compress(b"x" * 10_000)[:-12])
    with pytest.raises(DecodeError):
        _decode("gzip", b"definitely not gzip")


def test_unknown_encodings_pass_through_and_too_many_layers_are_refused() -> None:
    assert b"".join(_decode("br", b"as sent")) == b"as sent"
    with pytest.raises(DecodeError, match="content encodings"):
        ContentDecoder("gzip, " * 5)
