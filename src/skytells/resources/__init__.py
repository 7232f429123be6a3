"""The API's resources: `client.predictions` and `client.models` (sync and async)."""

from .models import AsyncModels, Models
from .predictions import AsyncPredictions, Predictions

__all__ = ["AsyncModels", "AsyncPredictions", "Models", "Predictions"]
