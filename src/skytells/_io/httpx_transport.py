"""A user's ``http_client=httpx.Client(...)`` as the sync driver's transport.

httpx is imported only when a user passes a client. Its timeout applies to each socket operation,
and the SDK cannot reach the socket of a client it did not make: a server may trickle the status
line, the headers or a chunk-size line a byte at a time, each within httpx's timeout, and no
check between reads would ever run. So each exchange runs on a daemon thread of its own, which
sends the request and passes the body's chunks on through a small queue; the calling thread
waits for each step at most until the deadline (and, for each read, the idle timeout), and
returns `SendTimeout` when it passes while that thread ends in the background and closes the
response. The request's httpx timeout is the time left too. No attribute of httpx is patched.
"""

from __future__ import annotations

import contextlib
import math
import queue
import socket
import threading
import time
from collections.abc import Mapping

import httpx

from .errors import YOUR_HTTP_CLIENT_CLOSED, client_closed_error, too_many_redirects_error
from .sync_transport import SendFailure, SendTimeout

_QUEUED_CHUNKS = 4
"""Chunks read ahead of the caller at most (memory stays bounded whatever the body)."""
_END = b""


class _Exchange:
    """One request on a daemon thread: the response when its headers came, then its body's raw
    chunks, each handed over through a bounded queue (or the error that ended it)."""

    def __init__(self, client: httpx.Client, request: httpx.Request, redirects: bool) -> None:
        self.steps: queue.Queue[httpx.Response | bytes | BaseException] = queue.Queue(
            _QUEUED_CHUNKS
        )
        self.abandoned = threading.Event()
        self.response: httpx.Response | None = None
        self._client, self._request, self._redirects = client, request, redirects
        threading.Thread(target=self._run, name="skytells-httpx-exchange", daemon=True).start()

    def _run(self) -> None:
        try:
            response = self._client.send(
                self._request, stream=True, follow_redirects=self._redirects
            )
        except BaseException as exc:  # handed to the caller
            self._hand(exc)
            return
        self.response = response
        try:
            if not self._hand(response):
                return
            try:
                content = response.content  # read already by a caller's event hook?
            except httpx.ResponseNotRead:
                for chunk in response.iter_raw():
                    if chunk and not self._hand(chunk):
                        return
            else:
                if content and not self._hand(content):
                    return
            self._hand(_END)
        except BaseException as exc:
            self._hand(exc)
        finally:
            if self.abandoned.is_set():
                response.close()

    def _hand(self, step: httpx.Response | bytes | BaseException) -> bool:
        """Give the caller the next step; False once the caller has left."""
        while not self.abandoned.is_set():
            try:
                self.steps.put(step, timeout=0.25)
                return True
            except queue.Full:
                continue
        return False

    def next(self, deadline: float, idle: float) -> httpx.Response | bytes:
        """The next step, waited for until the deadline or ``idle`` seconds at most."""
        wait = min(deadline - time.monotonic(), idle)
        try:
            step = self.steps.get(timeout=None if wait == math.inf else max(0.0, wait))
        except queue.Empty:
            self.abandon(interrupt=True)  # the thread is blocked reading: unblock it
            raise SendTimeout("the exchange's deadline (or a read's idle timeout) passed") from None
        if isinstance(step, BaseException):
            self.abandon()
            if isinstance(step, httpx.TimeoutException):
                raise SendTimeout(str(step)) from None
            if isinstance(step, httpx.TooManyRedirects):
                raise too_many_redirects_error(str(self._request.url), self._client.max_redirects)
            if isinstance(step, (httpx.RequestError, httpx.InvalidURL, httpx.StreamError)):
                raise SendFailure(step) from None
            raise step
        return step

    def abandon(self, *, interrupt: bool = False) -> None:
        """Stop: the thread closes the response (now, or when it gets one). ``interrupt``: the
        body is not read to its end, so the thread may be blocked reading: shut the socket
        (httpx's public ``network_stream`` extension) so that it returns now. Never once the
        body was read whole: the connection may be back in the pool, another request's."""
        self.abandoned.set()
        response = self.response
        if response is None:
            return
        if interrupt:
            stream = response.extensions.get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        response.close()


class _HttpxResponse:
    def __init__(
        self, exchange: _Exchange, response: httpx.Response, deadline: float, idle: float
    ) -> None:
        self._exchange = exchange
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers
        try:
            response.content  # noqa: B018 - raises until the body has been read
            self.decoded = True
        except httpx.ResponseNotRead:
            self.decoded = False
        self._deadline, self._idle, self._done = deadline, idle, False

    def read(self) -> bytes:
        """The next raw chunk, ``b""`` at the end."""
        if self._done:
            return _END
        if time.monotonic() >= self._deadline:
            raise SendTimeout("the exchange's deadline passed")
        chunk = self._exchange.next(self._deadline, self._idle)
        assert isinstance(chunk, bytes)
        self._done = chunk == _END
        return chunk

    def close(self) -> None:
        self._exchange.abandon(interrupt=not self._done)


class HttpxTransport:
    """Sends over a user's `httpx.Client` (its proxies, TLS and transport are the user's)."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client

    @property
    def is_closed(self) -> bool:
        return self.client.is_closed

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
    ) -> _HttpxResponse:
        if self.client.is_closed:  # httpx would raise a bare RuntimeError
            raise client_closed_error("httpx.Client", YOUR_HTTP_CLIENT_CLOSED)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SendTimeout("the exchange's deadline passed")
        try:
            request = self.client.build_request(
                method,
                url,
                params=params,
                content=bytes(body) if isinstance(body, bytearray) else body,
                headers=headers,
                timeout=min(remaining, idle, 1e9),
            )
        except (httpx.RequestError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise SendFailure(exc) from None
        exchange = _Exchange(self.client, request, follow_redirects)
        response = exchange.next(deadline, math.inf)  # the headers: bounded by the deadline
        assert isinstance(response, httpx.Response)
        return _HttpxResponse(exchange, response, deadline, idle)

    def close(self) -> None:
        """A user's client is theirs to close."""
