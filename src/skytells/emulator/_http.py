"""Request helpers shared by the API and the control routes, and encoded-path routing."""

from __future__ import annotations

import json
import math
from typing import Any
from urllib.parse import quote, unquote

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ._errors import ApiError

MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects a request body may have (real inputs use 3 or 4)."""


async def read_json(request: Request) -> Any:
    """The request's JSON body (None when empty); 400 INVALID_REQUEST when malformed."""
    raw = await request.body()
    if not raw.strip():
        return None
    return parse_json(raw)


def parse_json(raw: bytes) -> Any:
    """A request body's JSON value, or ApiError 400 INVALID_REQUEST for what is not strict JSON
    a prediction could carry: malformed text, `NaN`/`Infinity` (and numbers too large to be
    finite), strings with a lone surrogate escape (`"\\udc80"`: no UTF-8 encodes it), nesting
    deeper than `MAX_JSON_DEPTH`. Refused up front, so that nothing is created from them and
    no answer has to carry them."""
    try:
        value = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise _invalid("Request body is nested too deeply", MAX_JSON_DEPTH) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid("Request body is not valid JSON", str(exc)) from None
    _check_value(value)
    return value


def _invalid(message: str, details: Any) -> ApiError:
    if isinstance(details, int):
        details = {"max_depth": details}
    return ApiError(400, "INVALID_REQUEST", message, details)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _check_value(value: Any) -> None:
    """Iteratively: the nesting depth and that every string (keys too) is encodable text."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise _invalid("Request body is nested too deeply", MAX_JSON_DEPTH)
            if isinstance(item, dict):
                for key in item:
                    _check_text(key)
                stack.extend((child, depth + 1) for child in item.values())
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(
            "Request body is not valid JSON text: a string holds a lone surrogate escape",
            None,
        ) from None


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
