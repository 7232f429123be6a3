"""`reconcile` and `ledger`: a create of unknown outcome resolved by looking, in memory."""

from __future__ import annotations

import datetime as dt
import email.utils
from typing import Any

import pytest

from skytells import APIConnectionError, APITimeoutError, CreateOutcomeUnknownError
from skytells._core import ledger as ledger_module
from skytells._core.file_inputs import InlineFile
from skytells._core.ledger import CreateLedger, canonical_json
from skytells._core.predictions import create_prediction
from skytells._core.reconcile import (
    MARGIN,
    MAX_PAGES,
    PAGE_SIZE,
    SETTLE_MAX,
    SETTLE_MIN,
    SKEW_ALLOWANCE,
    created_at,
    find_created,
    find_match,
    maybe_done,
    model_slug,
    settle_pause,
    settle_seconds,
    window_start,
)
from skytells._core.running import held_create
from skytells._core.servertime import ServerClock
from skytells._exceptions import RateLimitError, ServerError, ValidationError

from .driver import WALL_OFFSET, Driver, context, json_reply, paths

SINCE = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


def at(seconds: float) -> str:
    """``created_at`` ``seconds`` after SINCE, as the service writes it."""
    when = SINCE + dt.timedelta(seconds=seconds)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def item(pid: str, input: Any, when: float = 1.0, model: Any = "flux-pro") -> dict[str, Any]:
    if isinstance(model, str):
        model = {"name": model, "type": "image"}
    return {
        "id": pid,
        "status": "processing",
        "model": model,
        "input": input,
        "created_at": at(when),
    }


# ── the pure matching ─────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}),  # key order
        ({"n": 1}, {"n": 1.0}),  # the same JSON number
        ({"n": 1.5e300}, {"n": 1.5e300}),
        ({"n": 2**60 + 1}, {"n": float(2**60)}),  # a server keeping doubles
        ({"p": "café ☕ 東京"}, {"p": "café ☕ 東京"}),
        ({"l": [[1, 2], [3.25, {"x": None}]]}, {"l": [[1.0, 2], [3.25, {"x": None}]]}),
    ],
)
def test_the_same_json_value_matches(sent: Any, echoed: Any) -> None:
    assert canonical_json(sent) == canonical_json(echoed)
    assert find_match([[item("p1", echoed)]], "flux-pro", sent, SINCE, set()) == "p1"


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ({"n": 1}, {"n": True}),  # true is not 1
        ({"n": 0}, {"n": False}),
        ({"n": 1}, {"n": "1"}),
        ({"l": [1, 2]}, {"l": [2, 1]}),  # lists in order
        ({"p": "café"}, {"p": "cafe\u0301"}),  # no Unicode normalisation
        ({"a": 1}, {"a": 1, "seed": 7}),  # a default added by a server: no match
        ({"n": 0.1}, {"n": 0.10000001}),
        ({"x": None}, {}),
    ],
)
def test_a_different_json_value_does_not_match(sent: Any, echoed: Any) -> None:
    assert find_match([[item("p1", echoed)]], "flux-pro", sent, SINCE, set()) is None


@pytest.mark.parametrize(
    "model",
    ["flux-pro", {"name": "flux-pro"}, {"name": "flux-pro", "type": "image", "extra": [1]}],
)
def test_the_model_may_be_a_string_or_an_object(model: Any) -> None:
    assert model_slug(model) == "flux-pro"
    page = [item("p1", {"a": 1}, model=model)]
    assert find_match([page], "flux-pro", {"a": 1}, SINCE, set()) == "p1"


@pytest.mark.parametrize(
    "model", ["flux-edge", {"name": "FLUX-PRO"}, {"slug": "flux-pro"}, None, 3]
)
def test_another_or_unreadable_model_does_not_match(model: Any) -> None:
    page = [{**item("p1", {"a": 1}), "model": model}]
    assert find_match([page], "flux-pro", {"a": 1}, SINCE, set()) is None


def test_claimed_and_older_predictions_are_skipped_and_the_oldest_candidate_wins() -> None:
    input = {"prompt": "x"}
    pages = [
        [item("newest", input, 30), item("claimed", input, 20)],
        [item("oldest", input, 10), item("before", input, -1)],
    ]
    assert find_match(pages, "flux-pro", input, SINCE, {"claimed"}) == "oldest"
    assert find_match(pages, "flux-pro", input, SINCE, {"claimed", "oldest"}) == "newest"
    taken = {"claimed", "oldest", "newest"}
    assert find_match(pages, "flux-pro", input, SINCE, taken) is None  # "before" is too old


@pytest.mark.parametrize(
    "bad",
    [
        {"created_at": None},
        {"created_at": "yesterday"},
        {"created_at": 1767268800},
        {"created_at": "x" * 5000},
        {"id": None},
        {"id": 12},
        {"input": float("nan")},
        {"input": {"k": object()}},
    ],
    ids=["no-date", "bad-date", "number-date", "huge-date", "no-id", "int-id", "nan", "object"],
)
def test_unreadable_items_are_never_adopted(bad: dict[str, Any]) -> None:
    page: list[Any] = [{**item("p1", {"a": 1}), **bad}, "not a dict", None]
    assert find_match([page], "flux-pro", {"a": 1}, SINCE, set()) is None


def test_created_at_reads_offsets_and_naive_times_as_utc() -> None:
    assert created_at({"created_at": "2026-01-01T12:00:00.000000Z"}) == SINCE
    assert created_at({"created_at": "2026-01-01T13:00:00+01:00"}) == SINCE
    assert created_at({"created_at": "2026-01-01T12:00:00"}) == SINCE


def test_the_window_starts_one_skew_allowance_before_the_first_attempt_if_unmeasured() -> None:
    assert window_start(SINCE.timestamp()) == SINCE - SKEW_ALLOWANCE
    assert window_start(SINCE.timestamp(), ServerClock()) == SINCE - SKEW_ALLOWANCE


def test_the_window_starts_at_the_first_attempt_on_the_measured_server_clock() -> None:
    clock = ServerClock()
    clock.bound(-120.4, -119.6)  # this machine is two minutes ahead
    assert window_start(SINCE.timestamp(), clock) == SINCE - dt.timedelta(seconds=120.4) - MARGIN
    clock.bound(30.0, 31.0)  # the clock was stepped: measured again
    assert window_start(SINCE.timestamp(), clock) == SINCE + dt.timedelta(seconds=30) - MARGIN


def test_a_resumed_reconcile_waits_for_creates_begun_moments_ago() -> None:
    ctx = context(timeout_ms=60_000)
    assert settle_pause([100.0, 98.0, None], 101.0, ctx) == SETTLE_MAX - 1.0
    assert settle_pause([100.0], 200.0, ctx) == 0.0
    assert settle_pause([None], 100.0, ctx) == 0.0
    assert settle_pause([500.0], 100.0, ctx) == SETTLE_MAX  # a clock stepped back: bounded
    assert settle_seconds(context(timeout_ms=100)) == SETTLE_MIN


def test_which_failures_may_have_created_the_prediction() -> None:
    assert maybe_done(APIConnectionError("reset", "NETWORK_ERROR"))
    assert maybe_done(APITimeoutError("slow", "REQUEST_TIMEOUT", http_status=408))
    for status in (500, 502, 504):
        assert maybe_done(ServerError("gateway", "SERVER_ERROR", http_status=status))
    assert not maybe_done(ServerError("busy", "SERVICE_UNAVAILABLE", http_status=503))
    assert not maybe_done(RateLimitError("slow down", "RATE_LIMIT_EXCEEDED", http_status=429))
    assert not maybe_done(ValidationError("bad", "INVALID_INPUT", http_status=422))
    assert not maybe_done(ServerError("failed", "PREDICTION_FAILED", http_status=502))
    never_connected = APIConnectionError("refused", "NETWORK_ERROR")
    never_connected.request_sent = False
    assert not maybe_done(never_connected)


# ── the ledger ────────────────────────────────────────────────────────────


def test_a_claim_is_taken_once() -> None:
    ledger = CreateLedger()
    assert ledger.claim("p1", 0.0) and not ledger.claim("p1", 1.0)
    assert "p1" in ledger and "p2" not in ledger


def test_claims_are_forgotten_after_their_time_and_beyond_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = CreateLedger()
    for number in range(1000):
        ledger.claim(f"old{number}", 0.0)  # the 1000th claim prunes: nothing is old yet
    assert len(ledger) == 1000
    for number in range(1000):
        ledger.claim(f"new{number}", ledger_module.CLAIM_TTL + 1)
    assert "old0" not in ledger and "new999" in ledger and len(ledger) == 1000
    monkeypatch.setattr(ledger_module, "MAX_CLAIMS", 100)
    ledger.claim("one-more", ledger_module.CLAIM_TTL + 2)
    assert len(ledger) <= 100 and "one-more" in ledger


def test_only_identical_creates_in_flight_are_found() -> None:
    ledger = CreateLedger()
    a = ledger.depart("flux-pro", {"a": 1, "b": [1.0]})
    b = ledger.depart("flux-pro", {"b": [1], "a": 1})
    ledger.depart("flux-pro", {"a": 2})
    ledger.depart("flux-edge", {"a": 1, "b": [1]})
    assert ledger.flying("flux-pro", canonical_json({"a": 1, "b": [1]})) == {a, b}
    ledger.land(a)
    assert ledger.any_flying({a, b}) and not ledger.any_flying({a})


# ── the listing walk ──────────────────────────────────────────────────────

WALL_SINCE = dt.datetime.fromtimestamp(1000.0 + WALL_OFFSET, dt.timezone.utc)
"""The fake driver's wall clock when a test starts."""


def page(items: list[dict[str, Any]], number: int = 1, last: int = 1) -> Any:
    return json_reply(
        200, {"data": items, "pagination": {"current_page": number, "last_page": last}}
    )


def test_the_walk_stops_at_the_page_that_reaches_before_since() -> None:
    input = {"prompt": "x"}
    driver = Driver().script(
        page([item("n1", {"prompt": "y"}, 50), item("n2", input, 40)], 1, 9),
        page([item("p1", input, 5), item("old", input, -5)], 2, 9),
    )
    found = driver.run(find_created(context(), "flux-pro", input, SINCE, {"n2"}))
    assert found is not None and found["id"] == "p1"
    assert paths(driver.requests) == ["GET /predictions"] * 2
    assert driver.requests[0].params == {"page": "1", "per_page": "50", "model": "flux-pro"}
    assert driver.requests[1].params == {"page": "2", "per_page": "50", "model": "flux-pro"}


def test_an_adopted_prediction_is_claimed() -> None:
    input = {"prompt": "x"}
    ctx = context()
    listing = page([item("p1", input, 5)])
    assert Driver().script(listing).run(find_created(ctx, "flux-pro", input, SINCE))["id"] == "p1"
    assert "p1" in ctx.state.creates
    assert Driver().script(listing).run(find_created(ctx, "flux-pro", input, SINCE)) is None


def test_nothing_found_on_the_last_page_is_a_conclusive_none() -> None:
    driver = Driver().script(page([item("p1", {"prompt": "other"})], 1, 1))
    assert driver.run(find_created(context(), "flux-pro", {"prompt": "x"}, SINCE)) is None
    assert Driver().script(page([])).run(find_created(context(), "m", {}, SINCE)) is None


def test_a_walk_that_never_reaches_since_cannot_conclude() -> None:
    pages = [page([item(f"p{n}", {"prompt": "other"}, 100)], n, 99) for n in range(1, 30)]
    driver = Driver().script(*pages)
    with pytest.raises(CreateOutcomeUnknownError) as caught:
        driver.run(find_created(context(), "flux-pro", {"prompt": "x"}, SINCE))
    assert len(driver.requests) == MAX_PAGES
    assert caught.value.error_id == "CREATE_OUTCOME_UNKNOWN"


def test_a_full_page_said_to_be_the_last_does_not_end_the_walk() -> None:
    """A listing that says ``last_page: 1`` on a full page (a miscount) would end the walk
    before ``since``: a miss, a duplicate. A full page goes on; an empty one ends it."""
    input = {"prompt": "x"}
    others = [item(f"o{n}", {"prompt": f"other {n}"}, 100) for n in range(PAGE_SIZE)]
    driver = Driver().script(page(others, 1, 1), page([item("p1", input, 5)], 2, 1))
    found = driver.run(find_created(context(), "flux-pro", input, SINCE))
    assert found is not None and found["id"] == "p1"
    driver = Driver().script(page(others, 1, 1), page([], 2, 1))
    assert driver.run(find_created(context(), "flux-pro", input, SINCE)) is None
    assert len(driver.requests) == 2
    # A short page that says it is the last ends the walk.
    driver = Driver().script(page(others[:3], 1, 1))
    assert driver.run(find_created(context(), "flux-pro", input, SINCE)) is None
    assert len(driver.requests) == 1


def test_a_failing_listing_is_retried_then_reported_as_unknown() -> None:
    busy = json_reply(503, {"error": {"http_status": 503, "message": "busy"}})
    driver = Driver().script(busy, APIConnectionError("reset", "NETWORK_ERROR"), busy)
    with pytest.raises(CreateOutcomeUnknownError) as caught:
        driver.run(find_created(context(), "flux-pro", {"prompt": "x"}, SINCE))
    assert len(driver.requests) == 3 and len(driver.sleeps) == 2  # the usual retries
    assert caught.value.details["cause"] == "SERVICE_UNAVAILABLE"


# ── a create whose answer was lost ────────────────────────────────────────


def created(pid: str, input: Any, seconds_after_start: float = 0.5) -> dict[str, Any]:
    when = WALL_SINCE + dt.timedelta(seconds=seconds_after_start)
    return {
        **item(pid, input),
        "created_at": when.isoformat().replace("+00:00", "Z"),
    }


def test_a_lost_answer_is_found_in_the_listing_not_sent_again() -> None:
    input = {"prompt": "x"}
    driver = Driver().script(
        APIConnectionError("reset after the request was sent", "NETWORK_ERROR"),
        page([created("p1", input)]),
    )
    payload = {"model": "flux-pro", "input": input}
    ctx = context()
    result = driver.run(create_prediction(ctx, payload, background=True))
    assert result["id"] == "p1"
    assert paths(driver.requests) == ["POST /predict", "GET /predictions"]
    assert "p1" in ctx.state.creates


def test_a_create_that_was_not_made_is_sent_again_with_its_key() -> None:
    input = {"prompt": "x"}
    driver = Driver().script(
        APIConnectionError("reset", "NETWORK_ERROR"),
        page([created("someone-elses", {"prompt": "y"})]),
        page([created("someone-elses", {"prompt": "y"})]),  # looked for again after a pause
        json_reply(200, created("p2", input)),
    )
    ctx = context()
    payload = {"model": "flux-pro", "input": input}
    result = driver.run(create_prediction(ctx, payload, background=True))
    assert result["id"] == "p2" and "p2" in ctx.state.creates
    assert paths(driver.requests) == ["POST /predict"] + ["GET /predictions"] * 2 + [
        "POST /predict"
    ]
    posts = [r for r in driver.requests if r.method == "POST"]
    assert posts[0].headers["idempotency-key"] == posts[1].headers["idempotency-key"]
    assert posts[0].body == posts[1].body
    assert driver.log.index("sleep 0.5") < driver.log.index("GET /predictions")  # backoff first


def test_a_timed_out_create_not_found_is_looked_for_again_after_a_pause() -> None:
    input = {"prompt": "x"}
    driver = Driver().script(
        APITimeoutError("no answer", "REQUEST_TIMEOUT", http_status=408),
        page([]),  # the server has not made it yet
        page([created("p1", input, 3.0)]),  # ... and then it has
    )
    ctx = context(timeout_ms=2000)
    result = driver.run(
        create_prediction(ctx, {"model": "flux-pro", "input": input}, background=True)
    )
    assert result["id"] == "p1"
    assert paths(driver.requests) == ["POST /predict", "GET /predictions", "GET /predictions"]
    assert driver.log[-2] == "sleep 2"  # as long as the timeout again


def test_any_lost_answer_not_found_is_looked_for_again_after_a_pause() -> None:
    """A reset (not only a timeout): the listing may show the prediction a little late."""
    input = {"prompt": "x"}
    driver = Driver().script(
        APIConnectionError("reset after the request was sent", "NETWORK_ERROR"),
        page([]),  # the listing does not show it yet
        page([created("p1", input, 1.0)]),  # ... and then it does
    )
    ctx = context(timeout_ms=60_000)
    result = driver.run(
        create_prediction(ctx, {"model": "flux-pro", "input": input}, background=True)
    )
    assert result["id"] == "p1"
    assert paths(driver.requests) == ["POST /predict", "GET /predictions", "GET /predictions"]
    assert driver.log[-2] == f"sleep {SETTLE_MAX:g}"


def dated_page(driver: Driver, items: list[dict[str, Any]], server_minus_local: float) -> Any:
    """A last page whose answer carries a ``Date``: the server's clock is this machine's plus
    ``server_minus_local`` (the fake driver's clock does not move during a request)."""

    def reply(request: Any) -> Any:
        wall = driver.now + WALL_OFFSET + server_minus_local
        date = email.utils.formatdate(wall, usegmt=True)
        return json_reply(
            200,
            {"data": items, "pagination": {"current_page": 1, "last_page": 1}},
            {"date": date},
        )

    return reply


def server_created(pid: str, input: Any, server_seconds: float, skew: float) -> dict[str, Any]:
    """A prediction created ``server_seconds`` after the test's start on the server's clock
    (this machine's plus ``skew``)."""
    when = WALL_SINCE + dt.timedelta(seconds=skew + server_seconds)
    return {**item(pid, input), "created_at": when.isoformat().replace("+00:00", "Z")}


@pytest.mark.parametrize("skew", [0.0, -120.0, 120.0, -3600.0])
def test_a_prediction_made_before_the_first_attempt_is_never_adopted(skew: float) -> None:
    """Another process made the same request 20 s before this create's first attempt: with
    the server's clock measured (the listing's ``Date``), it is outside the window, whatever
    the skew of this machine's clock. (An assumed 60 s allowance adopted it.)"""
    input = {"prompt": "x"}
    earlier = server_created("earlier", input, -20.0, skew)
    driver = Driver()
    driver.script(
        APIConnectionError("reset", "NETWORK_ERROR"),
        dated_page(driver, [earlier], skew),
        dated_page(driver, [earlier], skew),
        json_reply(200, server_created("p2", input, 1.0, skew)),
    )
    result = driver.run(
        create_prediction(context(), {"model": "flux-pro", "input": input}, background=True)
    )
    assert result["id"] == "p2"


@pytest.mark.parametrize("skew", [0.0, -120.0, -59.0, -3600.0, 300.0])
def test_a_client_clock_ahead_or_behind_still_finds_what_its_create_made(skew: float) -> None:
    """This machine's clock two minutes (or an hour) ahead of the server's: the prediction the
    lost create made (created 0.2 s after the first attempt, server time) is found, not made
    again. (The 60 s allowance missed it beyond 60 s: a duplicate.)"""
    input = {"prompt": "x"}
    made = server_created("p1", input, 0.2, skew)
    driver = Driver()
    driver.script(APIConnectionError("reset", "NETWORK_ERROR"), dated_page(driver, [made], skew))
    ctx = context()
    result = driver.run(
        create_prediction(ctx, {"model": "flux-pro", "input": input}, background=True)
    )
    assert result["id"] == "p1"
    bounds = ctx.state.server_clock.bounds
    assert bounds is not None and bounds[0] <= skew < bounds[1]


def test_a_create_this_client_already_returned_is_not_adopted() -> None:
    input = {"prompt": "same"}
    ctx = context()
    first = Driver().script(json_reply(200, created("p1", input)))
    assert (
        first.run(create_prediction(ctx, {"model": "flux-pro", "input": input}, background=True))[
            "id"
        ]
        == "p1"
    )
    driver = Driver().script(
        APIConnectionError("reset", "NETWORK_ERROR"),
        page([created("p1", input)]),  # only the first one's: this create made nothing
        page([created("p1", input)]),
        json_reply(200, created("p2", input)),
    )
    second = driver.run(
        create_prediction(ctx, {"model": "flux-pro", "input": input}, background=True)
    )
    assert second["id"] == "p2"


def test_an_unknown_outcome_that_cannot_be_told_is_never_sent_blind() -> None:
    input = {"prompt": "x"}
    busy = json_reply(503, {"error": {"http_status": 503, "message": "busy"}})
    driver = Driver().script(APIConnectionError("reset", "NETWORK_ERROR"), busy, busy, busy)
    with pytest.raises(CreateOutcomeUnknownError) as caught:
        driver.run(
            create_prediction(
                context(),
                {"model": "flux-pro", "input": input},
                background=True,
                idempotency_key="key-7",
            )
        )
    assert [r.method for r in driver.requests].count("POST") == 1
    assert caught.value.idempotency_key == "key-7" and "key-7" in str(caught.value)
    assert caught.value.details["idempotency_key"] == "key-7"


def test_a_definitive_answer_is_not_looked_for() -> None:
    bad = json_reply(
        422, {"error": {"http_status": 422, "error_id": "INVALID_INPUT", "message": "no"}}
    )
    driver = Driver().script(bad)
    with pytest.raises(ValidationError):
        driver.run(create_prediction(context(), {"model": "m", "input": {}}, background=True))
    assert paths(driver.requests) == ["POST /predict"]


# ── a held create (run) ───────────────────────────────────────────────────


def test_a_held_create_that_timed_out_and_was_not_made_is_sent_again_once_per_retry() -> None:
    input = {"prompt": "x"}
    timeout = APITimeoutError("no answer", "REQUEST_TIMEOUT", http_status=408)
    driver = Driver().script(
        timeout,
        page([]),
        page([]),  # not made (looked twice: it timed out)
        timeout,
        page([]),
        page([]),
        json_reply(200, created("p1", input)),
    )
    ctx = context(timeout_ms=1000, await_hold_ms=0)
    result = driver.run(held_create(ctx, {"model": "flux-pro", "input": input, "await": True}, "k"))
    assert result["id"] == "p1"
    assert [r.method for r in driver.requests].count("POST") == 3
    assert {r.headers["idempotency-key"] for r in driver.requests if r.method == "POST"} == {"k"}


def test_a_held_create_that_timed_out_is_adopted_when_it_was_made() -> None:
    input = {"prompt": "x"}
    driver = Driver().script(
        APITimeoutError("no answer", "REQUEST_TIMEOUT", http_status=408),
        page([created("p1", input)]),
    )
    ctx = context(timeout_ms=1000, await_hold_ms=0)
    result = driver.run(held_create(ctx, {"model": "flux-pro", "input": input, "await": True}, "k"))
    assert result["id"] == "p1" and paths(driver.requests) == ["POST /predict", "GET /predictions"]


def test_a_held_create_with_nothing_to_look_for_stays_unknown() -> None:
    timeout = APITimeoutError("no answer", "REQUEST_TIMEOUT", http_status=408)
    driver = Driver().script(timeout, timeout, timeout)
    ctx = context(timeout_ms=1000, await_hold_ms=0)
    with pytest.raises(CreateOutcomeUnknownError):  # the server would refuse it: no listing
        driver.run(held_create(ctx, {"model": "flux-pro", "input": "not an object"}, "k"))
    assert set(paths(driver.requests)) == {"POST /predict"}  # retried within its deadline


def test_a_file_the_sdk_encoded_matches_the_uri_the_server_echoes() -> None:
    uri = "data:image/png;base64," + "QUJD" * 5000
    inline = InlineFile(bytearray(uri.encode("ascii")), "image/png", 15000)
    sent = {"prompt": "p", "image": inline, "more": [inline]}
    echoed = {"more": [uri], "image": uri, "prompt": "p"}
    assert canonical_json(sent) == canonical_json(echoed)
    assert canonical_json(sent) != canonical_json({**echoed, "image": uri[:-1] + "Q"})
    # Long text and data: URIs stand as a digest: a canonical form is never megabytes long.
    assert len(canonical_json(echoed)) < 300
    short = "data:,a"
    assert canonical_json({"x": short}) == canonical_json({"x": short})
    assert canonical_json({"x": short}) != canonical_json({"x": "data:,b"})
