"""`client.predictions`: create, get, list, iterate, cancel and delete predictions."""

from __future__ import annotations

import builtins
import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._clients.output_file import AsyncOutputFile, OutputFile
from .._core.file_inputs import FileEncoder
from .._core.protocol import Emit, Op
from .._options import PredictionRequest, PredictionsListOptions
from .._pagination import PaginatedResponse
from .._types import PredictionResponse
from ._resource import Resource

if TYPE_CHECKING:
    from .._clients.core import ClientCore
    from .._clients.prediction import AsyncPrediction, Prediction
    from .._io.async_driver import AsyncDriver  # noqa: F401 (named in a base class below)
    from .._io.sync_driver import SyncDriver  # noqa: F401

__all__ = ["AsyncPredictions", "Predictions"]

logger = logging.getLogger("skytells")


class _Pager:
    """Walks the pages of a listing once, skipping predictions already seen (new predictions
    shift the newest-first pages while one iterates)."""

    def __init__(self) -> None:
        self.page = 1
        self.seen: set[str] = set()
        self.new = 0

    def fresh(self, page: PaginatedResponse) -> list[PredictionResponse]:
        items = [p for p in page.data if str(p.get("id")) not in self.seen]
        self.seen.update(str(p.get("id")) for p in items)
        self.new = len(items)
        return items

    def advance(self, page: PaginatedResponse) -> bool:
        """Move to the next page; False when this one was the last, was not the page asked
        for (a server ignoring ``page`` would otherwise be walked for ever), or brought nothing
        new (a server repeating a page, whatever ``last_page`` it claims)."""
        pagination = page.pagination
        if not page.data or pagination.current_page != self.page:
            return False
        if pagination.current_page >= pagination.last_page:
            return False
        if not self.new:
            logger.warning(
                "iter_all(): page %d of the predictions listing brought no prediction not "
                "already seen (the server claims %d pages); stopping here",
                self.page,
                pagination.last_page,
            )
            return False
        self.page += 1
        return True


def _every_page(
    core: ClientCore,
    since: str | dt.date | None,
    until: str | dt.date | None,
    model: str | None,
    per_page: int,
    status: str | None,
) -> Op[None]:
    """``iter_all()``: emits every matching prediction once, fetching one page at a time."""
    pager = _Pager()
    while True:
        op = core.list_predictions(
            pager.page, since, until, model, per_page=per_page, status=status
        )
        page = yield from op
        for item in pager.fresh(page):
            yield Emit(item)
        if not pager.advance(page):
            return


class Predictions(Resource["SyncDriver"]):
    """Prediction operations of the synchronous client (``client.predictions``)."""

    def create(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        *,
        idempotency_key: str | None = None,
        file_encoder: FileEncoder | None = None,
    ) -> PredictionResponse:
        """Create a background prediction (always ``await: false``); returns it ``pending``.
        Local files in the input are sent as files (see `SkytellsClient.run`)."""
        return self._driver.run(self._core.create(payload, idempotency_key, file_encoder))

    def get(self, id: str) -> PredictionResponse:
        """Fetch a prediction by id. Unknown ids raise `NotFoundError`."""
        return self._driver.run(self._core.get(id))

    def cancel(self, id: str) -> PredictionResponse:
        """Cancel a prediction that has not ended; returns it updated (``status`` cancelled).

        A retry whose earlier attempt cancelled it but lost the answer succeeds; a prediction
        that already ended raises the API's error (`ValidationError`). Same as
        ``client.cancel_prediction(id)``."""
        return self._driver.run(self._core.cancel(id))

    def delete(self, id: str) -> dict[str, Any]:
        """Delete a prediction and its stored output files; returns the API's answer (such as
        ``{"id": ..., "deleted": True}``). An unknown id raises `NotFoundError`. Same as
        ``client.delete_prediction(id)``."""
        return self._driver.run(self._core.delete(id))

    def files(self, prediction: Mapping[str, Any] | Prediction) -> builtins.list[OutputFile]:
        """An `OutputFile` for each output file of ``prediction`` (a dict or a `Prediction`), in
        order; text outputs have none. No request is sent until a file is read."""
        return [
            OutputFile(self._core, self._driver, i) for i in self._core.output_files(prediction)
        ]

    def list(
        self,
        page: int | None = None,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        model: str | None = None,
        *,
        per_page: int | None = None,
        status: str | None = None,
        options: PredictionsListOptions | Mapping[str, Any] | None = None,
    ) -> PaginatedResponse:
        """List predictions, newest first; returns a page with ``.data`` and ``.pagination``."""
        op = self._core.list_predictions(
            page, since, until, model, per_page=per_page, status=status, options=options
        )
        return self._driver.run(op)

    def iter_all(
        self,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        model: str | None = None,
        *,
        per_page: int = 50,
        status: str | None = None,
    ) -> Iterator[PredictionResponse]:
        """Every matching prediction across all pages, fetched lazily one page at a time; each
        once. Stops at the last page, or at a page that brings nothing new (logged)."""
        return self._driver.iterate(_every_page(self._core, since, until, model, per_page, status))


class AsyncPredictions(Resource["AsyncDriver"]):
    """Prediction operations of the async client (``client.predictions``)."""

    async def create(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        *,
        idempotency_key: str | None = None,
        file_encoder: FileEncoder | None = None,
    ) -> PredictionResponse:
        """Create a background prediction (always ``await: false``); returns it ``pending``.
        Local files in the input are sent as files (see `SkytellsClient.run`)."""
        return await self._driver.run(self._core.create(payload, idempotency_key, file_encoder))

    async def get(self, id: str) -> PredictionResponse:
        """Fetch a prediction by id. Unknown ids raise `NotFoundError`."""
        return await self._driver.run(self._core.get(id))

    async def cancel(self, id: str) -> PredictionResponse:
        """Cancel a prediction that has not ended; returns it updated (``status`` cancelled).

        A retry whose earlier attempt cancelled it but lost the answer succeeds; a prediction
        that already ended raises the API's error (`ValidationError`). Same as
        ``client.cancel_prediction(id)``."""
        return await self._driver.run(self._core.cancel(id))

    async def delete(self, id: str) -> dict[str, Any]:
        """Delete a prediction and its stored output files; returns the API's answer (such as
        ``{"id": ..., "deleted": True}``). An unknown id raises `NotFoundError`. Same as
        ``client.delete_prediction(id)``."""
        return await self._driver.run(self._core.delete(id))

    def files(
        self, prediction: Mapping[str, Any] | AsyncPrediction
    ) -> builtins.list[AsyncOutputFile]:
        """An `AsyncOutputFile` for each output file of ``prediction`` (a dict or an
        `AsyncPrediction`), in order; text outputs have none. Nothing is sent until one is read."""
        return [
            AsyncOutputFile(self._core, self._driver, i)
            for i in self._core.output_files(prediction)
        ]

    async def list(
        self,
        page: int | None = None,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        model: str | None = None,
        *,
        per_page: int | None = None,
        status: str | None = None,
        options: PredictionsListOptions | Mapping[str, Any] | None = None,
    ) -> PaginatedResponse:
        """List predictions, newest first; returns a page with ``.data`` and ``.pagination``."""
        op = self._core.list_predictions(
            page, since, until, model, per_page=per_page, status=status, options=options
        )
        return await self._driver.run(op)

    def iter_all(
        self,
        since: str | dt.date | None = None,
        until: str | dt.date | None = None,
        model: str | None = None,
        *,
        per_page: int = 50,
        status: str | None = None,
    ) -> AsyncIterator[PredictionResponse]:
        """Every matching prediction across all pages, fetched lazily one page at a time; each
        once. Stops at the last page, or at a page that brings nothing new (logged)."""
        return self._driver.iterate(_every_page(self._core, since, until, model, per_page, status))
