"""Skytells Python SDK: run Skytells AI models (image, video, audio, music, text) from Python.

from skytells import SkytellsClient

client = SkytellsClient()  # reads SKYTELLS_API_KEY
prediction = client.run("flux-pro", input={"prompt": "A cat wearing sunglasses"})
print(prediction.outputs())
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._clients.batch import AsyncBatch, Batch, BatchProgress, BatchResult, BatchStatus
from ._clients.prediction import AsyncPrediction, Prediction
from ._clients.prediction_stream import AsyncPredictionStream, PredictionStream
from ._clients.sync import SkytellsClient
from ._core.batch import RunResult
from ._core.config import API_BASE_URL
from ._core.events import StreamEvent
from ._enums import (
    TERMINAL_STATUSES,
    ApiErrorId,
    ModelPrivacy,
    ModelType,
    PredictionSource,
    PredictionStatus,
    PredictionType,
    PricingOperator,
    PricingUnit,
)
from ._exceptions import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    ContentPolicyError,
    CreateOutcomeUnknownError,
    DispatchError,
    NotFoundError,
    PaymentRequiredError,
    PermissionDeniedError,
    PredictionCancelledError,
    PredictionError,
    PredictionFailedError,
    RateLimitError,
    ResponseTooLargeError,
    ServerError,
    SkytellsError,
    ValidationError,
    WaitTimeoutError,
)
from ._options import (
    ClientOptions,
    ModelFieldsOptions,
    OnProgressCallback,
    PredictionRequest,
    PredictionsListOptions,
    QueueItem,
    RetryOptions,
    RunOptions,
    WaitOptions,
)
from ._pagination import PaginatedResponse, Pagination
from ._types import (
    ModelResponse,
    PaginationDict,
    PredictionListDict,
    PredictionMetrics,
    PredictionOutput,
    PredictionPayload,
    PredictionResponse,
    PredictionUrls,
    WebhookConfig,
)
from ._version import __version__
from .resources import AsyncModels, AsyncPredictions, Models, Predictions

if TYPE_CHECKING:
    from ._clients.async_ import AsyncSkytellsClient


def __getattr__(name: str) -> Any:
    """`AsyncSkytellsClient` is imported on first use: ``import skytells`` and a sync client
    load no asyncio HTTP stack."""
    if name == "AsyncSkytellsClient":
        from ._clients.async_ import AsyncSkytellsClient

        globals()[name] = AsyncSkytellsClient
        return AsyncSkytellsClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The official package's names for the resource classes.
PredictionsAPI = Predictions
ModelsAPI = Models

__all__ = [
    "API_BASE_URL",
    "TERMINAL_STATUSES",
    "APIConnectionError",
    "APITimeoutError",
    "ApiErrorId",
    "AsyncBatch",
    "AsyncModels",
    "AsyncPrediction",
    "AsyncPredictionStream",
    "AsyncPredictions",
    "AsyncSkytellsClient",
    "AuthenticationError",
    "Batch",
    "BatchProgress",
    "BatchResult",
    "BatchStatus",
    "ClientOptions",
    "ContentPolicyError",
    "CreateOutcomeUnknownError",
    "DispatchError",
    "ModelFieldsOptions",
    "ModelPrivacy",
    "ModelResponse",
    "ModelType",
    "Models",
    "ModelsAPI",
    "NotFoundError",
    "OnProgressCallback",
    "PaginatedResponse",
    "Pagination",
    "PaginationDict",
    "PaymentRequiredError",
    "PermissionDeniedError",
    "Prediction",
    "PredictionCancelledError",
    "PredictionError",
    "PredictionFailedError",
    "PredictionListDict",
    "PredictionMetrics",
    "PredictionOutput",
    "PredictionPayload",
    "PredictionRequest",
    "PredictionResponse",
    "PredictionSource",
    "PredictionStatus",
    "PredictionStream",
    "PredictionType",
    "PredictionUrls",
    "Predictions",
    "PredictionsAPI",
    "PredictionsListOptions",
    "PricingOperator",
    "PricingUnit",
    "QueueItem",
    "RateLimitError",
    "ResponseTooLargeError",
    "RetryOptions",
    "RunOptions",
    "RunResult",
    "ServerError",
    "Skytells",
    "SkytellsClient",
    "SkytellsError",
    "StreamEvent",
    "ValidationError",
    "WaitOptions",
    "WaitTimeoutError",
    "WebhookConfig",
    "__version__",
    "create_client",
]


def Skytells(
    api_key: str | None = None,
    options: ClientOptions | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SkytellsClient:
    """Create a `SkytellsClient` (the official package's factory); keywords as the client's."""
    return SkytellsClient(api_key, options, **kwargs)


create_client = Skytells
"""Deprecated alias of `Skytells`."""
