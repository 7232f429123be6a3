"""`Prediction` and `AsyncPrediction`: the result of `run()`, a typed view of the API's dict."""

from __future__ import annotations

import copy
from collections.abc import Collection
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .._exceptions import SkytellsError
from .._types import PredictionOutput, PredictionResponse
from .base import ClientBase

if TYPE_CHECKING:
    from .._core.saving import ProgressCallback
    from .._options import OnProgressCallback, WaitOptions
    from .async_ import AsyncSkytellsClient
    from .output_file import AsyncOutputFile, OutputFile
    from .prediction_stream import AsyncPredictionStream, PredictionStream
    from .sync import SkytellsClient

__all__ = ["AsyncPrediction", "Prediction"]

_View = TypeVar("_View", bound="_PredictionView")


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

    def _repr_mimebundle_(
        self, include: Collection[str] | None = None, exclude: Collection[str] | None = None
    ) -> dict[str, str]:
        """How Jupyter shows it: id, model, status, times, credits, error, and the outputs
        inline (images, video and audio players, text); everything from the server escaped."""
        from .._core.display import fallback_bundle, prediction_mimebundle  # only to display

        try:
            return prediction_mimebundle(self._data, include=include, exclude=exclude)
        except Exception:  # showing a value never fails: the plain repr instead
            return fallback_bundle(self)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _PredictionView)
        return self._data == other._data

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))

    # ── pickling and copying ─────────────────────────────────────────────
    # A pickle holds the data only: the client (its API key, its connections) never goes in, so
    # an unpickled prediction has no client until `bind()` gives it one. Copies keep the client.

    _bound: Any

    def __getstate__(self) -> dict[str, Any]:
        return {"data": self._data}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._data = state["data"]
        self._bound = None

    def __copy__(self: _View) -> _View:
        twin = type(self).__new__(type(self))
        twin._data, twin._bound = self._data, self._bound
        return twin

    def __deepcopy__(self: _View, memo: dict[int, Any]) -> _View:
        twin = type(self).__new__(type(self))
        twin._data, twin._bound = copy.deepcopy(self._data, memo), self._bound
        return twin

    def _bound_client(self) -> Any:
        client = self._bound
        if client is None:
            raise SkytellsError(
                f"{type(self).__name__} {self.id!r} has no client: it was unpickled, and a "
                "pickle never holds the client (nor its API key). Bind it to a client of this "
                "process first: prediction.bind(client).",
                "PREDICTION_NOT_BOUND",
            )
        return client

    _asynchronous: bool
    """Whether the methods are awaitable: `bind` takes a client of the same kind."""

    def _bind(self, client: object) -> None:
        if not isinstance(client, ClientBase) or client._asynchronous is not self._asynchronous:
            expected = "AsyncSkytellsClient" if self._asynchronous else "SkytellsClient"
            raise SkytellsError(
                f"{type(self).__name__}.bind() takes a {expected}, got {type(client).__name__}",
                "INVALID_PARAMETER",
            )
        self._bound = client


class Prediction(_PredictionView):
    """A prediction returned by `SkytellsClient.run()`, with lifecycle methods.

    It pickles (its data only, never the client or its key) and copies (keeping its client).
    """

    __slots__ = ("_bound",)
    _asynchronous = False

    def __init__(self, client: SkytellsClient, data: PredictionResponse) -> None:
        super().__init__(data)
        self._bound: SkytellsClient | None = client

    @property
    def _client(self) -> SkytellsClient:
        client: SkytellsClient = self._bound_client()
        return client

    def bind(self, client: SkytellsClient) -> Prediction:
        """Use ``client`` for this prediction's methods (`refresh`, `wait`, `cancel`, `save`...);
        returns self. An unpickled prediction needs it: a pickle never holds the client.

        ::

            prediction = pickle.loads(data).bind(client)
            prediction.refresh()
        """
        self._bind(client)
        return self

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
        *,
        progress: bool = False,
    ) -> Prediction:
        """Wait until the prediction is terminal (see `SkytellsClient.wait`); returns self."""
        self._data = self._client.wait(
            self._data, options=options, on_progress=on_progress, progress=progress
        )
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

    def files(self) -> list[OutputFile]:
        """An `OutputFile` for each output file, in order: ``.url``, ``.name``,
        ``.content_type``, ``read()``, ``iter_bytes()``, ``open()``, ``save()``. Text outputs
        (text models) are not files: a text prediction has ``[]``. No request is sent here."""
        return self._client.predictions.files(self._data)


class AsyncPrediction(_PredictionView):
    """A prediction returned by `AsyncSkytellsClient.run()`; its lifecycle methods are awaitable.

    It pickles (its data only, never the client or its key) and copies (keeping its client).
    """

    __slots__ = ("_bound",)
    _asynchronous = True

    def __init__(self, client: AsyncSkytellsClient, data: PredictionResponse) -> None:
        super().__init__(data)
        self._bound: AsyncSkytellsClient | None = client

    @property
    def _client(self) -> AsyncSkytellsClient:
        client: AsyncSkytellsClient = self._bound_client()
        return client

    def bind(self, client: AsyncSkytellsClient) -> AsyncPrediction:
        """Use ``client`` for this prediction's methods (`refresh`, `wait`, `cancel`, `save`...);
        returns self. An unpickled prediction needs it: a pickle never holds the client.

        ::

            prediction = pickle.loads(data).bind(client)
            await prediction.refresh()
        """
        self._bind(client)
        return self

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
        *,
        progress: bool = False,
    ) -> AsyncPrediction:
        """Wait until the prediction is terminal (see `AsyncSkytellsClient.wait`); returns self."""
        self._data = await self._client.wait(
            self._data, options=options, on_progress=on_progress, progress=progress
        )
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

    def files(self) -> list[AsyncOutputFile]:
        """An `AsyncOutputFile` for each output file, in order (see `Prediction.files`): ``await
        file.read()``, ``async for chunk in file``, ``async with file.open()``, ``await
        file.save()``. A text prediction has ``[]``. No request is sent here."""
        return self._client.predictions.files(self._data)
