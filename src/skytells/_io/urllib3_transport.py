"""The sync client's own HTTP transport: urllib3 2, with a deadline on the whole exchange.

urllib3 is the fastest well-kept sync client measured (``benchmarks/sync_http.py``). Its timeouts,
like every client's, apply to each socket operation, so a server that trickles bytes could hold
an exchange long past its timeout. Here every receive of an exchange, the status line and headers
included, is given ``min(idle, time left)`` and none starts past the deadline: the connections
are urllib3's own with a ``response_class`` (the documented `http.client` hook urllib3 keeps)
whose socket reads go through `_DeadlineReader`. Nothing of urllib3 is patched. The deadline is
set for the current thread while a request is sent (`open`), and kept by the response, so that
the later reads of an event stream keep it too, each bounded by the stream's idle timeout.

Proxies come from the environment as httpx reads them (``HTTP_PROXY``, ``HTTPS_PROXY``,
``ALL_PROXY``, ``NO_PROXY``; read once per transport), TLS trusts certifi or ``SSL_CERT_FILE`` /
``SSL_CERT_DIR``.
"""

from __future__ import annotations

import functools
import http.client
import io
import os
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from .._exceptions import SkytellsError
from .errors import MAX_REDIRECTS, client_closed_error, too_many_redirects_error
from .proxies import bypasses, environment_proxies
from .sync_transport import Headers, SendFailure, SendTimeout

POOL_SIZE = 64
"""Keep-alive connections kept per origin (more may open at once; the extra ones are closed)."""
_CHUNK = 64 * 1024
"""Redirects a download follows (as httpx); API calls follow none."""
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}

_local = threading.local()


class _Budget:
    """The deadline of one exchange and the longest wait for each read."""

    __slots__ = ("deadline", "idle")

    def __init__(self, deadline: float, idle: float) -> None:
        self.deadline, self.idle = deadline, idle


class _DeadlineReader(io.RawIOBase):
    """A socket's receiving side; each receive waits ``min(idle, time left)`` at most."""

    def __init__(self, sock: socket.socket, budget: _Budget) -> None:
        super().__init__()
        # The socket's own reader: it counts as a reference, so that http.client closing the
        # connection (``Connection: close``) leaves the socket open until the body is read.
        self._sock, self._raw, self._budget = sock, sock.makefile("rb", buffering=0), budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        remaining = self._budget.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the exchange's deadline passed")
        self._sock.settimeout(min(self._budget.idle, remaining, 1e9))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What `http.client.HTTPResponse` is given in place of the socket: it only calls
    ``makefile("rb")``."""

    def __init__(self, sock: socket.socket, budget: _Budget) -> None:
        self._sock, self._budget = sock, budget

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._budget), _CHUNK)


class _Response(http.client.HTTPResponse):
    """`http.client.HTTPResponse` whose reads keep the current thread's deadline, if any."""

    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        budget: _Budget | None = getattr(_local, "budget", None)
        if budget is not None:
            sock = _DeadlineSocket(sock, budget)
        super().__init__(sock, *args, **kwargs)


class _Connection(HTTPConnection):
    response_class = _Response


class _TLSConnection(HTTPSConnection):
    response_class = _Response


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


_POOL_CLASSES = {"http": _Pool, "https": _TLSPool}


@functools.lru_cache(maxsize=4)
def tls_context(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """Certifi's CAs, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` (as httpx trusts them); made once
    per setting, since loading the bundle takes ~25 ms."""
    if cert_file or cert_dir:
        return ssl.create_default_context(cafile=cert_file or None, capath=cert_dir or None)
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


class _Urllib3Response:
    """An open urllib3 response, read raw (undecoded) in chunks."""

    decoded = False

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = Headers(response.headers.items())
        self._ended = False

    def read(self) -> bytes:
        try:
            chunk = self._response.read1(_CHUNK, decode_content=False)
        except (TimeoutError, Urllib3Timeout) as exc:
            raise SendTimeout(str(exc)) from None
        except (HTTPError, OSError, http.client.HTTPException) as exc:
            raise SendFailure(exc) from None
        if not chunk:
            self._ended = True
        return chunk

    def close(self) -> None:
        if not self._ended:
            self._response.close()  # the connection is dropped, not reused mid-body
        self._response.release_conn()


class Urllib3Transport:
    """The SDK's pooled urllib3 connections, direct or through the environment's proxies."""

    def __init__(self) -> None:
        self._cert_env = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        self._proxies, self._no_proxy = environment_proxies()
        self._direct = self._manager(urllib3.PoolManager)
        self._via: dict[str, urllib3.ProxyManager] = {}
        self._pools: dict[str, HTTPConnectionPool | None] = {}  # origin -> direct pool
        self._lock = threading.Lock()
        self._closed = False

    def _tls(self) -> ssl.SSLContext:
        return tls_context(*self._cert_env)  # made by the first https request only

    def _manager(self, cls: Any, *args: Any, **kwargs: Any) -> Any:
        manager = cls(*args, num_pools=16, maxsize=POOL_SIZE, block=False, **kwargs)
        manager.pool_classes_by_scheme = _POOL_CLASSES
        return manager

    @property
    def is_closed(self) -> bool:
        return self._closed

    def _pool(self, url: str) -> tuple[HTTPConnectionPool | None, str]:
        """The direct pool of ``url``'s origin (None if a proxy carries it) and its target."""
        scheme, _, rest = url.partition("://")
        netloc, _, tail = rest.partition("/")
        origin = f"{scheme}://{netloc}"
        if origin in self._pools and not any(c in netloc for c in "?#"):  # the hot path
            return self._pools[origin], "/" + tail.partition("#")[0]
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin in self._pools:
            return self._pools[origin], target
        with self._lock:
            scheme = parts.scheme.lower()
            proxy = self._proxies.get(scheme)
            host = parts.hostname or ""
            if proxy and not bypasses(
                host, parts.port or _DEFAULT_PORTS.get(scheme), scheme, self._no_proxy
            ):
                if not proxy.lower().startswith(("http://", "https://")):
                    raise SkytellsError(
                        f"The proxy {proxy.split('://')[0]}:// from the environment is not one the "
                        "sync client's own transport speaks (http:// or https:// proxies): pass "
                        "http_client=httpx.Client() (with httpx's socks extra) for a SOCKS proxy",
                        "UNSUPPORTED_PROXY",
                        {"scheme": proxy.split("://")[0][:20]},
                    )
                if proxy not in self._via:
                    self._via[proxy] = self._manager(
                        urllib3.ProxyManager, proxy, ssl_context=self._tls()
                    )
                pool = None
            else:
                tls = {"ssl_context": self._tls()} if scheme == "https" else None
                pool = self._direct.connection_from_host(host, parts.port, scheme, tls)
            self._pools[origin] = pool
            return pool, target

    def open(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None = None,
        body: bytes | bytearray | None = None,
        deadline: float,
        idle: float,
        follow_redirects: bool = False,
    ) -> _Urllib3Response:
        """Send the request; the response once its headers have arrived, body unread."""
        if self._closed:
            raise client_closed_error("connection pool")
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        _local.budget = _Budget(deadline, idle)
        asked = url
        try:
            for _ in range(MAX_REDIRECTS + 1):
                response = self._send(method, url, headers, body, deadline, idle)
                location = response.headers.get("location")
                if not (follow_redirects and response.status in _REDIRECTS and location):
                    return _Urllib3Response(response)
                response.drain_conn()
                response.release_conn()
                url = urljoin(url, location)
                if response.status == 303:
                    method, body = "GET", None
            raise too_many_redirects_error(asked, MAX_REDIRECTS)
        finally:
            _local.budget = None

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | bytearray | None,
        deadline: float,
        idle: float,
    ) -> urllib3.BaseHTTPResponse:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SendTimeout("the exchange's deadline passed")
        limit = min(remaining, 1e9)
        options: dict[str, Any] = {
            "body": body,
            "headers": headers,  # urllib3 only reads them
            "timeout": urllib3.Timeout(connect=limit, read=min(idle, limit)),
            "retries": False,
            "redirect": False,
            "preload_content": False,
            "decode_content": False,
        }
        try:
            pool, target = self._pool(url)
            if pool is not None:  # the target as given: no normalisation of its path
                return pool.urlopen(method, target, assert_same_host=False, **options)
            manager = self._via[self._proxies[urlsplit(url).scheme.lower()]]
            return manager.urlopen(method, url, **options)
        except MaxRetryError as exc:
            raise _failure(exc.reason or exc) from None
        except (HTTPError, OSError, http.client.HTTPException, ValueError) as exc:
            raise _failure(exc) from None

    def connections_in_use(self) -> int:
        """How many connections are taken out of their pools now (0 once every exchange has been
        read whole or closed)."""
        pools = [pool for pool in self._pools.values() if pool is not None]
        return sum(pool.pool.maxsize - pool.pool.qsize() for pool in pools if pool.pool)

    def connections_opened(self) -> int:
        """How many connections this transport has opened so far (keep-alive keeps it low)."""
        return sum(pool.num_connections for pool in self._pools.values() if pool is not None)

    def close(self) -> None:
        self._closed = True
        self._direct.clear()
        for manager in self._via.values():
            manager.clear()


def _failure(exc: Exception) -> Exception:
    if isinstance(exc, NewConnectionError):  # refused, unreachable: a urllib3 "timeout" subclass
        return SendFailure(exc)
    if isinstance(exc, (TimeoutError, Urllib3Timeout)) or any(
        isinstance(arg, TimeoutError)
        for arg in exc.args  # a send timed out ("aborted")
    ):
        return SendTimeout(str(exc))
    return SendFailure(exc)
