"""`client.models`: discover models, their pricing and their input/output schemas."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .._core.models import get_model, list_models
from .._options import ModelFieldsOptions
from .._types import ModelResponse

if TYPE_CHECKING:
    from .._clients.async_ import AsyncSkytellsClient
    from .._clients.sync import SkytellsClient

__all__ = ["AsyncModels", "Models"]


class Models:
    """Model operations of the synchronous client (``client.models``)."""

    def __init__(self, client: SkytellsClient) -> None:
        self._client = client

    def list(
        self,
        fields: Iterable[str] | str | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> list[ModelResponse]:
        """All available models; ``fields`` may add ``"input_schema"``, ``"output_schema"``."""
        return self._client._driver.run(list_models(self._client._ctx, fields, options))

    def get(
        self,
        slug: str,
        fields: Iterable[str] | str | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """One model by slug; an unknown slug raises `NotFoundError` (``MODEL_NOT_FOUND``)."""
        return self._client._driver.run(get_model(self._client._ctx, slug, fields, options))


class AsyncModels:
    """Model operations of the async client (``client.models``)."""

    def __init__(self, client: AsyncSkytellsClient) -> None:
        self._client = client

    async def list(
        self,
        fields: Iterable[str] | str | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> list[ModelResponse]:
        """All available models; ``fields`` may add ``"input_schema"``, ``"output_schema"``."""
        return await self._client._driver.run(list_models(self._client._ctx, fields, options))

    async def get(
        self,
        slug: str,
        fields: Iterable[str] | str | None = None,
        options: ModelFieldsOptions | Mapping[str, Any] | None = None,
    ) -> ModelResponse:
        """One model by slug; an unknown slug raises `NotFoundError` (``MODEL_NOT_FOUND``)."""
        return await self._client._driver.run(get_model(self._client._ctx, slug, fields, options))
