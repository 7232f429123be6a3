"""The model endpoints: the catalogue and one model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, cast

from .._exceptions import ValidationError
from .._options import ModelFieldsOptions
from .._types import ModelResponse
from .calls import call, segment
from .context import Context
from .payloads import fields_params, unexpected
from .protocol import Op


def list_models(
    ctx: Context,
    fields: Iterable[str] | str | None = None,
    options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    *,
    type: str | None = None,
) -> Op[list[ModelResponse]]:
    """``GET /models``: the catalogue (a bare JSON array); only the models of ``type`` (such as
    ``"video"``, case-insensitive) when given. The API has no such filter: it is applied here."""
    wanted = model_type_filter(type)
    params = fields_params(fields, options)
    data = yield from call(ctx, "GET", "/models", params=params)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise unexpected("a list of models", data)
    return [
        cast(ModelResponse, m)
        for m in data
        if isinstance(m, dict) and (wanted is None or _type_of(m) == wanted)
    ]


def model_type_filter(type: object) -> str | None:
    """The model type to keep (``"image"``, ``ModelType.VIDEO``...) in canonical form, or None;
    checked before any request."""
    if type is None:
        return None
    value = type.value if isinstance(type, Enum) else type
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"type must be a model type such as 'image' or 'video', got {type!r}"[:300],
            "INVALID_PARAMETER",
        )
    return value.strip().lower()


def _type_of(model: Mapping[str, Any]) -> str | None:
    kind = model.get("type")
    return kind.strip().lower() if isinstance(kind, str) else None


def get_model(
    ctx: Context,
    slug: str,
    fields: Iterable[str] | str | None = None,
    options: ModelFieldsOptions | Mapping[str, Any] | None = None,
) -> Op[ModelResponse]:
    """``GET /model/{slug}``."""
    data = yield from call(
        ctx,
        "GET",
        f"/model/{segment(slug, 'model slug')}",
        params=fields_params(fields, options),
    )
    if not isinstance(data, dict):
        raise unexpected("a model object", data)
    return cast(ModelResponse, data)
