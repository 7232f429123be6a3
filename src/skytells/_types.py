"""Typed shapes of the API's JSON: `TypedDict`s, so they stay plain dicts at run time.

A key is required when every answer carries it, in every documented variant, after what the SDK
normalises: a prediction always has its ``id`` and a ``status`` (the SDK refuses a prediction
without an id, and spells a queued create's ``"status": false`` ``"pending"``), so
``prediction["id"]`` type-checks; the rest may be absent (the queued answer has nothing else) and
is read with ``.get()``. A model has what the API's catalogue always sends. Values the SDK does
not know (a new status, a new model type) stay plain strings, and unknown fields are kept: they
never break a program.
"""

from __future__ import annotations

import sys
from typing import Any, Union

if sys.version_info >= (3, 11):  # typing_extensions costs ~10 ms of import time (inspect)
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - Python 3.10
    from typing_extensions import NotRequired, TypedDict

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


class PredictionResponse(TypedDict):
    """A prediction as the API returns it (``GET /predictions/{id}``).

    ``id`` and ``status`` are always there; the other keys are read with ``.get()``
    (``prediction.get("output")``, ``prediction.get("metrics", {}).get("progress")``)."""

    id: str
    status: str
    """``pending``, ``starting``, ``processing``, ``succeeded``, ``failed``, ``cancelled`` (see
    `PredictionStatus`), or a spelling the SDK does not know yet."""
    type: NotRequired[str]
    stream: NotRequired[bool]
    input: NotRequired[dict[str, Any]]
    output: NotRequired[PredictionOutput]
    response: NotRequired[str | None]
    error: NotRequired[str | None]
    created_at: NotRequired[str]
    started_at: NotRequired[str | None]
    completed_at: NotRequired[str | None]
    updated_at: NotRequired[str]
    privacy: NotRequired[str]
    source: NotRequired[str]
    model: NotRequired[PredictionModelRef | str]
    webhook: NotRequired[WebhookConfig]
    metrics: NotRequired[PredictionMetrics]
    metadata: NotRequired[PredictionMetadata]
    urls: NotRequired[PredictionUrls]
    data_removed: NotRequired[bool]


class PaginationDict(TypedDict):
    """Pagination of a list response (`Pagination.to_dict()` always has the four)."""

    current_page: int
    per_page: int
    total: int
    last_page: int


class PredictionListDict(TypedDict):
    """``GET /predictions``: a page of predictions."""

    data: list[PredictionResponse]
    pagination: PaginationDict


class ModelVendor(TypedDict):
    """Who publishes a model."""

    name: str
    description: NotRequired[str]
    image_url: NotRequired[str]
    verified: NotRequired[bool]
    slug: NotRequired[str]
    metadata: NotRequired[dict[str, Any]]


class Pricing(TypedDict):
    """What a model costs: ``amount`` ``currency`` per ``unit``."""

    amount: float
    currency: str
    unit: str
    criterias: NotRequired[list[dict[str, Any]]]
    formula: NotRequired[str]


class ModelResponse(TypedDict):
    """A model of the catalogue (``GET /models``, ``GET /model/{slug}``): ``namespace`` is the
    slug API calls take; the schemas come only when asked for (``fields=["input_schema"]``)."""

    name: str
    description: str
    namespace: str
    type: str
    """``image``, ``video``, ``audio``, ``music``, ``text``, ``code``, ``multimodal`` (see
    `ModelType`), or a type the SDK does not know yet."""
    privacy: str
    img_url: str
    vendor: ModelVendor
    billable: bool
    pricing: Pricing | None
    capabilities: list[str]
    status: str
    metadata: dict[str, Any]
    input_schema: NotRequired[dict[str, Any] | None]
    output_schema: NotRequired[dict[str, Any] | None]
