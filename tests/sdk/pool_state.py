"""Whether an async client's connection pool holds no connection in use, whichever transport."""

from __future__ import annotations

from typing import Any

import httpx

from skytells._io.aiohttp_transport import AiohttpHttp, AiohttpTransport
from skytells._io.httpx_adapter import HttpxHttp


def async_pool_is_clean(http: Any) -> bool:
    """True if no pooled connection is in use (an interrupted one was returned or closed).

    ``http``: the client's `AsyncHttp` (``client._http``) or an ``httpx.AsyncClient``.
    aiohttp (directly, or `AiohttpTransport` under httpx): its connector has no connection
    acquired. httpx's own transport: every connection of its pool is idle or closed.
    """
    if isinstance(http, HttpxHttp):
        http = http.client
    if isinstance(http, AiohttpHttp):
        session = http.session
    else:
        assert isinstance(http, httpx.AsyncClient)
        transport = http._transport  # type: ignore[attr-defined]
        if not isinstance(transport, AiohttpTransport):
            return all(c.is_idle() or c.is_closed() for c in transport._pool.connections)
        session = transport._session
    connector = session.connector if session is not None else None
    return connector is None or not connector._acquired
