"""`Prediction` and `AsyncPrediction`: the result of `run()`, a typed view of the API's dict."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._types import PredictionOutput, PredictionResponse

if TYPE_CHECKING:
    from ._client._async import AsyncSkytellsClient
    from ._client._downloads import ProgressCallback
    from ._client._prediction_stream import AsyncPredictionStream, PredictionStream
    from ._client._sync import SkytellsClient
    from ._options import OnProgressCallback, WaitOptions

__all__ = ["AsyncPrediction", "Prediction"]


class _PredictionView:
    __slots__ = ("_data",)

    def __init__(self, data: PredictionResponse) -> None:
        self._data = data

    @property
    def id(self) -> str:
        """Unique prediction id."""
        return str(self._data.get("id", ""))

    @property
    def status(self) -> str:
        """Current lifecycle status (see `PredictionStatus`)."""
        return str(self._data.get("status", "unknown"))

    @property
    def output(self) -> PredictionOutput:
        """Raw output as in the API's JSON: a string, a list of strings, or None."""
        return self._data.get("output")

    @property
    def response(self) -> PredictionResponse:
        """The full raw API response dict (same as `raw()`)."""
        return self._data

    def outputs(self) -> PredictionOutput:
        """The output with a single-element list unwrapped (``["u"]`` -> ``"u"``)."""
        out = self._data.get("output")
        if isinstance(out, list) and len(out) == 1:
            return out[0]
        return out

    def raw(self) -> PredictionResponse:
        """The full raw response dict, for logging, serialisation, metrics and billing."""
        return self._data

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self.id!r}, status={self.status!r})"


class Prediction(_PredictionView):
    """A prediction returned by `SkytellsClient.run()`, with lifecycle methods."""

    __slots__ = ("_client",)

    def __init__(self, client: SkytellsClient, data: PredictionResponse) -> None:
        super().__init__(data)
        self._client = client

    def cancel(self) -> PredictionResponse:
        """Cancel the prediction; returns (and keeps) the updated prediction dict."""
        self._data = self._client.cancel_prediction(self.id)
        return self._data

    def delete(self) -> dict[str, Any]:
        """Delete the prediction and its stored output files."""
        return self._client.delete_prediction(self.id)

    def refresh(self) -> Prediction:
        """Fetch the latest state; returns self."""
        self._data = self._client.predictions.get(self.id)
        return self

    def wait(
        self,
        options: WaitOptions | dict[str, Any] | None = None,
        on_progress: OnProgressCallback | None = None,
    ) -> Prediction:
        """Wait until the prediction is terminal (see `SkytellsClient.wait`); returns self."""
        self._data = self._client.wait(self._data, options=options, on_progress=on_progress)
        return self

    def save(
        self,
        target: str | PathLike[str] = ".",
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Stream every output to disk under ``target`` (a folder, or a file path for a single
        output) with constant memory; returns the paths written (see `SkytellsClient.save_outputs`)."""
        return self._client.save_outputs(
            self._data,
            target,
            on_progress=on_progress,
            timeout=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
        )

    download = save

    def stream(self, *, max_wait: float | None = None) -> PredictionStream:
        """Follow this prediction's events (see `SkytellsClient.stream`)."""
        return self._client.stream(self._data, max_wait=max_wait)


class AsyncPrediction(_PredictionView):
    """A prediction returned by `AsyncSkytellsClient.run()`; its lifecycle methods are awaitable."""

    __slots__ = ("_client",)

    def __init__(self, client: AsyncSkytellsClient, data: PredictionResponse) -> None:
        super().__init__(data)
        self._client = client

    async def cancel(self) -> PredictionResponse:
        """Cancel the prediction; returns (and keeps) the updated prediction dict."""
        self._data = await self._client.cancel_prediction(self.id)
        return self._data

    async def delete(self) -> dict[str, Any]:
        """Delete the prediction and its stored output files."""
        return await self._client.delete_prediction(self.id)

    async def refresh(self) -> AsyncPrediction:
        """Fetch the latest state; returns self."""
        self._data = await self._client.predictions.get(self.id)
        return self

    async def wait(
        self,
        options: WaitOptions | dict[str, Any] | None = None,
        on_progress: OnProgressCallback | None = None,
    ) -> AsyncPrediction:
        """Wait until the prediction is terminal (see `AsyncSkytellsClient.wait`); returns self."""
        self._data = await self._client.wait(self._data, options=options, on_progress=on_progress)
        return self

    async def save(
        self,
        target: str | PathLike[str] = ".",
        *,
        on_progress: ProgressCallback | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        overwrite: bool = False,
    ) -> list[Path]:
        """Stream every output to disk under ``target``; returns the paths written (see
        `SkytellsClient.save_outputs`; ``on_progress`` may be an ``async def``)."""
        return await self._client.save_outputs(
            self._data,
            target,
            on_progress=on_progress,
            timeout=timeout,
            max_bytes=max_bytes,
            overwrite=overwrite,
        )

    download = save

    def stream(self, *, max_wait: float | None = None) -> AsyncPredictionStream:
        """Follow this prediction's events with ``async for`` (see `AsyncSkytellsClient.stream`)."""
        return self._client.stream(self._data, max_wait=max_wait)
