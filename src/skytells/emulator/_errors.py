"""The error envelope of the Skytells API and the exception that carries it through the emulator."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response


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
    """A compact JSON response, serialised once."""
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(content, status_code, headers=headers, media_type="application/json")


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
