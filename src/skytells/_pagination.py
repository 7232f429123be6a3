"""A page of predictions: `PaginatedResponse` with `.data` and `.pagination`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, cast, overload

from ._types import PaginationDict, PredictionResponse

__all__ = ["PaginatedResponse", "Pagination"]


class Pagination:
    """Where a page sits: ``current_page``, ``per_page``, ``total``, ``last_page``."""

    __slots__ = ("current_page", "last_page", "per_page", "total")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        data = data or {}
        self.current_page: int = _int(data.get("current_page"), 1)
        self.per_page: int = _int(data.get("per_page"), 0)
        self.total: int = _int(data.get("total"), 0)
        self.last_page: int = _int(data.get("last_page"), 1)

    @property
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.current_page < self.last_page

    def to_dict(self) -> PaginationDict:
        """The pagination as a plain dict."""
        return {
            "current_page": self.current_page,
            "per_page": self.per_page,
            "total": self.total,
            "last_page": self.last_page,
        }

    def __getitem__(self, key: str) -> int:
        if key not in self.__slots__:
            raise KeyError(key)
        value: int = getattr(self, key)
        return value

    def __repr__(self) -> str:
        return (
            f"Pagination(current_page={self.current_page}, per_page={self.per_page}, "
            f"total={self.total}, last_page={self.last_page})"
        )


class PaginatedResponse:
    """A page of predictions.

    ``.data`` is the list of prediction dicts and ``.pagination`` a `Pagination`. The page is also a
    sequence of its predictions (``page[0]``, ``len(page)``, ``for p in page``), and
    ``page["data"]`` / ``page["pagination"]`` give the raw JSON parts.
    """

    def __init__(self, data: Mapping[str, Any] | list[Any] | None = None) -> None:
        if isinstance(data, list):  # some documented responses are a bare array
            items: list[Any] = data
            pagination: Mapping[str, Any] = {"total": len(data), "per_page": len(data)}
        else:
            data = data or {}
            raw_items = data.get("data")
            items = raw_items if isinstance(raw_items, list) else []
            raw_pagination = data.get("pagination")
            pagination = raw_pagination if isinstance(raw_pagination, Mapping) else {}
        self.data: list[PredictionResponse] = [
            cast(PredictionResponse, p) for p in items if isinstance(p, dict)
        ]
        self.pagination = Pagination(pagination)

    def to_dict(self) -> dict[str, Any]:
        """The page as a plain dict (``{"data": [...], "pagination": {...}}``)."""
        return {"data": self.data, "pagination": self.pagination.to_dict()}

    def __iter__(self) -> Iterator[PredictionResponse]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    @overload
    def __getitem__(self, key: int) -> PredictionResponse: ...
    @overload
    def __getitem__(self, key: slice) -> list[PredictionResponse]: ...
    @overload
    def __getitem__(self, key: str) -> Any: ...
    def __getitem__(self, key: int | slice | str) -> Any:
        if isinstance(key, str):
            return self.to_dict()[key]
        return self.data[key]

    def __repr__(self) -> str:
        return f"PaginatedResponse(count={len(self.data)}, pagination={self.pagination!r})"


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float
        return default
