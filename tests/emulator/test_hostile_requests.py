"""What an outsider's attack on the emulator found, each over a real socket.

Request bodies that are not strict JSON (lone surrogates, NaN, deep nesting), the answer to a
bug on a keep-alive connection, pipelined requests served past the header timeout, slow bodies,
large outputs on a disk that cannot hold them, and the error ids of statuses the spec lacks.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator
from tests.emulator.test_local_server_safety import (
    _all_closed_by_server,
    _closed_by_server,
    _connect,
    _emulator_process,
    _exchange,
    _read_response,
    _request,
)

KEY = "sk-emulator-0000000000000000"
JSON = {"content-type": "application/json"}


def _strict(text: bytes) -> Any:
    """Parse as strict JSON: no NaN or Infinity, valid UTF-8."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in an answer")

    return json.loads(text.decode("utf-8"), parse_constant=refuse)


def _error(response: httpx.Response, status: int, error_id: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = _strict(response.content)["error"]
    assert (error["http_status"], error["error_id"]) == (status, error_id)
    return error


def _total(http: httpx.Client) -> int:
    listing = http.get("/predictions")
    assert listing.status_code == 200, listing.text
    return int(_strict(listing.content)["pagination"]["total"])


# ---- 1, 5, 6. request bodies that are not strict JSON -----------------------------------------


BAD_BODIES = {
    "lone surrogate": b'{"model":"skytells-chat","input":{"prompt":"\\udc80"}}',
    "lone surrogate in a key": b'{"model":"skytells-chat","input":{"prompt":"x","\\ud800":1}}',
    "NaN": b'{"model":"skytells-chat","input":{"prompt":"x","temperature":NaN}}',
    "Infinity": b'{"model":"skytells-chat","input":{"prompt":"x","temperature":Infinity}}',
    "-Infinity": b'{"model":"skytells-chat","input":{"prompt":"x","temperature":-Infinity}}',
    "a number too large": b'{"model":"skytells-chat","input":{"prompt":"x","temperature":1e999}}',
    "100000 levels": b"[" * 100_000 + b"]" * 100_000,
    "65 levels in the input": b'{"model":"skytells-chat","input":{"prompt":"x","a":'
    + b"[" * 63
    + b"]" * 63
    + b"}}",
}


@pytest.mark.parametrize("honour_idempotency", [False, True])
@pytest.mark.parametrize("name", list(BAD_BODIES))
def test_a_body_that_is_not_strict_json_is_refused_and_creates_nothing(
    http: httpx.Client,
    emu: Emulator,
    caplog: pytest.LogCaptureFixture,
    name: str,
    honour_idempotency: bool,
) -> None:
    emu.configure(honour_idempotency=honour_idempotency)
    before = _total(http)
    headers = {**JSON, "idempotency-key": f"k-{name}"}
    with caplog.at_level(logging.ERROR):
        for path in ("/predict", "/predictions"):
            answer = http.post(path, content=BAD_BODIES[name], headers=headers)
            _error(answer, 400, "INVALID_REQUEST")
    assert _total(http) == before  # nothing was created
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_a_control_api_body_that_is_not_strict_json_is_refused(
    control: httpx.Client, emu: Emulator
) -> None:
    for body in (b'{"rate_limit": NaN}', b'{"message": "\\udc80"}', b"[" * 10_000):
        _error(
            control.patch("/_emulator/config", content=body, headers=JSON), 400, "INVALID_REQUEST"
        )
    assert emu.config.rate_limit is None


def test_sixty_four_levels_of_nesting_are_accepted(http: httpx.Client) -> None:
    deep = "[" * 62 + "]" * 62  # body object (1) + input (2) + 62 arrays = 64 levels
    body = '{"model":"skytells-chat","input":{"prompt":"x","a":' + deep + "}}"
    answer = http.post("/predict", content=body.encode(), headers=JSON)
    _error(answer, 422, "INVALID_INPUT")  # refused by the model's schema, not by the parser


def test_nothing_stored_can_break_an_answer(http: httpx.Client, emu: Emulator) -> None:
    """The Python control API takes any text: a lone surrogate in a failure message reaches the
    listing, the prediction, its events and a webhook-free stream as an escape, never a 500."""
    created = http.post("/predict", json={"model": "skytells-chat", "input": {"prompt": "x"}})
    prediction_id = created.json()["id"]
    emu.configure(time_scale=1.0)
    slow = http.post("/predict", json={"model": "mera", "input": {"prompt": "x"}})
    failed = emu.fail_prediction(slow.json()["id"], "bad \udc80 text")
    assert failed["status"] == "failed"
    for path in (
        "/predictions",
        f"/predictions/{slow.json()['id']}",
        f"/predictions/{prediction_id}",
    ):
        answer = http.get(path)
        assert answer.status_code == 200, answer.text
        _strict(answer.content)
    assert "bad \\udc80 text" in http.get("/predictions").text
    events = http.get(
        f"/predictions/{slow.json()['id']}/events", headers={"accept": "text/event-stream"}
    )
    assert events.status_code == 200 and "\\udc80" in events.text
    # A fault's body from Python, with what JSON cannot carry: answered as strict JSON.
    error = {"http_status": 503, "message": "x", "error_id": "SERVICE_UNAVAILABLE"}
    envelope = {"status": False, "response": "\udc80", "error": {**error, "details": {}}}
    envelope["error"]["details"] = {"n": float("nan")}
    emu.add_fault("status", status=503, path="/v1/models", count=1, body=envelope)
    faulted = http.get("/models")
    assert faulted.status_code == 503
    assert _strict(faulted.content)["response"] == "\udc80"
    assert _strict(faulted.content)["error"]["details"] == {"n": None}


# ---- 1. a 500 says Connection: close ----------------------------------------------------------


def test_an_internal_error_closes_the_connection_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Emulator(time_scale=0) as emu:
        store = emu.app.state.store

        def broken(prediction_id: str) -> Any:  # a bug the emulator cannot be made to have
            raise RuntimeError("boom")

        monkeypatch.setattr(store, "get", broken)
        host = f"127.0.0.1:{emu.port}"
        with _connect(emu.port) as sock:
            sock.sendall(_request("GET", "/v1/predictions/x", host, {"x-api-key": emu.api_key}))
            status, headers, body = _read_response(sock)
            assert status == 500 and headers.get("connection") == "close"
            assert _strict(body)["error"]["error_id"] == "INTERNAL_ERROR"
            assert _closed_by_server(sock, time.monotonic() + 30)
        # A keep-alive client goes on without meeting a reset.
        with httpx.Client(base_url=emu.base_url, headers={"x-api-key": emu.api_key}) as client:
            for _ in range(3):
                assert client.get("/predictions/x").status_code == 500
                assert client.get("/models").status_code == 200


# ---- 3. the last request of a pipeline ----------------------------------------------------------


@pytest.fixture
def impatient() -> Any:
    """An emulator that gives clients 1 s to send a request."""
    with Emulator(time_scale=0, request_timeout=1.0) as emu:
        yield emu


def test_the_last_request_of_a_pipeline_is_served_past_the_header_timeout(
    impatient: Emulator,
) -> None:
    host = f"127.0.0.1:{impatient.port}"
    key = {"x-api-key": impatient.api_key}
    # The second request takes three times the header timeout to answer.
    impatient.add_fault("latency", path="/v1/predictions", method="GET", latency_ms=3000)
    first = _request("GET", "/v1/models", host, key)
    second = _request("GET", "/v1/predictions", host, key)
    with _connect(impatient.port) as sock:
        sock.sendall(first + second)  # one write: both requests' headers arrive together
        assert _read_response(sock)[0] == 200
        status, _, body = _read_response(sock)
        assert status == 200
        assert "pagination" in _strict(body)


# ---- 2. slow bodies ---------------------------------------------------------------------------


def _slow_body_head(port: int, length: int = 1_000_000) -> bytes:
    head = _request("POST", "/v1/predict", f"127.0.0.1:{port}", {"x-api-key": KEY, **JSON})
    return head.replace(b"Content-Length: 0", f"Content-Length: {length}".encode())


def test_a_body_trickling_in_is_answered_408_and_closed(impatient: Emulator) -> None:
    with _connect(impatient.port) as sock:
        sock.sendall(_slow_body_head(impatient.port) + b"{")
        deadline, answer = time.monotonic() + 30, b""
        try:
            while time.monotonic() < deadline and b"\r\n\r\n" not in answer:
                sock.sendall(b" ")  # a byte every 0.3 s: never stalled for the 1 s timeout
                readable, _, _ = select.select([sock], [], [], 0.3)
                if readable:
                    answer += sock.recv(65536)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        head, _, rest = answer.partition(b"\r\n\r\n")
        length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
        while len(rest) < length and time.monotonic() < deadline:  # the body may come later
            readable, _, _ = select.select([sock], [], [], 0.3)
            chunk = sock.recv(65536) if readable else b""
            if readable and not chunk:
                break
            rest += chunk
        body = _strict(rest[:length])
        assert body["error"]["error_id"] == "REQUEST_TIMEOUT"
        assert _closed_by_server(sock, time.monotonic() + 30)


def test_a_body_read_late_is_not_taken_for_a_slow_one(impatient: Emulator) -> None:
    """The rate is the client's: a body the server reads only after a delay of its own (here a
    latency fault of twice the timeout) is not refused."""
    impatient.add_fault("latency", path="/v1/predict", method="POST", latency_ms=2000)
    body = json.dumps({"model": "skytells-chat", "input": {"prompt": "x" * 200_000}}).encode()
    raw = _request(
        "POST", "/v1/predict", f"127.0.0.1:{impatient.port}", {"x-api-key": KEY, **JSON}, body
    )
    status, _, answer = _exchange(impatient.port, raw)
    assert status == 200, answer[:300]


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file handle limits are POSIX")


@posix_only
def test_connections_sending_a_body_count_toward_the_connection_cap(tmp_path: Path) -> None:
    # 600 file handles: at most 300 connections may wait for their client at once; the
    # timeout is far away, so only making room can close any of them.
    process, port = _emulator_process(tmp_path / "log", 600, "--request-timeout", "600")
    slow: list[socket.socket] = []
    try:
        for _ in range(360):
            sock = _connect(port)
            sock.sendall(_slow_body_head(port) + b"{")
            slow.append(sock)
        models = _request("GET", "/v1/models", f"127.0.0.1:{port}", {"x-api-key": KEY})
        assert _exchange(port, models)[0] == 200
        still_open = _all_closed_by_server(slow, within=5.0)
        assert len(still_open) <= 300  # the oldest were closed to make room
        assert still_open[-1] == len(slow) - 1  # not the newest
    finally:
        for sock in slow:
            sock.close()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


# ---- 4. large outputs on a disk that cannot hold them -------------------------------------------


@posix_only
def test_a_large_output_that_cannot_be_written_is_a_507_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    import resource

    files = tmp_path / "tmp"
    files.mkdir()

    def limit() -> None:  # files of at most 4 MiB: a bigger write fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4 << 20, 4 << 20))

    command = [sys.executable, "-m", "skytells.emulator", "--port", "0", "--time-scale", "0"]
    env = {**os.environ, "TMPDIR": str(files)}
    with (tmp_path / "log").open("w") as stderr:
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=stderr, text=True, preexec_fn=limit, env=env
        )
    try:
        assert process.stdout is not None
        match = re.search(r":(\d+)/v1", process.stdout.readline())
        assert match, (tmp_path / "log").read_text()
        root = f"http://127.0.0.1:{match.group(1)}"
        with httpx.Client(base_url=root, headers={"x-api-key": KEY}, timeout=60) as client:
            created = client.post(
                "/v1/predict", json={"model": "skytells-tts", "input": {"text": "hi"}}
            )
            prediction_id, deadline = created.json()["id"], time.monotonic() + 60
            while client.get(f"/v1/predictions/{prediction_id}").json()["status"] != "succeeded":
                assert time.monotonic() < deadline, "the prediction never succeeded"
                time.sleep(0.05)
            path = f"/_emulator/predictions/{created.json()['id']}/large-output"
            answer = client.post(path, json={"bytes": 16 << 20})
            _error(answer, 507, "INTERNAL_ERROR")
            # No partial file is left behind, and the prediction keeps its outputs.
            assert not list(files.rglob("large-*")) and not list(files.rglob("*.part"))
            kept = client.get(f"/v1/predictions/{created.json()['id']}").json()
            assert client.get(kept["output"][0]).status_code == 200
            # A size that fits is written.
            ok = client.post(path, json={"bytes": 1 << 20})
            assert (
                ok.status_code == 200 and len(client.get(ok.json()["output"][0]).content) == 1 << 20
            )
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


# ---- 10. one error id for each status the spec's table lacks -------------------------------------


def test_statuses_the_spec_lacks_use_one_rule_everywhere(
    http: httpx.Client, anon: httpx.Client, emu: Emulator, impatient: Emulator
) -> None:
    # 408: the guard's own and a fault's are both REQUEST_TIMEOUT (the spec's id for a 408).
    head = _request(
        "POST", "/v1/predict", f"127.0.0.1:{impatient.port}", {"x-api-key": KEY, **JSON}
    ).replace(b"Content-Length: 0", b"Content-Length: 100")
    with _connect(impatient.port) as sock:
        sock.sendall(head + b"{")
        status, _, body = _read_response(sock)
    assert (status, _strict(body)["error"]["error_id"]) == (408, "REQUEST_TIMEOUT")
    emu.add_fault("status", status=408, path="/v1/models", count=1)
    _error(http.get("/models"), 408, "REQUEST_TIMEOUT")
    # Other 4xx outside the table: the class's id, INVALID_REQUEST.
    _error(http.put("/models"), 405, "INVALID_REQUEST")
    big = _request("POST", "/v1/predict", f"127.0.0.1:{emu.port}", {"x-api-key": KEY})
    status, _, body = _exchange(
        emu.port, big.replace(b"Content-Length: 0", b"Content-Length: 99999999")
    )
    assert (status, _strict(body)["error"]["error_id"]) == (413, "INVALID_REQUEST")
    foreign = _request("GET", "/v1/models", f"other.test:{emu.port}", {"x-api-key": KEY})
    status, _, body = _exchange(emu.port, foreign)
    assert (status, _strict(body)["error"]["error_id"]) == (421, "INVALID_REQUEST")
    # A 404 is in the table: a missing file is ENDPOINT_NOT_FOUND, not an id of its own.
    _error(anon.get(f"{emu.root_url}/files/nope/out-0.webp"), 404, "ENDPOINT_NOT_FOUND")
