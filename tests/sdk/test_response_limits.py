"""API responses and event streams stay bounded in memory and in time, whatever a server sends.

A hostile raw-socket server sends compression bombs, bodies that never end, a huge declared
length, and event streams that never stop. Every case runs on the four ways a client reads:
sync and async, each with its default transport (the deadline backend; aiohttp) and with a
caller's ``http_client=``. Boundedness is shown by the error, by tracemalloc's peak, and by the
bytes the server managed to send before the client hung up, never by a wall-clock time.
"""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from skytells import (
    APIConnectionError,
    AsyncSkytellsClient,
    ResponseTooLargeError,
    SkytellsClient,
    SkytellsError,
    WaitTimeoutError,
)
from skytells._core.decoding import PIECE
from skytells._core.sse import SSEDecoder
from skytells._io.bodies import DEFAULT_MAX_RESPONSE_BYTES, BodyDecoder
from tests.hostile_server import (
    Body,
    Exchange,
    HostileServer,
    MiB,
    busy_events,
    deflate_bomb,
    endless_chunked,
    endless_line,
    fixed,
    gzip_bomb,
    gzip_in_gzip_bomb,
    huge_declared,
)

KINDS = ["sync", "sync-http_client", "async", "async-http_client"]
PREDICTION_PATH = "/v1/predictions/p1"
STREAM_PATH = "/v1/predictions/p1/stream"
STREAM_SECONDS = 30.0  # how long the scripted event streams would go on


@pytest.fixture
def server() -> Iterator[HostileServer]:
    hostile = HostileServer()
    with hostile.running():
        yield hostile


def run_with(kind: str, base_url: str, action: Callable[[Any], Any], **options: Any) -> Any:
    """``action(client)`` with a client of ``kind`` (awaited for the async ones); returns the
    result or the `SkytellsError` raised."""
    if kind.startswith("sync"):
        http = httpx.Client() if kind.endswith("http_client") else None
        try:
            with SkytellsClient("sk-test", base_url=base_url, http_client=http, **options) as sdk:
                return action(sdk)
        except SkytellsError as error:
            return error
        finally:
            if http is not None:
                http.close()

    async def main() -> Any:
        http = httpx.AsyncClient() if kind.endswith("http_client") else None
        try:
            async with AsyncSkytellsClient(
                "sk-test", base_url=base_url, http_client=http, **options
            ) as sdk:
                return await action(sdk)
        except SkytellsError as error:
            return error
        finally:
            if http is not None:
                await http.aclose()

    return asyncio.run(main())


def finished(exchange: Exchange) -> Exchange:
    """The exchange once the server is done with it (the client hung up, or all was sent)."""
    assert exchange.done.wait(timeout=60), "the server still sends: the client never hung up"
    return exchange


def get_prediction(sdk: Any) -> Any:
    return sdk.predictions.get("p1")


# ── item 8: API responses ───────────────────────────────────────────────────


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "bomb", [gzip_bomb, gzip_in_gzip_bomb, deflate_bomb], ids=["gzip", "gzip-in-gzip", "deflate"]
)
def test_a_compression_bomb_stops_at_the_decoded_cap(
    server: HostileServer, kind: str, bomb: Callable[[], Body]
) -> None:
    server.route("GET", PREDICTION_PATH, bomb())  # ~128 KiB on the wire, 128 MiB inflated
    tracemalloc.start()
    try:
        error = run_with(kind, server.base_url, get_prediction)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, ResponseTooLargeError), error
    assert error.error_id == "RESPONSE_TOO_LARGE"
    assert error.http_status == 200
    assert error.details["max_response_bytes"] == DEFAULT_MAX_RESPONSE_BYTES
    assert "max_response_bytes" in str(error)
    # The default cap (64 MiB) and one piece past it, not the 128 MiB the body inflates to.
    assert peak < 2 * DEFAULT_MAX_RESPONSE_BYTES
    assert len(server.exchanges) == 1  # not retried


@pytest.mark.parametrize("kind", KINDS)
def test_a_body_that_never_ends_is_cut_at_the_cap(server: HostileServer, kind: str) -> None:
    server.route("GET", PREDICTION_PATH, endless_chunked(max_bytes=256 * MiB))
    error = run_with(kind, server.base_url, get_prediction)
    assert isinstance(error, ResponseTooLargeError), error
    exchange = finished(server.seen("GET", PREDICTION_PATH)[0])
    assert exchange.client_left and not exchange.finished
    # The cap, plus what the sockets' buffers held when the client hung up.
    assert exchange.sent < 2 * DEFAULT_MAX_RESPONSE_BYTES


@pytest.mark.parametrize("kind", KINDS)
def test_a_declared_length_past_the_cap_fails_before_the_body_is_read(
    server: HostileServer, kind: str
) -> None:
    server.route("GET", PREDICTION_PATH, huge_declared(160 * MiB))
    error = run_with(kind, server.base_url, get_prediction)
    assert isinstance(error, ResponseTooLargeError), error
    assert error.details["received_at_least"] == 160 * MiB
    exchange = finished(server.seen("GET", PREDICTION_PATH)[0])
    assert exchange.client_left
    assert exchange.sent < 32 * MiB  # at most what the sockets' buffers took


@pytest.mark.parametrize("kind", KINDS)
def test_the_cap_is_settable_and_an_oversized_error_is_not_retried(
    server: HostileServer, kind: str
) -> None:
    server.route("GET", PREDICTION_PATH, gzip_bomb(16 * MiB, status=503))
    small = run_with(kind, server.base_url, get_prediction, max_response_bytes=MiB)
    assert isinstance(small, ResponseTooLargeError), small
    assert small.http_status == 503
    assert small.details["max_response_bytes"] == MiB
    assert len(server.exchanges) == 1  # a 503 is retryable; an oversized answer is not

    server.route("GET", PREDICTION_PATH, fixed({"id": "p1", "status": "succeeded"}))

    def through_with_options(sdk: Any) -> Any:
        return get_prediction(sdk.with_options(max_response_bytes=10))

    tiny = run_with(kind, server.base_url, through_with_options)
    assert isinstance(tiny, ResponseTooLargeError)  # the declared length is already too much
    assert run_with(kind, server.base_url, get_prediction) == {"id": "p1", "status": "succeeded"}


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "64"])
def test_max_response_bytes_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(SkytellsError, match="max_response_bytes") as info:
        SkytellsClient("sk-test", max_response_bytes=value)
    assert info.value.error_id == "INVALID_PARAMETER"
    with SkytellsClient("sk-test") as sdk, pytest.raises(SkytellsError, match="max_response"):
        sdk.with_options(max_response_bytes=value)


# ── item 10: event streams ──────────────────────────────────────────────────


def streamed_prediction(base_url: str) -> dict[str, Any]:
    origin = base_url.removesuffix("/v1")
    return {"id": "p1", "status": "processing", "urls": {"stream": origin + STREAM_PATH}}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("stream", [busy_events, endless_line], ids=["busy-events", "one-line"])
def test_max_wait_is_a_deadline_on_a_stream_that_keeps_sending(
    server: HostileServer, kind: str, stream: Callable[[float], Body]
) -> None:
    server.route("GET", STREAM_PATH, stream(STREAM_SECONDS))
    server.route("GET", PREDICTION_PATH, fixed({"id": "p1", "status": "processing"}))
    prediction = streamed_prediction(server.base_url)

    error = run_with(kind, server.base_url, lambda sdk: sdk.wait(prediction, {"max_wait": 1000}))

    assert isinstance(error, WaitTimeoutError), error
    streams = server.seen("GET", STREAM_PATH)
    assert streams, "the event stream was never opened"
    # wait() returned long before the server's stream would have ended, and hung up on it.
    assert not any(exchange.finished for exchange in streams)
    assert all(finished(exchange).client_left for exchange in streams)


@pytest.mark.parametrize("kind", KINDS)
def test_a_line_that_never_ends_is_cut_at_the_cap_then_polled(
    server: HostileServer, kind: str
) -> None:
    server.route("GET", STREAM_PATH, endless_line(STREAM_SECONDS))
    server.route("GET", PREDICTION_PATH, fixed({"id": "p1", "status": "succeeded"}))
    prediction = streamed_prediction(server.base_url)

    final = run_with(kind, server.base_url, lambda sdk: sdk.wait(prediction, {"max_wait": 60_000}))

    # The stream was given up at the cap (one event may hold max_response_bytes) and the
    # prediction was polled instead, long before the line would have ended.
    assert final == {"id": "p1", "status": "succeeded"}
    [stream] = server.seen("GET", STREAM_PATH)
    assert finished(stream).client_left
    assert stream.sent < 2 * DEFAULT_MAX_RESPONSE_BYTES
    assert server.seen("GET", PREDICTION_PATH)


# ── the decoders, sans I/O ──────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", lambda data: gzip.compress(data)),
        ("deflate", lambda data: zlib.compress(data)),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
        ("identity", lambda data: data),
    ],
    ids=["gzip", "deflate", "raw-deflate", "gzip-gzip", "identity"],
)
def test_body_decoder_inflates_in_bounded_pieces(
    encoding: str, pack: Callable[[bytes], bytes]
) -> None:
    data = bytes(range(256)) * 4096 + b"\0" * (3 * MiB)  # 4 MiB: some mixed, most compressible
    wire = pack(data)
    decoder = BodyDecoder({"content-encoding": encoding}, None)
    pieces = [
        piece for i in range(0, len(wire), 1000) for piece in decoder.feed(wire[i : i + 1000])
    ]
    pieces += list(decoder.finish())
    assert b"".join(pieces) == data
    assert max(map(len, pieces)) <= PIECE


def test_body_decoder_reports_a_corrupt_encoding_as_a_connection_error() -> None:
    decoder = BodyDecoder({"content-encoding": "gzip"}, None, method="GET", target="/x")
    with pytest.raises(APIConnectionError, match="undecodable"):
        list(decoder.feed(b"not gzip at all"))


def test_sse_decoder_bounds_data_lines_that_never_reach_a_blank_line() -> None:
    decoder = SSEDecoder(max_event_size=10_000)
    assert decoder.feed(b"data: " + b"a" * 9_000 + b"\n\n")[0].data == "a" * 9_000
    with pytest.raises(ResponseTooLargeError):
        for _ in range(2_000):
            decoder.feed(b"data: xxxxxxxx\n")


def test_sse_decoder_joins_a_line_split_over_many_chunks() -> None:
    decoder = SSEDecoder(max_event_size=MiB)
    line = b"data: " + b"z" * 100_000 + b"\r\n\r\n"
    events = [event for i in range(0, len(line), 777) for event in decoder.feed(line[i : i + 777])]
    assert [event.data for event in events] == ["z" * 100_000]
