"""Whether an async client's connection pool holds no connection in use, whichever transport."""

from __future__ import annotations

import httpx

from skytells._io.aiohttp_transport import AiohttpTransport


def async_pool_is_clean(http: httpx.AsyncClient) -> bool:
    """True if no pooled connection is in use (an interrupted one was returned or closed).

    httpx's own transport: every connection of its pool is idle or closed. `AiohttpTransport`:
    its aiohttp connector has no connection acquired.
    """
    transport = http._transport  # type: ignore[attr-defined]
    if isinstance(transport, AiohttpTransport):
        session = transport._session
        connector = session.connector if session is not None else None
        return connector is None or not connector._acquired
    return all(c.is_idle() or c.is_closed() for c in transport._pool.connections)
