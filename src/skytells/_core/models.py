"""The model endpoints: the catalogue and one model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

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
) -> Op[list[ModelResponse]]:
    """``GET /models``: the catalogue (a bare JSON array)."""
    data = yield from call(ctx, "GET", "/models", params=fields_params(fields, options))
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise unexpected("a list of models", data)
    return [cast(ModelResponse, m) for m in data if isinstance(m, dict)]


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
