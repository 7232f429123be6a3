"""The Starlette application: the Skytells REST API under /v1, output files, error envelopes."""

from __future__ import annotations

import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Match, Route

from ._catalog import SCHEMA_FIELDS, catalogue, find_model, input_errors
from ._config import EmulatorConfig
from ._control import control_routes
from ._errors import ApiError, error_id_for, invalid_parameter, json_response, model_not_found
from ._event_stream import event_stream_response, wants_event_stream
from ._faults import FaultMiddleware
from ._guard import guard
from ._http import EncodedPathMiddleware, path_param, read_json
from ._idempotency import idempotent
from ._openapi import openapi_bytes
from ._record import STATUS_ALIASES, STATUSES
from ._store import Store

DEFAULT_WEBHOOK_EVENTS = ("completed", "failed")
"""Events a webhook given without `events` (or as a bare URL) subscribes to."""

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_Handler = Callable[[Request], Awaitable[Any]]


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A new emulator application with its own state (`app.state.store`)."""
    store = Store(config or EmulatorConfig())

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        store.close()

    app = Starlette(
        routes=[*_Api(store).routes(), *control_routes(store)],
        middleware=[Middleware(EncodedPathMiddleware)],
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False
    app.state.store = store
    # Faults wrap everything, so that they get the server's own `send` (and its socket); the
    # guard (host check, body limits, the control API's key) comes first and passes `send` on.
    app.middleware_stack = guard(FaultMiddleware(app.build_middleware_stack(), store.faults), store)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, in the error envelope."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        error = ApiError(
            404, "ENDPOINT_NOT_FOUND", f"No endpoint {request.method} {request.url.path}"
        )
    elif exc.status_code == 405:
        allowed = _allowed_methods(request)
        error = ApiError(
            405,
            error_id_for(405),
            f"Method {request.method} is not allowed on {request.url.path}",
            {"allowed": allowed},
            headers={"Allow": allowed},
        )
    else:
        error = ApiError(exc.status_code, error_id_for(exc.status_code), exc.detail)
    return error.response()


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette stops at the first route)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _internal_error(request: Request, exc: Exception) -> Response:
    """Any bug: 500 INTERNAL_ERROR in the envelope (the traceback goes to the server log).

    The server closes the connection after it (the exception goes on to uvicorn), so the answer
    says so: a keep-alive client then opens a new connection instead of meeting a reset."""
    return ApiError(
        500, "INTERNAL_ERROR", "Internal emulator error", repr(exc), {"connection": "close"}
    ).response()


class _Api:
    """The /v1 endpoints and /files, bound to one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self) -> list[BaseRoute]:
        """Every route, with both spellings where the service has two."""
        v1 = self._v1
        store = self.store
        create = idempotent(store.idempotency, self.create, lambda: store.config.honour_idempotency)
        return [
            Route("/v1/predict", v1("create", create), methods=["POST"]),
            Route("/v1/predictions", v1("create", create), methods=["POST"]),
            Route("/v1/predictions", v1("list", self.list), methods=["GET"]),
            Route("/v1/predictions/{id}", v1("get", self.get), methods=["GET"]),
            Route("/v1/predictions/{id}", v1("delete", self.delete), methods=["DELETE"]),
            Route("/v1/predictions/{id}/delete", v1("delete", self.delete), methods=["DELETE"]),
            Route("/v1/predictions/{id}/cancel", v1("cancel", self.cancel), methods=["POST"]),
            Route("/v1/predictions/{id}/stream", v1("stream", self.stream), methods=["GET"]),
            Route("/v1/predictions/{id}/events", v1("events", self.events), methods=["GET"]),
            Route("/v1/models", v1("models", self.models), methods=["GET"]),
            Route("/v1/models/{slug}", v1("model", self.model), methods=["GET"]),
            Route("/v1/model/{slug}", v1("model", self.model), methods=["GET"]),
            Route("/files/{id}/{filename}", self.file, methods=["GET"]),
            Route("/openapi.json", _openapi_document, methods=["GET"]),
        ]

    def _v1(self, name: str, handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wrap a handler: count, authenticate, rate-limit, encode JSON, add rate headers."""
        store = self.store
        endpoint_key = f"endpoint:{name}"

        async def endpoint(request: Request) -> Response:
            store.counters["requests"] += 1
            store.counters[endpoint_key] += 1
            try:
                key = _api_key(request, store.config.api_keys)
                config = store.config
                headers = store.rate_limiter.hit(key, config.rate_limit, config.rate_limit_window)
                request.state.api_key = key
                body = await handler(request)
            except ApiError as error:
                store.counters["errors"] += 1
                if error.http_status == 429:
                    store.counters["rate_limited"] += 1
                return error.response()
            if isinstance(body, Response):  # already encoded (an idempotent replay)
                body.headers.update(headers)
                return body
            return json_response(body, 200, headers)

        return endpoint

    async def create(self, request: Request) -> Any:
        """POST /v1/predict and /v1/predictions."""
        body = await read_json(request)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "INVALID_REQUEST", "Request body must be a JSON object")
        problems: dict[str, str] = {}
        slug, input = body.get("model"), body.get("input")
        if not isinstance(slug, str) or not slug:
            problems["model"] = "The model field is required and must be a non-empty string."
        if not isinstance(input, dict):
            problems["input"] = "The input field is required and must be an object."
        for flag in ("await", "stream"):
            if body.get(flag) is not None and not isinstance(body[flag], bool):
                problems[flag] = f"The {flag} field must be a boolean."
        webhook = _webhook(body.get("webhook"), problems)
        if problems:
            raise ApiError(422, "VALIDATION_ERROR", "The request is invalid", {"fields": problems})
        assert isinstance(slug, str) and isinstance(input, dict)
        model = find_model(slug)
        if model is None:
            raise model_not_found(slug)
        errors = input_errors(model, input)
        if errors:
            raise ApiError(
                422, "INVALID_INPUT", f"Invalid input for model {slug}", {"fields": errors}
            )
        record = self.store.create(
            model,
            input,
            _root(request),
            stream=bool(body.get("stream")),
            webhook=webhook,
            api_key=getattr(request.state, "api_key", None),
        )
        if body.get("await") and model.type != "video":
            await self.store.wait_terminal(record, self.store.config.await_limit)
        variants = self.store.config.variants
        if "queued_envelope" in variants and not record.terminal:
            # The documented queued answer: HTTP 200, `status: false` and the prediction's id.
            return {"status": False, "id": record.id, "response": "Prediction queued."}
        return record.to_json(variants)

    async def get(self, request: Request) -> Any:
        """GET /v1/predictions/{id}."""
        return self.store.get(path_param(request, "id")).to_json(self.store.config.variants)

    async def stream(self, request: Request) -> Any:
        """GET /v1/predictions/{id}/stream (`urls.stream`): Server-Sent Events when the request's
        `Accept` asks for `text/event-stream`, the prediction JSON otherwise (spec section 6)."""
        if wants_event_stream(request.headers.get("accept", "")):
            response = await self.events(request)
        else:
            response = json_response(await self.get(request))
        response.headers["vary"] = "Accept"  # one URL, two representations
        return response

    async def events(self, request: Request) -> Any:
        """GET /v1/predictions/{id}/events: the prediction's Server-Sent Events, whatever the
        `Accept` (the address `urls.stream` had before; kept as an alias)."""
        record = self.store.get(path_param(request, "id"))
        return event_stream_response(self.store, record, request)

    async def cancel(self, request: Request) -> Any:
        """POST /v1/predictions/{id}/cancel."""
        record = self.store.cancel(path_param(request, "id"))
        if "success_flag" in self.store.config.variants:
            return {"success": True}
        return record.to_json(self.store.config.variants)

    async def delete(self, request: Request) -> Any:
        """DELETE /v1/predictions/{id}/delete and /v1/predictions/{id}."""
        record = self.store.delete(path_param(request, "id"))
        if "success_flag" in self.store.config.variants:
            return {"success": True}
        body = record.to_json(self.store.config.variants)
        body["deleted"] = True
        return body

    async def list(self, request: Request) -> Any:
        """GET /v1/predictions: newest first, paginated, filtered."""
        query = request.query_params
        page = _int_param(query.get("page"), "page", 1, 1, None)
        per_page = _int_param(query.get("per_page"), "per_page", 20, 1, 50)
        day_from, day_to = _day(query.get("from"), "from"), _day(query.get("to"), "to")
        if day_from is not None and day_to is not None and day_from > day_to:
            raise invalid_parameter(
                "from", "The from date must not be after the to date", "INVALID_DATE_RANGE"
            )
        status = query.get("status") or None
        if status is not None:
            status = STATUS_ALIASES.get(status, status)
            if status not in STATUSES:
                raise invalid_parameter("status", f"Unknown status {query['status']!r}")
        matches = self.store.query(query.get("model") or None, status, day_from, day_to)
        start = (page - 1) * per_page
        variants = self.store.config.variants
        data = [record.to_json(variants) for record in matches[start : start + per_page]]
        if "bare_list" in variants:
            return data
        return {
            "data": data,
            "pagination": {
                "current_page": page,
                "per_page": per_page,
                "total": len(matches),
                "last_page": max(1, math.ceil(len(matches) / per_page)),
            },
        }

    async def models(self, request: Request) -> Any:
        """GET /v1/models: a bare array."""
        fields = _fields(request)
        return [model.public(fields) for model in catalogue().values()]

    async def model(self, request: Request) -> Any:
        """GET /v1/model/{slug} and /v1/models/{slug}."""
        fields = _fields(request)
        slug = path_param(request, "slug")
        model = find_model(slug)
        if model is None:
            raise model_not_found(slug)
        return model.public(fields)

    async def file(self, request: Request) -> Response:
        """GET /files/{id}/{filename}: an output file, without authentication (like a CDN)."""
        filename = path_param(request, "filename")
        try:
            path, content_type = await self.store.output_file(path_param(request, "id"), filename)
        except FileNotFoundError:
            return ApiError(
                404,
                error_id_for(404),
                f"File {filename!r} not found or no longer available",
                {"file": filename},
            ).response()
        return FileResponse(path, media_type=content_type)


async def _openapi_document(request: Request) -> Response:
    """GET /openapi.json: the emulator's OpenAPI document (no key needed)."""
    return Response(openapi_bytes(), media_type="application/json")


def _root(request: Request) -> str:
    """The server origin the client used (URLs in responses point back at it)."""
    return str(request.base_url).rstrip("/")


def _api_key(request: Request, accepted: tuple[str, ...]) -> str:
    """The caller's key from `x-api-key` or `Authorization: Bearer`; 401 when missing or wrong."""
    candidates = [request.headers.get("x-api-key", "").strip()]
    authorization = request.headers.get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        candidates.append(authorization[7:].strip())
    for key in candidates:
        if key in accepted:
            return key
    if any(candidates):
        raise ApiError(401, "UNAUTHORIZED", "Invalid API key")
    raise ApiError(401, "UNAUTHORIZED", "Missing API key: send it in the x-api-key header")


def _webhook(value: Any, problems: dict[str, str]) -> dict[str, Any] | None:
    """Normalise a webhook (an object or a bare URL) to {"url", "events"}; record problems."""
    if value is None:
        return None
    url, events = value, list(DEFAULT_WEBHOOK_EVENTS)
    if isinstance(value, dict):
        url, events = value.get("url"), value.get("events", events)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problems["webhook.url"] = "The webhook url must be an http(s) URL."
    elif not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        problems["webhook.events"] = "The webhook events must be a list of strings."
    else:
        return {"url": url, "events": events or list(DEFAULT_WEBHOOK_EVENTS)}
    return None


def _int_param(raw: str | None, name: str, default: int, low: int, high: int | None) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise invalid_parameter(name, f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise invalid_parameter(name, f"{name} must be {bounds}")
    return value


def _day(raw: str | None, name: str) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        if not _DAY.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise invalid_parameter(
            name, f"{name} must be a date as YYYY-MM-DD", "INVALID_DATE_FORMAT"
        ) from None


def _fields(request: Request) -> list[str]:
    """The `fields=` query (comma-joined, possibly repeated); 400 for an unknown name."""
    names = [
        name.strip()
        for value in request.query_params.getlist("fields")
        for name in value.split(",")
        if name.strip()
    ]
    unknown = [name for name in names if name not in SCHEMA_FIELDS]
    if unknown:
        raise invalid_parameter(
            "fields",
            f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(SCHEMA_FIELDS)}",
        )
    return list(dict.fromkeys(names))
