"""Skytells Python SDK: run Skytells AI models (image, video, audio, music, text) from Python.

from skytells import SkytellsClient

client = SkytellsClient()  # reads SKYTELLS_API_KEY
prediction = client.run("flux-pro", input={"prompt": "A cat wearing sunglasses"})
print(prediction.outputs())

In a script or a notebook, ``skytells.run(...)``, ``skytells.predictions`` and
``skytells.models`` use a default client built from the environment on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._clients.batch import AsyncBatch, Batch, BatchProgress, BatchResult, BatchStatus
from ._clients.output_file import AsyncOutputFile, OutputFile
from ._clients.prediction import AsyncPrediction, Prediction
from ._clients.prediction_stream import AsyncPredictionStream, PredictionStream
from ._clients.sync import SkytellsClient
from ._core.batch import RunResult
from ._core.config import API_BASE_URL
from ._core.events import StreamEvent
from ._core.file_inputs import FileEncoder, FileToEncode
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
    FileTooLargeError,
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
    from ._default import default_client as default_client
    from ._default import predict as predict
    from ._default import run as run
    from ._default import set_default_client as set_default_client
    from ._default import wait as wait

    predictions: Predictions
    """The default client's `Predictions` (see `default_client`)."""
    models: Models
    """The default client's `Models` (see `default_client`)."""

_DEFAULT_CLIENT_NAMES = ("default_client", "predict", "run", "set_default_client", "wait")


def __getattr__(name: str) -> Any:
    """What is made on first use, so that ``import skytells`` loads no asyncio HTTP stack, reads
    no environment variable and opens nothing: `AsyncSkytellsClient`, and the default client's
    names (``skytells.run(...)``, ``skytells.predictions``, ``skytells.models``...)."""
    if name == "AsyncSkytellsClient":
        from ._clients.async_ import AsyncSkytellsClient

        globals()[name] = AsyncSkytellsClient
        return AsyncSkytellsClient
    if name in _DEFAULT_CLIENT_NAMES:
        from . import _default

        value = getattr(_default, name)
        globals()[name] = value
        return value
    if name in ("predictions", "models"):  # stand-ins: each call uses the default client then
        from . import _default

        return getattr(_default, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The names made on first use too (tab completion in a notebook)."""
    return sorted(
        {*globals(), "AsyncSkytellsClient", "predictions", "models", *_DEFAULT_CLIENT_NAMES}
    )


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
    "AsyncOutputFile",
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
    "FileEncoder",
    "FileToEncode",
    "FileTooLargeError",
    "ModelFieldsOptions",
    "ModelPrivacy",
    "ModelResponse",
    "ModelType",
    "Models",
    "ModelsAPI",
    "NotFoundError",
    "OnProgressCallback",
    "OutputFile",
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
    "default_client",
    "set_default_client",
]  # not `run`, `wait`, `predict`, `predictions`, `models`: `import *` would shadow common names


def Skytells(
    api_key: str | None = None,
    options: ClientOptions | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SkytellsClient:
    """Create a `SkytellsClient` (the official package's factory); keywords as the client's."""
    return SkytellsClient(api_key, options, **kwargs)


create_client = Skytells
"""Deprecated alias of `Skytells`."""
