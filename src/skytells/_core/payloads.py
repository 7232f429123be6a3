"""The shapes operations accept and return: payloads, prediction dicts, ids, query parameters.

Pure checks and conversions, no I/O: a bad argument fails here, before anything is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, cast

from .._exceptions import ServerError, SkytellsError, ValidationError
from .._options import ModelFieldsOptions, PredictionRequest, WaitOptions
from .._types import PredictionResponse

PredictionLike = Any  # a prediction dict, a `Prediction`, or an id string
MODEL_FIELDS = ("input_schema", "output_schema")


def payload_dict(payload: Mapping[str, Any] | PredictionRequest) -> dict[str, Any]:
    """A create payload as a fresh dict (from a dict, a `PredictionRequest` or a `QueueItem`)."""
    if isinstance(payload, PredictionRequest):
        return payload.to_dict()
    if isinstance(payload, Mapping):
        return dict(payload)
    raise ValidationError(
        f"A prediction payload must be a dict, got {type(payload).__name__}", "VALIDATION_ERROR"
    )


def prediction_dict(prediction: PredictionLike) -> PredictionResponse | None:
    """The prediction's last known state (None for a bare id)."""
    if isinstance(prediction, str):
        return None
    if isinstance(prediction, Mapping):
        return cast(PredictionResponse, prediction)
    raw = getattr(prediction, "response", None)
    return cast(PredictionResponse, raw) if isinstance(raw, Mapping) else None


def prediction_id_of(prediction: PredictionLike) -> str:
    """The id of a prediction given as a dict, a `Prediction` or an id string."""
    if isinstance(prediction, str):
        return prediction
    data = prediction_dict(prediction)
    prediction_id = data.get("id") if data is not None else None
    if not isinstance(prediction_id, str) or not prediction_id:
        raise ValidationError(
            "Expected a prediction dict with an 'id', a Prediction or an id string, "
            f"got {type(prediction).__name__}",
            "INVALID_PARAMETER",
        )
    return prediction_id


def expect_prediction(data: Any) -> PredictionResponse:
    """``data`` as a prediction dict, or a clear error if the server sent something else.

    What `PredictionResponse` promises holds after this: a non-empty ``id`` (checked) and a
    string ``status``. The queued answer to a create (``{"status": false, "id", "response"}``,
    spec section 3) is spelled ``"pending"``, what it means; a status that is no string at all
    (a server outside the spec) reads ``"unknown"``, as `Prediction.status` says of it."""
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise unexpected("a prediction object with an 'id'", data)
    status = data.get("status")
    if not isinstance(status, str):
        data["status"] = "pending" if status is False else "unknown"
    return cast(PredictionResponse, data)


def unknown_state(prediction_id: str) -> PredictionResponse:
    """The last known state of a prediction nothing is known of but its id."""
    return {"id": prediction_id, "status": "unknown"}


def unexpected(expected: str, data: Any) -> SkytellsError:
    """The error for a 2xx answer that is not what the endpoint returns."""
    return ServerError(
        f"Unexpected response from the API: expected {expected}",
        "SERVER_ERROR",
        f"Received {type(data).__name__}: {str(data)[:200]}",
        200,
        body=data,
    )


def fields_params(
    fields: Iterable[str] | str | None,
    options: ModelFieldsOptions | Mapping[str, Any] | None,
) -> dict[str, str] | None:
    """The ``fields`` query parameter of the model endpoints (checked), or None."""
    if not fields and options is not None:
        fields = (
            options.fields
            if isinstance(options, ModelFieldsOptions)
            else ModelFieldsOptions.from_dict(options).fields
        )
    if not fields:
        return None
    if isinstance(fields, str):
        names = [f.strip() for f in fields.split(",")]
    else:
        try:
            names = list(fields)
        except TypeError:
            raise ValidationError(
                "fields must be a field name, a comma-separated string or a list of them "
                f"(some of {list(MODEL_FIELDS)}), got {type(fields).__name__}",
                "INVALID_PARAMETER",
                {"fields": type(fields).__name__},
            ) from None
    unknown = [name for name in names if name not in MODEL_FIELDS]
    if unknown:
        raise ValidationError(
            f"Unknown model field(s) {unknown}: expected some of {list(MODEL_FIELDS)}",
            "INVALID_PARAMETER",
            {"fields": unknown},
        )
    return {"fields": ",".join(names)}


def date_param(name: str, value: str | dt.date | None) -> str | None:
    """A date filter as ``YYYY-MM-DD`` (from a `date`, a `datetime` or a string), or None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    raise ValidationError(
        f"{name} must be a date, a datetime or a 'YYYY-MM-DD' string, got {value!r}",
        "INVALID_DATE_FORMAT",
    )


def int_param(name: str, value: int | None) -> str | None:
    """An integer query parameter as text (a bool or a float is refused), or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"{name} must be an integer, got {value!r}", "INVALID_PARAMETER")
    return str(value)


def run_payload(
    model: str,
    input: Mapping[str, Any] | None,
    webhook: Mapping[str, Any] | str | None,
    stream: bool,
    options: Any,
) -> dict[str, Any]:
    """The create body of `run()`; ``options`` is the official package's `RunOptions` or a dict."""
    if not isinstance(model, str) or not model.strip():
        raise ValidationError(
            f"model must be a non-empty model slug such as 'flux-pro', got {model!r}",
            "VALIDATION_ERROR",
        )
    if options is not None:
        extra = options.to_dict() if hasattr(options, "to_dict") else dict(options)
        input = input if input is not None else extra.get("input")
        webhook = webhook if webhook is not None else extra.get("webhook")
        stream = stream or bool(extra.get("stream"))
    if input is not None and not isinstance(input, Mapping):
        raise ValidationError(
            f"input must be a dict of model inputs, got {type(input).__name__}", "VALIDATION_ERROR"
        )
    payload: dict[str, Any] = {"model": model, "input": dict(input or {})}
    if webhook is not None:
        payload["webhook"] = webhook if isinstance(webhook, str) else dict(webhook)
    if stream:
        payload["stream"] = True
    return payload


def wait_options(options: Any) -> tuple[float | None, float | None]:
    """``(interval_ms, max_wait_ms)`` from a `WaitOptions`, a dict or None."""
    if options is None:
        return None, None
    if isinstance(options, Mapping):
        unknown = sorted(str(key) for key in options if key not in ("interval", "max_wait"))
        if unknown:
            raise ValidationError(
                f"options takes 'interval' and 'max_wait' (ms), not {', '.join(unknown)[:200]}",
                "INVALID_PARAMETER",
            )
        return options.get("interval"), options.get("max_wait")
    if isinstance(options, WaitOptions):
        return options.interval, options.max_wait
    raise ValidationError(
        f"options must be a dict or WaitOptions, got {type(options).__name__}", "INVALID_PARAMETER"
    )
