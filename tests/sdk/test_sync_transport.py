"""The sync client's own transport (urllib3) and the httpx adapter for a user's ``http_client``:
a deadline on the whole exchange with no watchdog thread, idle timeouts of event streams,
proxies from the environment, and what ``import skytells`` leaves unloaded."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import skytells
from skytells import SkytellsClient
from skytells._core.protocol import CloseStream, OpenStream, ReadStream
from tests.hostile_server import Body, HostileServer
from tests.scripted_server import Reply, ScriptedServer, prediction

EVENT = b'event: progress\ndata: {"progress": 50}\n\n'


@pytest.fixture
def server() -> Iterator[HostileServer]:
    hostile = HostileServer()
    with hostile.running():
        yield hostile


def _silent_after_one_event(seconds: float) -> Body:
    """An event stream that sends one event, then nothing for ``seconds``."""

    def pieces() -> Iterator[bytes]:
        yield EVENT
        time.sleep(seconds)

    return Body(pieces, headers={"content-type": "text/event-stream"}, chunked=True)


def _read_stream(client: SkytellsClient, url: str, deadline_s: float, idle_s: float) -> Any:
    """Open ``url`` as an event stream, read it until it ends or fails; what came, or the error."""
    got: list[bytes] = []

    def op() -> Any:
        opened = yield OpenStream(url, {}, False, time.monotonic() + deadline_s, idle_s)
        assert opened.stream is not None, opened
        threads.append(set(threading.enumerate()))
        try:
            while chunk := (yield ReadStream(opened.stream)):
                got.append(chunk)
        finally:
            yield CloseStream(opened.stream)
        return got

    threads: list[set[threading.Thread]] = []
    try:
        return client._driver.run(op()), threads
    except skytells.SkytellsError as error:
        return (error, got), threads


@pytest.mark.parametrize("kind", ["own", "http_client"])
def test_a_silent_stream_ends_at_the_idle_timeout_with_no_thread_of_its_own(
    server: HostileServer, kind: str
) -> None:
    server.route("GET", "/v1/stream", _silent_after_one_event(60))
    http = httpx.Client() if kind == "http_client" else None
    before = set(threading.enumerate())
    with SkytellsClient("sk-test", base_url=server.base_url, http_client=http) as client:
        # The deadline is past the 60 s of silence, after which the stream ends: only the idle
        # timeout can make this a timeout.
        (outcome, got), threads = _read_stream(client, f"{server.base_url}/stream", 600, 0.3)
    if http is not None:
        http.close()
    assert isinstance(outcome, skytells.APITimeoutError) and outcome.error_id == "REQUEST_TIMEOUT"
    assert b"".join(got) == EVENT  # what came before the silence was read
    # The only thread started meanwhile is the server's, for its one connection: the open
    # stream has no watchdog thread of the client's. A client of yours (whose socket the SDK
    # cannot reach) reads on one exchange thread of its own, so that its reads keep the
    # deadline and the idle timeout too.
    started_threads = threads[0] - before
    ours = {t for t in started_threads if t.name == "skytells-httpx-exchange"}
    assert len(threads) == 1 and len(ours) == (1 if kind == "http_client" else 0)
    assert len(started_threads - ours) == len(server.seen("GET", "/v1/stream"))


def test_a_stream_deadline_ends_a_server_that_drips_its_headers() -> None:
    """Every header byte arrives within the idle timeout; only the stream's deadline stops it."""
    dripping = _dripping_server(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n" * 200)
    with dripping as url:
        with SkytellsClient("sk-test", base_url=url) as client:
            with pytest.raises(skytells.APITimeoutError):
                _read_stream_open(client, f"{url}/stream", deadline_s=0.5, idle_s=5)
        assert not dripping.finished.is_set()  # it ended while the server was still sending


def _read_stream_open(client: SkytellsClient, url: str, deadline_s: float, idle_s: float) -> Any:
    def op() -> Any:
        return (yield OpenStream(url, {}, False, time.monotonic() + deadline_s, idle_s))

    return client._driver.run(op())


class _dripping_server:
    """A raw socket server answering any request with ``response``, one byte every 20 ms."""

    def __init__(self, response: bytes, at_once: bytes = b"") -> None:
        self.response, self.at_once = response, at_once
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.stop = threading.Event()
        self.finished = threading.Event()  # every byte of the response was sent

    def __enter__(self) -> str:
        threading.Thread(target=self._serve, daemon=True).start()
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1"

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        with connection:
            connection.recv(65536)
            if self.at_once:
                connection.sendall(self.at_once)
            for byte in self.response:
                if self.stop.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the client hung up: what the test wants
                time.sleep(0.02)
            self.finished.set()


def test_your_http_client_is_held_to_the_deadline_while_the_headers_trickle() -> None:
    """httpx's timeout is per read and the SDK cannot reach the socket of a client it did not
    make: the send runs on a thread of its own, and the call ends at the deadline."""
    dripping = _dripping_server(b"HTTP/1.1 200 OK\r\nx-pad: " + b"a" * 2000)  # 40 s of headers
    with dripping as url, httpx.Client() as http:
        sdk = SkytellsClient("k", base_url=url, timeout=500, max_retries=0, http_client=http)
        with pytest.raises(skytells.APITimeoutError) as info:
            sdk.predictions.get("p")
        assert info.value.error_id == "REQUEST_TIMEOUT"
        assert not dripping.finished.is_set()  # it ended while the server was still sending


@pytest.mark.parametrize("kind", ["own", "http_client"])
def test_a_chunk_size_line_that_trickles_cannot_outlast_the_deadline(kind: str) -> None:
    """The headers came at once; then a chunk-size line that never ends, a byte every 20 ms
    (httpx's per-read timeout never fires, and it returns no chunk until the line ends)."""
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    dripping = _dripping_server(b"0" * 2000, at_once=head)  # 40 s of one line
    http = httpx.Client() if kind == "http_client" else None
    with dripping as url:
        sdk = SkytellsClient("k", base_url=url, timeout=500, max_retries=0, http_client=http)
        with pytest.raises(skytells.APITimeoutError) as info:
            sdk.models.list()
        assert info.value.error_id == "REQUEST_TIMEOUT"
        assert not dripping.finished.is_set()  # it ended while the server was still sending
    if http is not None:
        http.close()


def test_your_http_client_is_held_to_the_deadline_between_reads(scripted: ScriptedServer) -> None:
    # httpx's timeout is per read; the adapter checks the deadline between the body's reads.
    scripted.script(Reply(200, {"id": "p", "status": "succeeded", "pad": "x" * 400}, drip=0.02))
    with httpx.Client() as http:
        sdk = SkytellsClient(
            "k", base_url=scripted.base_url, timeout=300, max_retries=0, http_client=http
        )
        with pytest.raises(skytells.APITimeoutError) as info:
            sdk.predictions.get("p")
    assert info.value.error_id == "REQUEST_TIMEOUT" and info.value.http_status == 408


def test_your_http_client_carries_calls_with_its_own_hooks(scripted: ScriptedServer) -> None:
    scripted.script(Reply(body=prediction("starting")))
    seen: list[str] = []
    with httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]}) as http:
        with SkytellsClient("sk-test-key", base_url=scripted.base_url, http_client=http) as sdk:
            assert sdk.predictions.get("pred_abc123")["status"] == "starting"
        assert not http.is_closed  # a client of yours is yours to close
    assert seen == [f"{scripted.base_url}/predictions/pred_abc123"]


def test_no_proxy_star_sends_every_request_directly(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "*")
    scripted.script(Reply(body=prediction("starting")))
    with SkytellsClient("sk-test-key", base_url=scripted.base_url, max_retries=0) as sdk:
        assert sdk.predictions.get("pred_abc123")["status"] == "starting"
    assert [seen.path for seen in scripted.requests] == ["/v1/predictions/pred_abc123"]


def test_a_proxy_for_https_only_leaves_http_requests_direct(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # nothing listens there
    scripted.script(Reply(body=prediction("starting")))
    with SkytellsClient("sk-test-key", base_url=scripted.base_url, max_retries=0) as sdk:
        assert sdk.predictions.get("pred_abc123")["status"] == "starting"


def _modules_after(code: str) -> set[str]:
    script = textwrap.dedent(
        f"""
        import sys
        {code}
        print(" ".join(sorted({{m.split(".")[0] for m in sys.modules}})))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_import_skytells_and_a_sync_client_load_no_http_stack() -> None:
    loaded = _modules_after("import skytells; skytells.SkytellsClient('sk-x')")
    assert not loaded & {"aiohttp", "httpx", "httpcore", "urllib3"}, loaded


def test_the_first_sync_request_loads_urllib3_alone(emu: Any) -> None:
    loaded = _modules_after(
        "import skytells\n"
        f"        c = skytells.SkytellsClient({emu.api_key!r}, base_url={emu.base_url!r})\n"
        "        c.models.list()"
    )
    assert "urllib3" in loaded
    assert not loaded & {"aiohttp", "httpx", "httpcore"}, loaded


def test_an_async_callback_on_the_sync_client_is_a_clear_error(client: SkytellsClient) -> None:
    async def on_progress(state: dict[str, Any]) -> None:
        raise AssertionError("never awaited")

    with pytest.raises(TypeError, match="use AsyncSkytellsClient for async callbacks"):
        client.run("flux-edge", input={"prompt": "x"}, on_progress=on_progress)


def test_a_socks_proxy_in_the_environment_is_a_clear_error_not_a_network_fault(
    scripted: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALL_PROXY", "socks5://127.0.0.1:1080")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with SkytellsClient("sk-test", base_url=scripted.base_url) as client:
        with pytest.raises(skytells.SkytellsError) as caught:
            client.models.list()
    assert caught.value.error_id == "UNSUPPORTED_PROXY" and "http_client" in str(caught.value)
    assert scripted.requests == []  # refused at once, not retried as a network fault


def test_a_server_that_reads_the_body_too_slowly_is_a_timeout_not_a_network_fault() -> None:
    """The create's body (12 MB) cannot all be sent before the deadline: the server never reads."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    try:
        with SkytellsClient("k", base_url=url, timeout=500, max_retries=0) as sdk:
            with pytest.raises(skytells.APITimeoutError) as info:
                # An input that is no object: nothing to look for in the listing afterwards
                # (tests/sdk/test_reconcile.py), so the send's own error is what is raised.
                sdk.predictions.create({"model": "m", "input": ["x" * 12_000_000]})
        assert info.value.error_id == "REQUEST_TIMEOUT" and info.value.http_status == 408
    finally:
        for sock in accepted:
            sock.close()
        listener.close()
