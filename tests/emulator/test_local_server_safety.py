"""The emulator as a local server: what any web page or a hostile local client can do to it.

Over raw sockets, because the requests here are ones an HTTP library would not send: a browser's
cross-site form post, a foreign `Host`, a 1 GiB body, headers that never end.
"""

from __future__ import annotations

import json
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator

GiB = 1 << 30
MiB = 1 << 20


# ---- a raw HTTP client ------------------------------------------------------------------------


def _connect(port: int, timeout: float = 20.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _request(
    method: str,
    path: str,
    host: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PATCH", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response: (status, headers, body); the body by Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of a body"
        rest += chunk
    return int(status_line.split()[1]), headers, rest[:length]


def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with _connect(port) as sock:
        sock.sendall(raw)
        return _read_response(sock)


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """True once the server closed `sock` (EOF or reset), reading and dropping any answer; False
    if it is still open at `deadline` (time.monotonic)."""
    sock.setblocking(False)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        readable, _, _ = select.select([sock], [], [], remaining)
        if not readable:
            continue
        try:
            if not sock.recv(65536):
                return True
        except ConnectionResetError:
            return True
        except BlockingIOError:
            continue


def _all_closed_by_server(socks: list[socket.socket], within: float) -> list[int]:
    """Indexes of the sockets the server had not closed after `within` seconds (all at once)."""
    deadline = time.monotonic() + within
    open_ = {sock.fileno(): index for index, sock in enumerate(socks)}
    by_fd = {sock.fileno(): sock for sock in socks}
    for sock in socks:
        sock.setblocking(False)
    while open_ and time.monotonic() < deadline:
        readable, _, _ = select.select(list(open_), [], [], deadline - time.monotonic())
        for fd in readable:
            try:
                if by_fd[fd].recv(65536):
                    continue
            except BlockingIOError:
                continue
            except ConnectionResetError:
                pass
            del open_[fd]
    return sorted(open_.values())


@pytest.fixture
def host(emu: Emulator) -> str:
    return f"127.0.0.1:{emu.port}"


def _control_headers(emu: Emulator, **extra: str) -> dict[str, str]:
    return {"x-api-key": emu.api_key, "Content-Type": "application/json", **extra}


# ---- 9. the control API needs the key and refuses cross-site requests -----------------------


FAULT = json.dumps({"kind": "status", "status": 500}).encode()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/_emulator/faults", FAULT),
        ("POST", "/_emulator/reset", b""),
        ("PATCH", "/_emulator/config", b'{"rate_limit": 1}'),
        ("POST", "/_emulator/failures", b'{"count": 5}'),
    ],
)
def test_a_cross_site_text_plain_post_without_key_changes_nothing(
    emu: Emulator, host: str, method: str, path: str, body: bytes
) -> None:
    # What `<form enctype="text/plain" method="post" action="http://127.0.0.1:PORT/...">` sends.
    browser = {
        "Content-Type": "text/plain",
        "Origin": "https://attacker.example",
        "Sec-Fetch-Site": "cross-site",
        "Sec-Fetch-Mode": "navigate",
    }
    emu.configure(rate_limit=100)
    status, _, answer = _exchange(emu.port, _request(method, path, host, browser, body))
    assert status in (401, 403)
    assert json.loads(answer)["error"]["error_id"] in ("UNAUTHORIZED", "FORBIDDEN")
    # Nothing changed: no fault rule, no failure rule, the settings as they were.
    assert emu.faults() == [] and emu.state()["failure_rules"] == []
    assert emu.config.rate_limit == 100
    models = _request("GET", "/v1/models", host, {"x-api-key": emu.api_key})
    assert _exchange(emu.port, models)[0] == 200


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"Origin": "https://attacker.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://localhost:1"}, 403),  # another local port: another origin
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Content-Type": "text/plain"}, 415),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"Content-Type": "multipart/form-data; boundary=x"}, 415),
    ],
)
def test_the_control_api_refuses_what_a_web_page_can_send_even_with_the_key(
    emu: Emulator, host: str, extra: dict[str, str], status: int
) -> None:
    raw = _request("POST", "/_emulator/faults", host, _control_headers(emu, **extra), FAULT)
    assert _exchange(emu.port, raw)[0] == status
    assert emu.faults() == []
    # What the emulator's own page or a tool sends is served.
    own = _control_headers(emu, Origin=f"http://{host}", **{"Sec-Fetch-Site": "same-origin"})
    status, _, body = _exchange(emu.port, _request("POST", "/_emulator/faults", host, own, FAULT))
    assert status == 200 and json.loads(body)["kind"] == "status"
    bearer = {"Authorization": f"Bearer {emu.api_key}"}
    assert _exchange(emu.port, _request("DELETE", "/_emulator/faults", host, bearer))[0] == 200
    assert emu.faults() == []
    key = {"x-api-key": emu.api_key}  # a body-less POST needs no Content-Type
    assert _exchange(emu.port, _request("POST", "/_emulator/reset", host, key))[0] == 200


# ---- 10. only the emulator's own host names ---------------------------------------------------


CREATE = json.dumps({"model": "flux-edge", "input": {"prompt": "a fox"}}).encode()


@pytest.mark.parametrize(
    "foreign",
    [
        "attacker.example:{port}",
        "attacker.example",
        "localhost.attacker.example:{port}",
        "127.0.0.1.nip.io:{port}",
        "127.0.0.1:{other}",  # the right address, another port
        "127.0.0.1",  # port 80 implied
        "[::1]:{other}",
        "127.0.0.1:{port}@attacker.example",
        "",
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/predictions", CREATE),
        ("GET", "/v1/models", b""),
        ("GET", "/openapi.json", b""),
        ("GET", "/_emulator/state", b""),
    ],
)
def test_a_foreign_host_is_refused_and_never_echoed(
    emu: Emulator, foreign: str, method: str, path: str, body: bytes
) -> None:
    host = foreign.format(port=emu.port, other=emu.port + 1 if emu.port < 65535 else 1)
    headers = _control_headers(emu)
    status, _, answer = _exchange(emu.port, _request(method, path, host, headers, body))
    assert status == 421
    assert json.loads(answer)["error"]["http_status"] == 421
    assert b"attacker" not in answer and b"nip.io" not in answer
    assert emu.predictions() == []


def test_the_loopback_names_and_allowed_hosts_are_served_and_nothing_else() -> None:
    with Emulator(time_scale=0, allowed_hosts=["emulator.test"]) as emu:
        headers = {"x-api-key": emu.api_key, "Content-Type": "application/json"}
        port = emu.port
        # What the client sent -> the origin of the URLs in the answer: the canonical form of
        # the host (no trailing dot, lower case, the port without leading zeros; ::1 on a
        # server listening on 127.0.0.1 only is the server's own address, so the URLs work).
        names = {
            f"127.0.0.1:{port}": f"127.0.0.1:{port}",
            f"localhost:{port}": f"localhost:{port}",
            f"LOCALHOST:{port}": f"localhost:{port}",
            f"[::1]:{port}": f"127.0.0.1:{port}",
            f"127.0.0.1.:{port}": f"127.0.0.1:{port}",
            f"127.0.0.1:0{port}": f"127.0.0.1:{port}",
            f"emulator.test:{port}": f"emulator.test:{port}",
            f"Emulator.Test.:{port}": f"emulator.test:{port}",
        }
        for host, canonical in names.items():
            raw = _request("POST", "/v1/predictions", host, headers, CREATE)
            status, _, body = _exchange(emu.port, raw)
            assert status == 200, host
            urls = json.loads(body)["urls"]
            assert all(url.startswith(f"http://{canonical}/") for url in urls.values() if url)
        other = _request("GET", "/v1/models", f"other.test:{emu.port}", headers)
        assert _exchange(emu.port, other)[0] == 421


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:\xb2",  # a superscript two: str.isdigit() says yes, int() says no
        "127.0.0.1:{port}\xb2",
        "[127.0.0.1]:{port}",  # brackets hold IPv6 addresses only
        "127.0.0.1:+{port}",
        "127.0.0.1:{port}:{port}",
        "127.0.0.1:99999999999999999999",
        "127.0.0.1 :{port}",
        "127.0.0.1:",
        "[::1:{port}",
        "999.0.0.1:{port}",
        "-localhost:{port}",
        "",
    ],
)
def test_an_invalid_host_is_answered_421_in_the_envelope(emu: Emulator, host: str) -> None:
    raw = _request("GET", "/v1/models", host.format(port=emu.port), {"x-api-key": emu.api_key})
    status, headers, body = _exchange(emu.port, raw)
    assert status == 421
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert (error["http_status"], error["error_id"]) == (421, "INVALID_REQUEST")


# ---- 11. bounded requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/_emulator/faults", {}),
        ("/v1/predictions", {}),
        ("/_emulator/reset", {"Origin": "https://attacker.example"}),  # refused anyway
    ],
)
def test_a_huge_content_length_is_refused_before_any_body_is_read(
    emu: Emulator, host: str, path: str, headers: dict[str, str]
) -> None:
    head = _request("POST", path, host, {**_control_headers(emu), **headers})
    head = head.replace(b"Content-Length: 0", f"Content-Length: {GiB}".encode())
    with _connect(emu.port) as sock:
        sock.sendall(head)  # and not one byte of the body: the answer comes first
        status, answered, _ = _read_response(sock)
        assert status in (413, 403)
        assert answered["connection"] == "close"
        assert _closed_by_server(sock, time.monotonic() + 20)


def test_a_chunked_body_is_counted_as_it_is_read(emu: Emulator, host: str) -> None:
    head = _request("POST", "/_emulator/faults", host, _control_headers(emu))
    head = head.replace(b"Content-Length: 0", b"Transfer-Encoding: chunked")
    chunk = b"%x\r\n%s\r\n" % (MiB, b" " * MiB)
    sent = 0
    with _connect(emu.port) as sock:
        sock.sendall(head)
        sock.settimeout(20)
        try:
            while sent < GiB:
                sock.sendall(chunk)
                sent += MiB
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        # The server stopped reading at its limit (64 KiB), whatever the socket buffers held.
        assert sent < 64 * MiB
        try:
            status, _, _ = _read_response(sock)
            assert status == 413
        except (ConnectionResetError, AssertionError):
            pass  # the answer may be lost to the reset of a connection closed with data unread
    assert emu.faults() == []


@pytest.fixture(scope="module")
def subprocess_emulator() -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`python -m skytells.emulator` in its own process (its memory measured apart from ours)."""
    process = subprocess.Popen(
        [
            *[sys.executable, "-m", "skytells.emulator", "--port", "0", "--time-scale", "0"],
            *["--allowed-host", "emulator.test"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/v1", line)
    assert match, line
    try:
        yield process, int(match.group(1))
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match
    return int(match.group(1)) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_a_1_gib_body_does_not_grow_the_servers_memory(
    subprocess_emulator: tuple[subprocess.Popen[str], int],
) -> None:
    process, port = subprocess_emulator
    host = f"127.0.0.1:{port}"
    headers = {"x-api-key": "sk-emulator-0000000000000000", "Content-Type": "application/json"}
    before = _peak_rss(process.pid)
    for path, framing in [
        ("/_emulator/faults", b"Transfer-Encoding: chunked"),
        ("/v1/predictions", b"Transfer-Encoding: chunked"),
        ("/_emulator/faults", f"Content-Length: {GiB}".encode()),
    ]:
        head = _request("POST", path, host, headers).replace(b"Content-Length: 0", framing)
        chunked = b"chunked" in framing
        block = b"%x\r\n%s\r\n" % (MiB, b" " * MiB) if chunked else b" " * MiB
        sent = 0
        with _connect(port) as sock:
            sock.sendall(head)
            try:
                while sent < GiB:
                    sock.sendall(block)
                    sent += MiB
            except (BrokenPipeError, ConnectionResetError):
                pass
        assert sent < 64 * MiB, f"{path}: the server kept reading ({sent} bytes)"
    assert _peak_rss(process.pid) - before < 64 * MiB


def test_the_command_line_adds_host_names(
    subprocess_emulator: tuple[subprocess.Popen[str], int],
) -> None:
    _, port = subprocess_emulator
    key = {"x-api-key": "sk-emulator-0000000000000000"}
    for name, status in [("emulator.test", 200), ("localhost", 200), ("other.test", 421)]:
        assert _exchange(port, _request("GET", "/v1/models", f"{name}:{port}", key))[0] == status


def test_the_large_output_endpoint_is_bounded(
    control: httpx.Client, anon: httpx.Client, emu: Emulator
) -> None:
    created = control.post(
        emu.base_url + "/predictions", json={"model": "skytells-tts", "input": {"text": "hi"}}
    )
    assert created.status_code == 200
    prediction_id = created.json()["id"]
    path = f"/_emulator/predictions/{prediction_id}/large-output"
    assert anon.post(path, json={"bytes": 1000}).status_code == 401
    too_big = control.post(path, json={"bytes": 8 * GiB})
    assert too_big.status_code == 400
    assert too_big.json()["error"]["details"] == {"parameter": "bytes"}


# ---- 11. clients that never finish ------------------------------------------------------------


@pytest.fixture
def impatient() -> Iterator[Emulator]:
    """An emulator that gives clients 1 s to send a request."""
    with Emulator(time_scale=0, request_timeout=1.0) as emu:
        yield emu


def test_connections_that_never_finish_their_headers_are_closed(impatient: Emulator) -> None:
    host = f"127.0.0.1:{impatient.port}"
    slow: list[socket.socket] = []
    try:
        for index in range(300):
            sock = _connect(impatient.port)
            sock.sendall(b"GET /v1/models HTTP/1.1\r\n" if index % 2 else b"G")
            slow.append(sock)
        # A normal request is still answered while they wait.
        models = _request("GET", "/v1/models", host, {"x-api-key": impatient.api_key})
        assert _exchange(impatient.port, models)[0] == 200
        # And the server closes every one of them (the bound is loose: the timeout is 1 s).
        assert _all_closed_by_server(slow, within=30.0) == []
    finally:
        for sock in slow:
            sock.close()


posix_only = pytest.mark.skipif(sys.platform == "win32", reason="file handle limits are POSIX")


def _emulator_process(
    log: Path, file_handles: int, *options: str
) -> tuple[subprocess.Popen[str], int]:
    """`python -m skytells.emulator` in a process of its own with `file_handles` file handles."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (file_handles, file_handles))

    command = [sys.executable, "-m", "skytells.emulator", "--port", "0", "--time-scale", "0"]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*command, *options],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            preexec_fn=limit,
        )
    assert process.stdout is not None
    match = re.search(r":(\d+)/v1", process.stdout.readline())
    assert match, log.read_text()
    return process, int(match.group(1))


@posix_only
def test_too_many_waiting_connections_make_room_for_new_ones(tmp_path: Path) -> None:
    # 600 file handles: at most 300 connections may wait for headers at once; the timeout is
    # far away, so only making room can close any of them.
    process, port = _emulator_process(tmp_path / "log", 600, "--request-timeout", "600")
    slow: list[socket.socket] = []
    try:
        for _ in range(360):
            sock = _connect(port)
            sock.sendall(b"GET /v1/models HTTP/1.1\r\n")
            slow.append(sock)
        host = f"127.0.0.1:{port}"
        models = _request("GET", "/v1/models", host, {"x-api-key": "sk-emulator-0000000000000000"})
        assert _exchange(port, models)[0] == 200
        still_open = _all_closed_by_server(slow, within=5.0)
        assert len(still_open) <= 300  # the oldest were closed to make room
        assert still_open[-1] == len(slow) - 1  # not the newest
    finally:
        for sock in slow:
            sock.close()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


def test_a_client_trickling_its_headers_is_closed_too(impatient: Emulator) -> None:
    with _connect(impatient.port) as sock:
        deadline = time.monotonic() + 30
        closed = False
        try:
            while time.monotonic() < deadline:  # a byte every 0.2 s: never idle for long
                sock.sendall(b"X")
                readable, _, _ = select.select([sock], [], [], 0.2)
                if readable and not sock.recv(1024):
                    closed = True
                    break
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        assert closed


def test_a_stalled_body_is_answered_408_and_closed(impatient: Emulator) -> None:
    head = _request(
        "POST", "/v1/predictions", f"127.0.0.1:{impatient.port}", _control_headers(impatient)
    )
    head = head.replace(b"Content-Length: 0", b"Content-Length: 100")
    with _connect(impatient.port) as sock:
        sock.sendall(head + b'{"model": ')
        status, _, _ = _read_response(sock)
        assert status == 408
        assert _closed_by_server(sock, time.monotonic() + 30)


@posix_only
def test_exhausted_file_handles_keep_the_log_bounded_and_the_server_recovers(
    tmp_path: Path,
) -> None:
    log = tmp_path / "emulator.log"
    process, port = _emulator_process(log, 128, "--request-timeout", "2")
    flood: list[socket.socket] = []
    try:
        host = f"127.0.0.1:{port}"
        key = {"x-api-key": "sk-emulator-0000000000000000", "Content-Type": "application/json"}
        stalled = _request("POST", "/v1/predictions", host, key).replace(
            b"Content-Length: 0", b"Content-Length: 100"
        )
        # Three times the server's file handles, each holding its request's body back.
        for _ in range(3 * 128):
            sock = _connect(port)
            sock.sendall(stalled)
            flood.append(sock)
        time.sleep(1.0)  # the server is out of file handles meanwhile: accept() fails
        # It recovers on its own (stalled requests time out), and answers normal requests.
        deadline, status = time.monotonic() + 60, 0
        while status != 200 and time.monotonic() < deadline:
            try:
                status = _exchange(port, _request("GET", "/v1/models", host, key))[0]
            except (OSError, AssertionError):
                time.sleep(0.2)
        assert status == 200
        assert _all_closed_by_server(flood, within=60.0) == []
        # And the log stayed small: each repeated error a few times, then counted.
        assert log.stat().st_size < 64 << 10, log.read_text()[:2000]
    finally:
        for sock in flood:
            sock.close()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)


# ---- 12. stopping does not depend on clients --------------------------------------------------


def test_stop_closes_everything_from_the_server_side(monkeypatch: pytest.MonkeyPatch) -> None:
    from skytells.emulator import _outputs

    rendering, resolving, release = threading.Event(), threading.Event(), threading.Event()
    downloads_only = threading.Event()
    real_render, real_getaddrinfo = _outputs.render_output, socket.getaddrinfo

    # Worker threads on a starved machine or behind a stalling resolver: they end only when the
    # test says so (after stop()): a render, and a webhook's DNS look-up.
    def slow_render(*args: Any, **kwargs: Any) -> Any:
        if downloads_only.is_set():  # not the renders that state sizes before success
            rendering.set()
            release.wait(120)
        return real_render(*args, **kwargs)

    def slow_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("stalling-dns.test", b"stalling-dns.test"):
            resolving.set()
            release.wait(120)
            raise socket.gaierror(socket.EAI_AGAIN, "temporary failure")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(_outputs, "render_output", slow_render)
    monkeypatch.setattr(socket, "getaddrinfo", slow_getaddrinfo)
    emu = Emulator(time_scale=1.0, stop_timeout=3.0, allow_remote_webhooks=True).start()
    host = f"127.0.0.1:{emu.port}"
    key = {"x-api-key": emu.api_key, "Content-Type": "application/json"}
    clients: dict[str, socket.socket] = {}
    try:
        with httpx.Client(base_url=emu.base_url, headers=key) as http:
            running = http.post("/predictions", json={"model": "mera", "input": {"prompt": "x"}})
            emu.configure(time_scale=0)
            # The second flux-edge has the first one's input: its size comes from the cache, so
            # its file is rendered on its first download.
            _, done, audio = (
                http.post(
                    "/predictions", json={"model": model, "input": input, "await": True}
                ).json()
                for model, input in [
                    ("flux-edge", {"prompt": "x"}),
                    ("flux-edge", {"prompt": "x"}),
                    ("skytells-tts", {"text": "x"}),
                ]
            )
            hooked = {"prompt": "x"}
            webhook = {"url": "http://stalling-dns.test:9/hook", "events": ["completed"]}
            http.post(
                "/predictions", json={"model": "flux-edge", "input": hooked, "webhook": webhook}
            )
            emu.configure(time_scale=1.0)
        downloads_only.set()
        stream = f"/v1/predictions/{running.json()['id']}/events"
        clients["event stream"] = _connect(emu.port)
        clients["event stream"].sendall(_request("GET", stream, host, key))
        held = json.dumps({"model": "mera", "input": {"prompt": "x"}, "await": True}).encode()
        clients["held create"] = _connect(emu.port)
        clients["held create"].sendall(_request("POST", "/v1/predictions", host, key, held))
        clients["keep-alive"] = _connect(emu.port)
        clients["keep-alive"].sendall(_request("GET", "/v1/models", host, key))
        assert _read_response(clients["keep-alive"])[0] == 200
        half = _request("POST", "/v1/predictions", host, key).replace(
            b"Content-Length: 0", b"Content-Length: 500"
        )
        clients["half a body"] = _connect(emu.port)
        clients["half a body"].sendall(half + b"{")
        clients["half the headers"] = _connect(emu.port)
        clients["half the headers"].sendall(b"GET /v1/models HTTP/1.1\r\nHost: ")
        output = urlpath(done["output"])
        clients["download"] = _connect(emu.port)
        clients["download"].sendall(_request("GET", output, host))
        big = emu.attach_large_output(audio["id"], 64 * MiB)
        clients["slow reader"] = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        clients["slow reader"].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        clients["slow reader"].connect(("127.0.0.1", emu.port))
        clients["slow reader"].sendall(_request("GET", urlpath(big["output"]), host))
        emu.add_fault("hang", path="/v1/models")
        clients["hung"] = _connect(emu.port)
        clients["hung"].sendall(_request("GET", "/v1/models", host, key))
        assert rendering.wait(30), "the download did not start a render"
        assert resolving.wait(30), "the webhook was not sent"
        emu.stop()  # no TimeoutError, though no client has closed anything
        assert not emu.running
        assert not release.is_set()  # the render and the look-up go on: stop() did not wait
        names = list(clients)
        still_open = _all_closed_by_server([clients[name] for name in names], within=30.0)
        assert [names[index] for index in still_open] == []
    finally:
        release.set()
        for sock in clients.values():
            sock.close()
        if emu.running:
            emu.stop()


def urlpath(output: Any) -> str:
    url = output[0] if isinstance(output, list) else output
    return "/" + url.split("/", 3)[3]
