"""`client.predictions`: create, get, list and iterate predictions."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from .._core.predictions import create_prediction, get_prediction, list_predictions
from .._options import PredictionRequest, PredictionsListOptions
from .._pagination import PaginatedResponse
from .._types import PredictionResponse

if TYPE_CHECKING:
    from .._clients.async_ import AsyncSkytellsClient
    from .._clients.sync import SkytellsClient

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


class Predictions:
    """Prediction operations of the synchronous client (``client.predictions``)."""

    def __init__(self, client: SkytellsClient) -> None:
        self._client = client

    def create(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        *,
        idempotency_key: str | None = None,
    ) -> PredictionResponse:
        """Create a background prediction (always ``await: false``); returns it ``pending``."""
        op = create_prediction(
            self._client._ctx, payload, background=True, idempotency_key=idempotency_key
        )
        return self._client._driver.run(op)

    def get(self, id: str) -> PredictionResponse:
        """Fetch a prediction by id. Unknown ids raise `NotFoundError`."""
        return self._client._driver.run(get_prediction(self._client._ctx, id))

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
        op = list_predictions(
            self._client._ctx,
            page=page,
            since=since,
            until=until,
            model=model,
            per_page=per_page,
            status=status,
            options=options,
        )
        return self._client._driver.run(op)

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
        pager = _Pager()
        while True:
            page = self.list(pager.page, since, until, model, per_page=per_page, status=status)
            yield from pager.fresh(page)
            if not pager.advance(page):
                return


class AsyncPredictions:
    """Prediction operations of the async client (``client.predictions``)."""

    def __init__(self, client: AsyncSkytellsClient) -> None:
        self._client = client

    async def create(
        self,
        payload: Mapping[str, Any] | PredictionRequest,
        *,
        idempotency_key: str | None = None,
    ) -> PredictionResponse:
        """Create a background prediction (always ``await: false``); returns it ``pending``."""
        op = create_prediction(
            self._client._ctx, payload, background=True, idempotency_key=idempotency_key
        )
        return await self._client._driver.run(op)

    async def get(self, id: str) -> PredictionResponse:
        """Fetch a prediction by id. Unknown ids raise `NotFoundError`."""
        return await self._client._driver.run(get_prediction(self._client._ctx, id))

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
        op = list_predictions(
            self._client._ctx,
            page=page,
            since=since,
            until=until,
            model=model,
            per_page=per_page,
            status=status,
            options=options,
        )
        return await self._client._driver.run(op)

    async def iter_all(
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
        pager = _Pager()
        while True:
            page = await self.list(
                pager.page, since, until, model, per_page=per_page, status=status
            )
            for item in pager.fresh(page):
                yield item
            if not pager.advance(page):
                return
