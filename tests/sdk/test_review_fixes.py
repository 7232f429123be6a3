"""Regression tests for what a review of the streaming and webhook code found."""

from __future__ import annotations

import pytest

import skytells
from skytells import SkytellsClient
from skytells._core.events import stream_url
from skytells.webhooks import parse_event
from tests.scripted_server import Reply, ScriptedServer, prediction


@pytest.mark.parametrize("url", ["http://[bad/x", "http://a\u0000b/x"])
def test_a_malformed_stream_url_falls_back_to_polling(
    scripted: ScriptedServer, scripted_client: SkytellsClient, url: str
) -> None:
    scripted.script(Reply(200, prediction("succeeded", urls={"stream": url})))
    pending = prediction("processing", urls={"stream": url})
    assert scripted_client.wait(pending, {"max_wait": 5000})["status"] == "succeeded"


def test_stream_url_refuses_malformed_hosts() -> None:
    assert stream_url({"urls": {"stream": "http://[bad/x"}}) is None


def test_deeply_nested_webhook_body_is_a_skytells_error() -> None:
    with pytest.raises(skytells.SkytellsError):
        parse_event(b"[" * 100_000 + b"]" * 100_000)


def test_a_server_trickling_its_headers_cannot_outlast_the_timeout() -> None:
    """Each header byte arrives well within a per-read timeout; only a deadline on every socket
    operation makes the client hang up early. Without it the client reads the whole response
    before noticing the deadline."""
    import socket
    import threading
    import time

    body = b'{"id": "p1", "status": "succeeded"}'
    response = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    stop = threading.Event()
    sent = [0]

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in response:
                if stop.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return
                sent[0] += 1
                time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            SkytellsClient(
                "k", base_url=f"http://127.0.0.1:{port}/v1", timeout=400, max_retries=0
            ) as client,
            pytest.raises(skytells.APITimeoutError),
        ):
            client.predictions.get("p1")
        thread.join(timeout=10)  # the server stops once the client has hung up
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)
    assert sent[0] < len(response) // 2  # the client hung up while the headers trickled
