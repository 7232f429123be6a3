"""The error envelope of the Skytells API and the exception that carries it through the emulator."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from .._enums import STATUS_ERROR_IDS


def error_id_for(status: int) -> str:
    """The error id the emulator sends with `status` when nothing more specific applies.

    The rule for every answer (the guard's, faults', 405s, /files): a status in the spec's table
    is sent with one of the table's ids for it. The spec is silent on the other statuses: 408 is
    sent with `REQUEST_TIMEOUT`, the id the spec gives the official clients' 408 (a timeout is
    a timeout, whichever side saw it); any other (405, 409, 413, 415, 421, 507, ...) with the
    generic id of its class, `INVALID_REQUEST` for a 4xx and `INTERNAL_ERROR` for a 5xx, never
    an id no client knows.
    """
    return STATUS_ERROR_IDS.get(status) or (
        "INTERNAL_ERROR" if status >= 500 else "INVALID_REQUEST"
    )


class ApiError(Exception):
    """An API error: rendered as the spec's envelope with HTTP status `http_status`.

    The emulator's Python control methods (`Emulator.fail_prediction`, ...) raise it too.
    """

    def __init__(
        self,
        http_status: int,
        error_id: str,
        message: str,
        details: str | Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{http_status} {error_id}: {message}")
        self.http_status = http_status
        self.error_id = error_id
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def envelope(self) -> dict[str, Any]:
        """The JSON body: `{"status": false, "response": msg, "error": {...}}`."""
        return {
            "status": False,
            "response": self.message,
            "error": {
                "http_status": self.http_status,
                "message": self.message,
                "details": self.details,
                "error_id": self.error_id,
            },
        }

    def response(self) -> Response:
        """The error as an HTTP response."""
        return json_response(self.envelope(), self.http_status, self.headers)


def json_response(
    body: Any, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A compact JSON response, serialised once (see `dump_json`)."""
    return Response(dump_json(body), status_code, headers=headers, media_type="application/json")


def dump_json(value: Any) -> bytes:
    """`value` as compact, strictly valid JSON in UTF-8, whatever it holds.

    Every answer, event and webhook body is serialised here. Request bodies are refused when they
    hold what JSON cannot carry (`_http.parse_json`), but nothing stored may ever break an answer
    (a listing shows every prediction): a lone surrogate is written as a `\\uXXXX` escape (still
    valid JSON), a non-finite number (never valid JSON) as null.
    """
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: ASCII output escapes it
        return dump_json_ascii(value)
    except ValueError:  # NaN or an infinity
        return dump_json_ascii(_finite(value))


def dump_json_ascii(value: Any) -> bytes:
    """`value` as compact JSON in ASCII (non-finite numbers as null)."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(value), separators=(",", ":"), allow_nan=False)
    return text.encode("ascii")


def _finite(value: Any) -> Any:
    """A copy of `value` with every non-finite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def prediction_not_found(prediction_id: str) -> ApiError:
    """What the service answers for an unknown prediction id: 502, not 404."""
    return ApiError(
        502,
        "PREDICTION_FAILED",
        "Error fetching prediction",
        f"Prediction {prediction_id!r} was not found",
    )


def model_not_found(slug: str) -> ApiError:
    """404 MODEL_NOT_FOUND for an unknown model slug."""
    return ApiError(404, "MODEL_NOT_FOUND", f"Model {slug!r} was not found", None)


def invalid_parameter(name: str, message: str, error_id: str = "INVALID_PARAMETER") -> ApiError:
    """400 for a bad query or body parameter; `details` names it."""
    return ApiError(400, error_id, message, {"parameter": name})
