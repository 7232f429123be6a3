"""String enums of the API's vocabulary (compatible with the official 1.0.0 package).

Members are ``str`` subclasses, so ``prediction["status"] == PredictionStatus.SUCCEEDED`` works;
values the SDK does not know are still accepted everywhere as plain strings.
"""

from __future__ import annotations

from enum import Enum

__all__ = [
    "STATUS_ERROR_IDS",
    "TERMINAL_STATUSES",
    "ApiErrorId",
    "ModelPrivacy",
    "ModelType",
    "PredictionSource",
    "PredictionStatus",
    "PredictionType",
    "PricingOperator",
    "PricingUnit",
    "is_terminal",
    "normalize_status",
]


class PredictionStatus(str, Enum):
    """Lifecycle status of a prediction."""

    PENDING = "pending"
    STARTING = "starting"
    STARTED = "started"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


_ALIASES = {"queued": "pending", "canceled": "cancelled"}

TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled", "canceled"})
"""Statuses after which a prediction never changes (both spellings of cancelled)."""


def normalize_status(status: object) -> str:
    """The canonical spelling of a status (``queued`` -> ``pending``, ``canceled`` -> ``cancelled``)."""
    text = str(status.value if isinstance(status, Enum) else status)
    return _ALIASES.get(text, text)


def is_terminal(status: object) -> bool:
    """Whether a status is terminal; unknown statuses are not."""
    return normalize_status(status) in TERMINAL_STATUSES


class ApiErrorId(str, Enum):
    """Error ids sent by the API and raised by the SDK itself."""

    UNAUTHORIZED = "UNAUTHORIZED"
    ACCOUNT_SUSPENDED = "ACCOUNT_SUSPENDED"
    FORBIDDEN = "FORBIDDEN"
    SECURITY_VIOLATION = "SECURITY_VIOLATION"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    INVALID_DATE_FORMAT = "INVALID_DATE_FORMAT"
    INVALID_DATE_RANGE = "INVALID_DATE_RANGE"
    INVALID_PARAMETER_COMBINATION = "INVALID_PARAMETER_COMBINATION"
    INVALID_REQUEST = "INVALID_REQUEST"
    PAYMENT_REQUIRED = "PAYMENT_REQUIRED"
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
    ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_INPUT = "INVALID_INPUT"
    CONTENT_POLICY_VIOLATION = "CONTENT_POLICY_VIOLATION"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    INFERENCE_ERROR = "INFERENCE_ERROR"
    INFRASTRUCTURE_ERROR = "INFRASTRUCTURE_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    INFERENCE_TIMEOUT = "INFERENCE_TIMEOUT"
    # Raised by the SDK itself
    PREDICTION_FAILED = "PREDICTION_FAILED"
    PREDICTION_CANCELLED = "PREDICTION_CANCELLED"
    WAIT_TIMEOUT = "WAIT_TIMEOUT"
    REQUEST_TIMEOUT = "REQUEST_TIMEOUT"
    NETWORK_ERROR = "NETWORK_ERROR"
    SERVER_ERROR = "SERVER_ERROR"
    INVALID_JSON = "INVALID_JSON"
    RESPONSE_TOO_LARGE = "RESPONSE_TOO_LARGE"
    API_ERROR = "API_ERROR"
    HTTP_ERROR = "HTTP_ERROR"
    UNKNOWN_ERROR = "UNKNOWN_ERROR"
    TOO_MANY_REDIRECTS = "TOO_MANY_REDIRECTS"
    DISPATCH_FAILED = "DISPATCH_FAILED"
    WEBHOOK_SIGNATURE_INVALID = "WEBHOOK_SIGNATURE_INVALID"
    CLIENT_FORKED = "CLIENT_FORKED"
    CLIENT_CLOSED = "CLIENT_CLOSED"
    PREDICTION_NOT_BOUND = "PREDICTION_NOT_BOUND"

    def __str__(self) -> str:
        return self.value


class PredictionType(str, Enum):
    """The kind of workload."""

    INFERENCE = "inference"
    TRAINING = "training"


class PredictionSource(str, Enum):
    """Where a prediction was created."""

    API = "api"
    CLI = "cli"
    WEB = "web"


class ModelType(str, Enum):
    """What a model produces."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    MUSIC = "music"
    TEXT = "text"
    CODE = "code"
    MULTIMODAL = "multimodal"


class ModelPrivacy(str, Enum):
    """Who can see a model."""

    PUBLIC = "public"
    PRIVATE = "private"


class PricingUnit(str, Enum):
    """Billing unit of a model's price."""

    IMAGE = "image"
    VIDEO = "video"
    SECOND = "second"
    PREDICTION = "prediction"
    GPU = "gpu"
    IMAGE_MEGAPIXEL = "image_megapixel"
    COMPUTING_SECOND = "computing_second"
    AUDIO_SECOND = "audio_second"
    VIDEO_SECOND = "video_second"
    TOKEN = "token"
    FIVE_SECONDS = "5 seconds"
    MINUTE = "minute"


class PricingOperator(str, Enum):
    """Comparison operator in pricing criteria."""

    EQUALS = "equals"
    DOUBLE_EQUALS = "=="


STATUS_ERROR_IDS = {
    400: "INVALID_REQUEST",
    401: "UNAUTHORIZED",
    402: "PAYMENT_REQUIRED",
    403: "FORBIDDEN",
    404: "ENDPOINT_NOT_FOUND",
    408: "REQUEST_TIMEOUT",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMIT_EXCEEDED",
    451: "CONTENT_POLICY_VIOLATION",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
    504: "INFERENCE_TIMEOUT",
}
"""The generic error id of each HTTP status: the first of the spec's table for it (a 408 takes the
client-side id the official packages use). The SDK falls back on it for an answer without an id,
and the emulator sends it when nothing more specific applies."""
