"""A user's ``http_client=httpx.Client(...)`` as the sync driver's transport.

httpx is imported only when a user passes a client. Its timeout applies to each socket operation,
so the request's timeout is the time left (and, for a stream, its idle timeout), and the deadline
is checked again between the reads of the body: no attribute of httpx is patched. A server can
still trickle the status line and headers a byte at a time, each within httpx's timeout, and the
SDK cannot reach the socket of a client it did not make: so the send runs on a daemon thread of
its own, and the call returns at the deadline (`SendTimeout`) while that thread finishes in the
background and closes whatever response it gets.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import httpx

from .sync_transport import SendFailure, SendTimeout


class _HttpxResponse:
    def __init__(self, response: httpx.Response, deadline: float) -> None:
        self._response = response
        self.status = response.status_code
        self.headers: Mapping[str, str] = response.headers
        self._deadline = deadline
        try:
            response.content  # noqa: B018 - raises until the body has been read
            self.decoded = True
        except httpx.ResponseNotRead:
            self.decoded = False
        self._chunks: Iterator[bytes] = (
            iter([response.content]) if self.decoded else response.iter_raw()
        )

    def read(self) -> bytes:
        if time.monotonic() >= self._deadline:
            raise SendTimeout("the exchange's deadline passed")
        try:
            return next(self._chunks, b"")
        except httpx.TimeoutException as exc:
            raise SendTimeout(str(exc)) from None
        except (httpx.RequestError, httpx.StreamError) as exc:
            raise SendFailure(exc) from None

    def close(self) -> None:
        self._response.close()


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
        body: bytes | None = None,
        deadline: float,
        idle: float,
        follow_redirects: bool = False,
    ) -> _HttpxResponse:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SendTimeout("the exchange's deadline passed")
        try:
            request = self.client.build_request(
                method,
                url,
                params=params,
                content=body,
                headers=headers,
                timeout=min(remaining, idle, 1e9),
            )
            response = _within(
                deadline,
                lambda: self.client.send(request, stream=True, follow_redirects=follow_redirects),
            )
        except httpx.TimeoutException as exc:
            raise SendTimeout(str(exc)) from None
        except (httpx.RequestError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise SendFailure(exc) from None
        if time.monotonic() >= deadline:
            response.close()
            raise SendTimeout("the exchange's deadline passed")
        return _HttpxResponse(response, deadline)

    def close(self) -> None:
        """A user's client is theirs to close."""


def _within(deadline: float, send: Callable[[], httpx.Response]) -> httpx.Response:
    """``send()`` (up to the response headers) on a daemon thread, waited for until
    ``deadline``; past it `SendTimeout`, and the thread closes the response it gets later."""
    lock = threading.Lock()
    outcome: list[httpx.Response | BaseException] = []
    abandoned = False
    done = threading.Event()

    def work() -> None:
        try:
            result: httpx.Response | BaseException = send()
        except BaseException as exc:  # handed to the caller, or dropped if it left
            result = exc
        with lock:
            if abandoned:
                if isinstance(result, httpx.Response):
                    result.close()
                return
            outcome.append(result)
            done.set()

    thread = threading.Thread(target=work, name="skytells-httpx-send", daemon=True)
    thread.start()
    try:
        left = deadline - time.monotonic()
        done.wait(None if left == math.inf else max(0.0, left))  # a stream may have no deadline
    finally:
        with lock:
            if not outcome:
                abandoned = True
    if not outcome:
        raise SendTimeout("the exchange's deadline passed before the response headers came")
    thread.join()  # it has handed its outcome over and is ending: no thread outlives the send
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result
