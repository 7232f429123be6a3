"""Validate every HTTP response the test suite receives against the emulator's OpenAPI document.

`response_validator_hooks()` returns httpx `event_hooks` for a sync `httpx.Client` (and
`async_response_validator_hooks()` for an `httpx.AsyncClient`); every test client that talks to
the emulator is built with them. Each response to a documented route is validated with openapi-core
(status code, content type, headers, body schema); a response to an undocumented route under `/v1`
must be a well-formed error envelope. Routes outside the API (`/_emulator/...`, anything not under
`/v1`, `/files` or `/openapi.json`) are not checked. A violation raises `OpenAPIResponseError`, so
the test that made the request fails with a message naming the request and what was wrong.

`validated_count()` says how many responses were validated, so a test can prove the hook ran.
The emulator side of the same check, which covers every client whatever its transport, is
`tests/openapi_server_check.py`.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jsonschema
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

from skytells.emulator._openapi import load_openapi

__all__ = [
    "UNREAD_STREAM",
    "OpenAPIResponseError",
    "async_response_validator_hooks",
    "check_response",
    "is_checked",
    "reset_validated_count",
    "response_validator_hooks",
    "validate_response",
    "validated_count",
]

_DOCUMENTED_PREFIXES = ("/v1/", "/files/")
_DOCUMENTED_EXACT = frozenset({"/v1", "/openapi.json"})
_STREAMING_TYPES = ("text/event-stream",)
_BODY_EXCERPT = 600
UNREAD_STREAM = b": event stream, not read by the validator\n\n"
"""The body validated in place of an event stream's (reading it would wait for its end)."""

_lock = threading.Lock()
_validated = 0


class OpenAPIResponseError(AssertionError):
    """A response does not conform to the emulator's OpenAPI document."""


def validated_count() -> int:
    """How many responses have been validated in this process so far."""
    return _validated


def reset_validated_count() -> None:
    """Set the counter of validated responses back to zero."""
    global _validated
    with _lock:
        _validated = 0


def _count() -> None:
    global _validated
    with _lock:
        _validated += 1


@functools.lru_cache(maxsize=1)
def _openapi() -> OpenAPI:
    return OpenAPI.from_dict(load_openapi())


@functools.lru_cache(maxsize=1)
def _error_validator() -> jsonschema.Draft202012Validator:
    document = load_openapi()
    schema = {"$ref": "#/components/schemas/Error", "components": document["components"]}
    return jsonschema.Draft202012Validator(schema)


# ----------------------------------------------------------------- httpx -> openapi-core adapters


class _Request:
    """An httpx request, as openapi-core's `Request` protocol."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        # The raw (still percent-encoded) path: a `%2F` in an id must not split a path segment.
        raw = request.url.raw_path.decode("ascii")
        self._path = urlsplit(raw).path or "/"
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(
                parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
            ),
            header=Headers(list(request.headers.multi_items())),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        url = self._request.url
        return f"{url.scheme}://{url.netloc.decode('ascii')}"

    @property
    def path(self) -> str:
        return self._path

    @property
    def method(self) -> str:
        return self._request.method.lower()

    @property
    def body(self) -> bytes | None:
        try:
            return self._request.content or None
        except httpx.RequestNotRead:
            return None

    @property
    def content_type(self) -> str:
        return str(self._request.headers.get("content-type", "")).lower()


class _Response:
    """An httpx response, as openapi-core's `Response` protocol."""

    def __init__(self, response: httpx.Response, data: bytes | None) -> None:
        self._response = response
        self._data = data

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def content_type(self) -> str:
        return str(self._response.headers.get("content-type", "")).lower()

    @property
    def headers(self) -> Headers:
        return Headers(list(self._response.headers.multi_items()))

    @property
    def data(self) -> bytes | None:
        return self._data


# ------------------------------------------------------------------------------------ validation


def _is_documented_route(path: str) -> bool:
    return path in _DOCUMENTED_EXACT or path.startswith(_DOCUMENTED_PREFIXES)


def _is_streaming(response: httpx.Response) -> bool:
    content_type = str(response.headers.get("content-type", "")).lower()
    return content_type.startswith(_STREAMING_TYPES)


def _describe(response: httpx.Response, problem: str, body: bytes | None) -> str:
    request = response.request
    excerpt = ""
    if body:
        text = body[:_BODY_EXCERPT].decode("utf-8", "replace")
        more = "..." if len(body) > _BODY_EXCERPT else ""
        excerpt = f"\n  body: {text}{more}"
    content_type = response.headers.get("content-type", "")
    return (
        f"response does not conform to the emulator's OpenAPI document\n"
        f"  request: {request.method} {request.url}\n"
        f"  status: {response.status_code}, content-type: {content_type!r}\n"
        f"  problem: {problem}{excerpt}"
    )


def _explain(error: Exception) -> str:
    lines = [f"{type(error).__name__}: {error}"]
    cause: BaseException | None = error.__cause__
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            for schema_error in schema_errors:
                where = "/".join(str(part) for part in schema_error.absolute_path) or "(root)"
                lines.append(f"at {where}: {schema_error.message}")
        else:
            lines.append(f"{type(cause).__name__}: {cause}")
        cause = cause.__cause__
    return "\n    ".join(lines)


def _check_error_envelope(response: httpx.Response, body: bytes | None, *, required: bool) -> None:
    """A JSON error body must be the envelope, with `error.http_status` equal to the status."""
    if response.status_code < 400:
        return
    is_json = response.headers.get("content-type", "").lower().startswith("application/json")
    if not is_json:
        if required:
            raise OpenAPIResponseError(
                _describe(response, "an error response must be a JSON error envelope", body)
            )
        return
    try:
        payload: Any = json.loads(body or b"")
    except ValueError as exc:
        raise OpenAPIResponseError(_describe(response, f"invalid JSON: {exc}", body)) from None
    problems = [
        f"at {'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in _error_validator().iter_errors(payload)
    ]
    if problems:
        raise OpenAPIResponseError(
            _describe(response, "not an error envelope: " + "; ".join(problems), body)
        )
    http_status = payload["error"]["http_status"]
    if http_status != response.status_code:
        raise OpenAPIResponseError(
            _describe(
                response,
                f"error.http_status is {http_status}, the HTTP status {response.status_code}",
                body,
            )
        )


def check_response(response: httpx.Response, body: bytes | None) -> bool:
    """Validate one response whose body is given, and count it (`validated_count`).

    Returns True when the response was validated, False when its route is not part of the API.
    Raises `OpenAPIResponseError` when it does not conform.
    """
    if not validate_response(response, body):
        return False
    _count()
    return True


def is_checked(method: str, path: str) -> bool:
    """Whether a response to `method` on the (raw) `path` is checked against the document."""
    return _is_documented_route(path) and method.upper() not in ("HEAD", "OPTIONS")


def validate_response(response: httpx.Response, body: bytes | None) -> bool:
    """`check_response` without counting (for validators that keep their own count)."""
    request = response.request
    path = urlsplit(request.url.raw_path.decode("ascii")).path
    if not is_checked(request.method, path):
        return False
    try:
        _openapi().validate_response(_Request(request), _Response(response, body))
    except (PathNotFound, OperationNotFound):
        # Not a documented operation: the emulator must still answer with the error envelope.
        if response.status_code < 400:
            raise OpenAPIResponseError(
                _describe(response, "a successful answer on an undocumented route", body)
            ) from None
        _check_error_envelope(response, body, required=True)
    except Exception as exc:
        raise OpenAPIResponseError(_describe(response, _explain(exc), body)) from None
    else:
        _check_error_envelope(response, body, required=False)
    return True


def _validate_sync(response: httpx.Response) -> None:
    if _is_streaming(response):
        # Reading would wait for the end of the event stream: check all but the body.
        check_response(response, UNREAD_STREAM)
        return
    check_response(response, response.read())


async def _validate_async(response: httpx.Response) -> None:
    if _is_streaming(response):
        check_response(response, UNREAD_STREAM)
        return
    check_response(response, await response.aread())


def response_validator_hooks() -> dict[str, list[Callable[[httpx.Response], Any]]]:
    """httpx event hooks that validate each response against the emulator's OpenAPI document."""
    return {"response": [_validate_sync]}


def async_response_validator_hooks() -> dict[str, list[Callable[[httpx.Response], Awaitable[Any]]]]:
    """The same hooks for an `httpx.AsyncClient`."""
    return {"response": [_validate_async]}
