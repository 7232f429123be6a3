"""Whether an async client's connection pool holds no connection in use, whichever transport."""

from __future__ import annotations

from typing import Any

import httpx

from skytells import SkytellsClient
from skytells._io.aiohttp_transport import AiohttpHttp
from skytells._io.httpx_adapter import HttpxHttp
from skytells._io.httpx_transport import HttpxTransport
from skytells._io.urllib3_transport import Urllib3Transport


def sync_pool_is_clean(client: SkytellsClient) -> bool:
    """True if no pooled connection of a sync client is in use (returned or closed).

    Its own urllib3 pools: every connection is back in its pool's queue. A caller's
    ``http_client``: every connection of httpx's pool is idle or closed."""
    transport = client._http
    if isinstance(transport, Urllib3Transport):
        return transport.connections_in_use() == 0
    assert isinstance(transport, HttpxTransport)
    pool = transport.client._transport._pool  # type: ignore[attr-defined]
    return all(c.is_idle() or c.is_closed() for c in pool.connections)


def async_pool_is_clean(http: Any) -> bool:
    """True if no pooled connection is in use (an interrupted one was returned or closed).

    ``http``: the client's `AsyncHttp` (``client._http``) or an ``httpx.AsyncClient``.
    aiohttp (`AiohttpHttp`, the default): its connector has no connection acquired. httpx's own
    transport (`HttpxHttp`): every connection of its pool is idle or closed.
    """
    if isinstance(http, HttpxHttp):
        http = http.client
    if isinstance(http, AiohttpHttp):
        session = http.session
        connector = session.connector if session is not None else None
        return connector is None or not connector._acquired
    assert isinstance(http, httpx.AsyncClient)
    pool = http._transport._pool  # type: ignore[attr-defined]
    return all(c.is_idle() or c.is_closed() for c in pool.connections)
