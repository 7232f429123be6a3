"""Request helpers shared by the API and the control routes, and encoded-path routing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import ApiError


async def read_json(request: Request) -> Any:
    """The request's JSON body (None when empty); 400 INVALID_REQUEST when malformed."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "INVALID_REQUEST", "Request body is not valid JSON", str(exc)) from exc


def path_param(request: Request, name: str) -> str:
    """A path parameter, percent-decoded (routing matches on the still-encoded path)."""
    return unquote(request.path_params[name])


class EncodedPathMiddleware:
    """Route on the raw, percent-encoded path, so that an id containing `/` stays one segment.

    ASGI servers decode `scope["path"]`, turning `predictions/a%2Fb` into `predictions/a/b`;
    this puts the encoded path back, and handlers decode their parameters with `path_param`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            if raw:
                path = raw.decode("utf-8", "replace")
            else:
                path = quote(scope["path"], safe="/:@!$&'()*+,;=-._~")
            scope = {**scope, "path": path}
        await self.app(scope, receive, send)
