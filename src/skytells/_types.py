"""Typed shapes of the API's JSON: `TypedDict`s, so they stay plain dicts at run time.

Every key is optional (``total=False``): the service adds and omits fields over time, and unknown
fields or enum values must never break a program.
"""

from __future__ import annotations

import sys
from typing import Any, Union

if sys.version_info >= (3, 11):  # typing_extensions costs ~10 ms of import time (inspect)
    from typing import TypedDict
else:  # pragma: no cover - Python 3.10
    from typing_extensions import TypedDict

__all__ = [
    "Billing",
    "ModelResponse",
    "ModelVendor",
    "PaginationDict",
    "PredictionListDict",
    "PredictionMetadata",
    "PredictionMetrics",
    "PredictionModelRef",
    "PredictionOutput",
    "PredictionPayload",
    "PredictionResponse",
    "PredictionUrls",
    "Pricing",
    "StorageFile",
    "WebhookConfig",
]

PredictionOutput = Union[str, list[str], None]
"""A prediction's ``output``: a URL or text, a list of them, or ``None`` until complete."""


class WebhookConfig(TypedDict, total=False):
    """``{"url": ..., "events": ["completed", "failed"]}``."""

    url: str | None
    events: list[str]


class PredictionPayload(TypedDict, total=False):
    """The body of a create request (``predict``, ``predictions.create``, ``queue``)."""

    model: str
    input: dict[str, Any]
    webhook: WebhookConfig | str
    stream: bool


class PredictionModelRef(TypedDict, total=False):
    """The model a prediction ran (some responses give a bare slug string instead)."""

    name: str
    type: str


class PredictionUrls(TypedDict, total=False):
    """Absolute URLs for the prediction's operations (``{}`` on some failed predictions)."""

    get: str
    cancel: str
    stream: str
    delete: str


class PredictionMetrics(TypedDict, total=False):
    """Progress (0-100 while running) and timings in seconds."""

    progress: float
    predict_time: float
    total_time: float
    image_count: int
    asset_count: int


class Billing(TypedDict, total=False):
    """What the prediction cost."""

    credits_used: float


class StorageFile(TypedDict, total=False):
    """One stored output file."""

    name: str
    type: str
    size: int | None
    url: str


class PredictionMetadata(TypedDict, total=False):
    """Billing and storage details."""

    billing: Billing
    storage: dict[str, list[StorageFile]]
    data_available: bool


class PredictionResponse(TypedDict, total=False):
    """A prediction as the API returns it (``GET /predictions/{id}``)."""

    id: str
    status: str
    type: str
    stream: bool
    input: dict[str, Any]
    output: PredictionOutput
    response: str | None
    error: str | None
    created_at: str
    started_at: str | None
    completed_at: str | None
    updated_at: str
    privacy: str
    source: str
    model: PredictionModelRef | str
    webhook: WebhookConfig
    metrics: PredictionMetrics
    metadata: PredictionMetadata
    urls: PredictionUrls
    data_removed: bool


class PaginationDict(TypedDict, total=False):
    """Pagination of a list response."""

    current_page: int
    per_page: int
    total: int
    last_page: int


class PredictionListDict(TypedDict, total=False):
    """``GET /predictions``: a page of predictions."""

    data: list[PredictionResponse]
    pagination: PaginationDict


class ModelVendor(TypedDict, total=False):
    """Who publishes a model."""

    name: str
    description: str
    image_url: str
    verified: bool
    slug: str
    metadata: dict[str, Any]


class Pricing(TypedDict, total=False):
    """What a model costs: ``amount`` ``currency`` per ``unit``."""

    amount: float
    currency: str
    unit: str
    criterias: list[dict[str, Any]]
    formula: str


class ModelResponse(TypedDict, total=False):
    """A model of the catalogue (``GET /models``, ``GET /model/{slug}``)."""

    name: str
    description: str
    namespace: str
    type: str
    privacy: str
    img_url: str
    vendor: ModelVendor
    billable: bool
    pricing: Pricing | None
    capabilities: list[str]
    status: str
    metadata: dict[str, Any]
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
