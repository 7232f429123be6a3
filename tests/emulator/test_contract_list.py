"""Listing predictions: newest first, pagination, filters, and their 400 errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator


def create_many(http: httpx.Client, models: list[str]) -> list[str]:
    ids = []
    for model in models:
        response = http.post("/predict", json={"model": model, "input": {"prompt": "x"}})
        assert response.status_code == 200
        ids.append(response.json()["id"])
    return ids


def listing(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get("/predictions", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def error_id(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["error"]["error_id"])


def test_empty_list(http: httpx.Client) -> None:
    assert listing(http) == {
        "data": [],
        "pagination": {"current_page": 1, "per_page": 20, "total": 0, "last_page": 1},
    }


def test_pages_newest_first(http: httpx.Client) -> None:
    ids = create_many(http, ["flux-edge"] * 7)
    first = listing(http, per_page=3)
    assert first["pagination"] == {"current_page": 1, "per_page": 3, "total": 7, "last_page": 3}
    pages = [listing(http, per_page=3, page=page)["data"] for page in (1, 2, 3)]
    assert [p["id"] for page in pages for p in page] == ids[::-1]
    assert listing(http, per_page=3, page=4)["data"] == []
    assert len(listing(http, per_page=50)["data"]) == 7


def test_filters_by_model_and_status(
    http: httpx.Client, emu: Emulator, wait_for: Callable[..., dict[str, Any]]
) -> None:
    for created in create_many(http, ["flux-edge", "truefusion", "flux-edge"]):
        wait_for(created)  # done before the scale changes (rendering outputs takes a moment)
    emu.configure(time_scale=1.0)
    running = create_many(http, ["mera"])
    flux = listing(http, model="flux-edge")
    assert flux["pagination"]["total"] == 2
    assert all(p["model"]["name"] == "flux-edge" for p in flux["data"])
    assert listing(http, model="nope")["pagination"]["total"] == 0
    assert [p["id"] for p in listing(http, status="pending")["data"]] == running
    assert listing(http, status="queued")["pagination"]["total"] == 1  # alias of pending
    http.post(f"/predictions/{running[0]}/cancel")
    assert listing(http, status="canceled")["pagination"]["total"] == 1  # alias of cancelled
    assert listing(http, status="succeeded", model="truefusion")["pagination"]["total"] == 1


def test_filters_by_inclusive_days(http: httpx.Client) -> None:
    create_many(http, ["flux-edge"] * 2)
    today = datetime.now(timezone.utc).date()
    day = timedelta(days=1)
    assert listing(http, **{"from": str(today), "to": str(today)})["pagination"]["total"] == 2
    assert listing(http, **{"from": str(today - day)})["pagination"]["total"] == 2
    assert listing(http, **{"from": str(today + day)})["pagination"]["total"] == 0
    assert listing(http, to=str(today - day))["pagination"]["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 0},
        {"per_page": 51},
        {"per_page": "ten"},
        {"page": 0},
        {"page": -1},
        {"page": "1.5"},
        {"status": "exploded"},
    ],
)
def test_bad_parameters_are_invalid_parameter(http: httpx.Client, params: dict[str, Any]) -> None:
    assert error_id(http.get("/predictions", params=params)) == "INVALID_PARAMETER"


@pytest.mark.parametrize(
    "params",
    [{"from": "2026-1-1"}, {"to": "01/02/2026"}, {"from": "2026-02-30"}, {"to": "yesterday"}],
)
def test_bad_dates_are_invalid_date_format(http: httpx.Client, params: dict[str, str]) -> None:
    assert error_id(http.get("/predictions", params=params)) == "INVALID_DATE_FORMAT"


def test_from_after_to_is_invalid_date_range(http: httpx.Client) -> None:
    response = http.get("/predictions", params={"from": "2026-03-02", "to": "2026-03-01"})
    assert error_id(response) == "INVALID_DATE_RANGE"
