"""`client.models`: discover models, their pricing and their input/output schemas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._enums import ModelType
from .._options import ModelFieldsOptions
from .._types import ModelResponse
from ._resource import Resource

if TYPE_CHECKING:  # the drivers import the HTTP stack: not at `import skytells`
    from .._io.async_driver import AsyncDriver  # noqa: F401 (named in a base class below)
    from .._io.sync_driver import SyncDriver  # noqa: F401

__all__ = ["AsyncModels", "Models"]


class Models(Resource["SyncDriver"]):
    """Model operations of the synchronous client (``client.models``)."""

    def list(
        self,
        fields: Iterable[str] | str | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
        *,
        type: ModelType | str | None = None,
    ) -> list[ModelResponse]:
        """All available models, or only those of ``type`` (``"image"``, ``"video"``,
        ``ModelType.AUDIO``...; case-insensitive, filtered by the SDK); ``fields`` may add
        ``"input_schema"``, ``"output_schema"``."""
        return self._driver.run(self._core.list_models(fields, options, type))

    def get(
        self,
        slug: str,
        fields: Iterable[str] | str | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """One model by slug; an unknown slug raises `NotFoundError` (``MODEL_NOT_FOUND``)."""
        return self._driver.run(self._core.get_model(slug, fields, options))


class AsyncModels(Resource["AsyncDriver"]):
    """Model operations of the async client (``client.models``)."""

    async def list(
        self,
        fields: Iterable[str] | str | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
        *,
        type: ModelType | str | None = None,
    ) -> list[ModelResponse]:
        """All available models, or only those of ``type`` (``"image"``, ``"video"``,
        ``ModelType.AUDIO``...; case-insensitive, filtered by the SDK); ``fields`` may add
        ``"input_schema"``, ``"output_schema"``."""
        return await self._driver.run(self._core.list_models(fields, options, type))

    async def get(
        self,
        slug: str,
        fields: Iterable[str] | str | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """One model by slug; an unknown slug raises `NotFoundError` (``MODEL_NOT_FOUND``)."""
        return await self._driver.run(self._core.get_model(slug, fields, options))
