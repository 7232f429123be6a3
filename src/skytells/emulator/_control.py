"""The control API under /_emulator/: reset, config, failures on demand, faults, state.

Every request needs one of the emulator's API keys and must not come from a web page: the guard
(`_guard.py`) checks both before these handlers run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ._errors import ApiError, invalid_parameter, json_response
from ._http import path_param, read_json
from ._store import Store

MAX_LARGE_OUTPUT = 2 << 30
"""The largest file `large-output` writes (2 GiB: a long video's worth)."""


def control_routes(store: Store) -> list[BaseRoute]:
    """The control endpoints, bound to `store`."""

    async def reset(request: Request) -> Any:
        store.reset()
        return {"ok": True, "config": store.config.to_json()}

    async def get_config(request: Request) -> Any:
        return store.config.to_json()

    async def patch_config(request: Request) -> Any:
        changes = await _object_body(request)
        try:
            return store.configure(**changes).to_json()
        except ValueError as exc:
            raise invalid_parameter("config", str(exc)) from None

    async def add_failures(request: Request) -> Any:
        body = await _object_body(request)
        model, message = body.get("model"), body.get("message")
        if model is not None and not isinstance(model, str):
            raise invalid_parameter("model", "model must be a string")
        if message is not None and not isinstance(message, str):
            raise invalid_parameter("message", "message must be a string")
        rule = store.fail_next(body.get("count", 1), model, message)
        return {"rule": rule.to_json(), "rules": [r.to_json() for r in store.failure_rules()]}

    async def fail_prediction(request: Request) -> Any:
        message = (await _object_body(request)).get("message")
        if message is not None and not isinstance(message, str):
            raise invalid_parameter("message", "message must be a string")
        return store.fail(path_param(request, "id"), message).to_json()

    async def attach_large_output(request: Request) -> Any:
        size = (await _object_body(request)).get("bytes")
        if (
            isinstance(size, bool)
            or not isinstance(size, int)
            or not 46 <= size <= MAX_LARGE_OUTPUT
        ):
            raise invalid_parameter("bytes", "bytes must be an integer from 46 to 2 GiB")
        record = await store.attach_large_output(path_param(request, "id"), size)
        return record.to_json()

    async def state(request: Request) -> Any:
        return store.state()

    async def predictions(request: Request) -> Any:
        return [record.to_json() for record in store.records()]

    async def webhooks(request: Request) -> Any:
        return store.webhooks.to_json(request.query_params.get("prediction_id") or None)

    async def faults(request: Request) -> Any:
        return store.faults.to_json()

    async def add_fault(request: Request) -> Any:
        return store.faults.add(await _object_body(request)).to_json()

    async def clear_faults(request: Request) -> Any:
        return {"ok": True, "cleared": store.faults.clear()}

    return [
        Route("/_emulator/reset", _json(reset), methods=["POST"]),
        Route("/_emulator/config", _json(get_config), methods=["GET"]),
        Route("/_emulator/config", _json(patch_config), methods=["PATCH"]),
        Route("/_emulator/failures", _json(add_failures), methods=["POST"]),
        Route("/_emulator/predictions/{id}/fail", _json(fail_prediction), methods=["POST"]),
        Route(
            "/_emulator/predictions/{id}/large-output",
            _json(attach_large_output),
            methods=["POST"],
        ),
        Route("/_emulator/predictions", _json(predictions), methods=["GET"]),
        Route("/_emulator/state", _json(state), methods=["GET"]),
        Route("/_emulator/webhooks", _json(webhooks), methods=["GET"]),
        Route("/_emulator/faults", _json(faults), methods=["GET"]),
        Route("/_emulator/faults", _json(add_fault), methods=["POST"]),
        Route("/_emulator/faults", _json(clear_faults), methods=["DELETE"]),
    ]


def _json(
    handler: Callable[[Request], Awaitable[Any]],
) -> Callable[[Request], Awaitable[Response]]:
    """Encode a handler's result as JSON and its ApiErrors as the error envelope."""

    async def endpoint(request: Request) -> Response:
        try:
            return json_response(await handler(request))
        except ApiError as error:
            return error.response()

    return endpoint


async def _object_body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ApiError(400, "INVALID_REQUEST", "Request body must be a JSON object")
    return body
