"""A create whose outcome is unknown, resolved by looking rather than by sending it again.

A create was sent and no (complete) answer came back: the prediction may exist. Before creating
again, the newest pages of ``GET /predictions?model=<slug>`` are searched for one with the same
model and the same input, created since the first attempt began, that this client has not
claimed already (every id a create returned, or a reconcile adopted, is claimed). It is adopted
if found; only otherwise is the create sent again. The real service documents no
``Idempotency-Key``: this is what makes a create exactly-once against it.

- Input equality is exact on the JSON value (`canonical_json`): the server echoes ``input`` as
  it was sent (the spec's ``input object``; the emulator stores the parsed body), so key order is
  ignored, ``1`` and ``1.0`` are the same JSON number (a server in another language may print
  either), ``true`` is never ``1``, strings are compared code point by code point (no Unicode
  normalisation) and lists in order. A server that added default values to ``input`` would make
  nothing match: the create would then be sent again, as without reconcile.
- ``since`` is when the first attempt began, on the *server's* clock, minus `MARGIN` (2 s):
  ``created_at`` is written by the server's clock. The offset of this machine's clock to the
  server's is measured from the ``Date`` header of every answer (`servertime.ServerClock`, 1 s
  resolution, so its lower bound is used), the listing's own included, so a clock minutes off
  neither hides the prediction looked for (a miss is a duplicate, billed) nor lets a prediction
  made before the first attempt be adopted. Only when no answer carried a usable ``Date`` is
  `SKEW_ALLOWANCE` (60 s) assumed instead.
- The limit: the service documents no idempotency key, so a prediction of the same model and
  input made by *another* process (another batch, another machine) after this create's first
  attempt looks exactly like this create's, and may be adopted (one prediction, two results);
  within one client (its ledger) and one batch (its journal) that cannot happen. Give requests
  that must stay distinct a distinguishing input (a seed), or run them from one client or batch.
- The walk is bounded (`MAX_PAGES` of `PAGE_SIZE`); it stops at the first page with a match,
  that reaches back before ``since``, or that is empty or short (fewer than asked for, and
  its ``last_page`` agrees): a full page goes on to the next one even if ``last_page`` says it
  is the last (a listing that miscounts must not end the walk early). A walk that ends without
  reaching ``since`` proves nothing: `CreateOutcomeUnknownError` (never create blind). So
  does a listing that keeps failing.
- A create that is not found is looked for once more after a pause (`settle_seconds`),
  whatever the lost answer was (a timeout, a reset, a truncated body, a gateway's 502): a
  server slower than the client may still be making it, and a listing may show new
  predictions a little late. A listing that shows them later still than the pause cannot show
  what the create made: that is the limit of looking (the pause is bounded by `SETTLE_MAX`).
- Identical payloads sent on purpose stay distinct: two identical creates in flight at once,
  the first one's answer lost, the second one's not yet received: the first must not adopt the
  second's prediction. So a page that shows a match is matched only once every create of the
  same model and input in flight when it was read has landed (and claimed what it got), see
  `CreateLedger` (claims are remembered an hour, in memory: a crash of the process loses them).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Container, Iterable, Mapping
from typing import Any

from .._exceptions import APIConnectionError, CreateOutcomeUnknownError, SkytellsError
from .._types import PredictionResponse
from .context import Context
from .file_inputs import InlineFile
from .ledger import CreateLedger, canonical_json, file_digest
from .protocol import Instant, Now, Op, Sleep
from .retry import DEFINITIVE_ERROR_IDS
from .servertime import ServerClock

__all__ = [
    "MARGIN",
    "MAX_PAGES",
    "PAGE_SIZE",
    "SKEW_ALLOWANCE",
    "Window",
    "canonical_json",
    "created_at",
    "find_created",
    "find_match",
    "first_attempt",
    "last_page",
    "maybe_done",
    "model_slug",
    "reconcilable",
    "sent_json",
    "settle_pause",
    "settle_seconds",
    "window_start",
]

SKEW_ALLOWANCE = dt.timedelta(seconds=60)
"""How far this machine's clock may be ahead of the server's when nothing measured it."""
MARGIN = dt.timedelta(seconds=2)
"""Taken off the measured start of the window: the ``Date`` header's resolution and more."""
PAGE_SIZE = 50
MAX_PAGES = 20
"""The listing walk's bound: 1,000 predictions of the model since the first attempt."""
SETTLE_MAX = 5.0
"""The longest wait before the second look for a create not found (`settle_seconds`)."""
SETTLE_MIN = 1.0
"""The shortest wait before that second look, whatever the timeout."""
LANDING_POLL = (0.01, 0.2)
"""The first and the longest pause while waiting for identical creates in flight to land."""


# ── the pure matching ─────────────────────────────────────────────────────


def sent_json(value: Any) -> Any:
    """``value`` as the server receives it (through JSON: tuples become lists, keys strings);
    a file the SDK encoded (`InlineFile`) stands as its digest (`file_digest`)."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=_file_or_fail))


def _file_or_fail(value: Any) -> Any:
    if isinstance(value, InlineFile):
        return file_digest(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def model_slug(value: Any) -> str | None:
    """A prediction's ``model``: a bare string, or an object with its ``name``."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        name = value.get("name")
        return name if isinstance(name, str) else None
    return None


def created_at(item: Mapping[str, Any]) -> dt.datetime | None:
    """A prediction's ``created_at`` as an aware datetime (naive ones are UTC); None if absent
    or unreadable."""
    raw = item.get("created_at")
    if not isinstance(raw, str) or not raw or len(raw) > 64:
        return None
    text = raw.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def find_match(
    pages: Iterable[Iterable[Any]],
    model: str,
    input: Any,
    since: dt.datetime,
    claimed: Container[str],
) -> str | None:
    """The id of a prediction on ``pages`` (prediction dicts, newest first) of ``model`` with
    exactly ``input`` (the JSON value sent), created at or after ``since`` (aware), and not in
    ``claimed``; the oldest such one (an earlier create's), or None.

    An item without a readable ``created_at`` is never adopted (it could be older than the
    first attempt)."""
    wanted = canonical_json(input)
    found: str | None = None
    for item in itertools.chain.from_iterable(pages):
        if not isinstance(item, Mapping):
            continue
        prediction_id = item.get("id")
        if not isinstance(prediction_id, str) or not prediction_id or prediction_id in claimed:
            continue
        if model_slug(item.get("model")) != model:
            continue
        when = created_at(item)
        if when is None or when < since:
            continue
        try:
            if canonical_json(item.get("input")) != wanted:
                continue
        except (TypeError, ValueError):
            continue
        found = prediction_id  # newest first: the last one seen is the oldest
    return found


def reaches_before(page: Iterable[Any], since: dt.datetime) -> bool:
    """Whether a page (newest first) holds a prediction created before ``since``: the pages
    after it are older still, so the walk can stop."""
    for item in page:
        if isinstance(item, Mapping):
            when = created_at(item)
            if when is not None and when < since:
                return True
    return False


class _Either:
    """Claimed in one container or the other."""

    __slots__ = ("first", "second")

    def __init__(self, first: Container[str], second: Container[str]) -> None:
        self.first, self.second = first, second

    def __contains__(self, item: object) -> bool:
        return item in self.first or item in self.second


# ── the operations ────────────────────────────────────────────────────────


def listing_page(ctx: Context, model: str, number: int) -> Op[tuple[list[Any], bool]]:
    """Page ``number`` of ``GET /predictions?model=<model>`` (newest first) and whether it is
    the last; the request retried as usual. `CreateOutcomeUnknownError` if it fails for good."""
    from .predictions import list_predictions  # predictions imports this module

    try:
        page = yield from list_predictions(ctx, page=number, per_page=PAGE_SIZE, model=model)
    except SkytellsError as error:
        raise inconclusive(
            f"listing the predictions failed ({error.error_id}: {error.message})", error
        ) from error
    items = list(page.data)
    return items, last_page(items, page.pagination.current_page, page.pagination.last_page)


def last_page(items: list[Any], current_page: int, last: int, asked: int = PAGE_SIZE) -> bool:
    """Whether a page of the listing (``asked`` items asked for) ends the walk: it is empty,
    or it is short and its ``last_page`` agrees. A full page never does: a listing that says
    ``last_page`` too soon must not end the walk before ``since`` (a miss is a duplicate)."""
    return not items or (len(items) < asked and current_page >= last)


def find_created(
    ctx: Context,
    model: str,
    input: Any,
    since: dt.datetime | Window,
    claimed: Container[str] = frozenset(),
) -> Op[PredictionResponse | None]:
    """The prediction a create of ``model`` with ``input`` (as sent) may have made, created
    at or after ``since`` (the window's start: `window_start`, or a `Window` read as the
    server's clock is measured), not in ``claimed`` nor
    claimed by this client; it is claimed. None if there is none: creating again is safe.
    Raises `CreateOutcomeUnknownError` when it cannot tell (see `adopt`)."""
    return adopt(ctx, model, input, since, claimed, own=None)


class Window:
    """Where the window of a create's reconcile starts, known once the server's clock is:
    the first attempt began at ``first`` (seconds since the epoch, this machine's clock)."""

    __slots__ = ("first",)

    def __init__(self, first: float) -> None:
        self.first = first

    def since(self, ctx: Context) -> dt.datetime:
        """The start (`window_start`) as measured so far."""
        return window_start(self.first, ctx.state.server_clock)

    def __repr__(self) -> str:
        return f"Window(first={self.first!r})"


def adopt(
    ctx: Context,
    model: str,
    input: Any,
    since: dt.datetime | Window,
    claimed: Container[str],
    own: object | None,
    key: str | None = None,
) -> Op[PredictionResponse | None]:
    """`find_created`, for the create of ledger token ``own`` (None: no create of this client)
    sent with idempotency key ``key`` (named in the error, if any). A `Window` ``since`` is
    read after each page (its answer's ``Date`` measured the server's clock).

    The pages are read newest first until one holds a match (most often the first page: the
    prediction looked for is recent), or reaches back before ``since`` (none: not created),
    at most `MAX_PAGES` (then it cannot tell)."""
    window = since
    try:
        pages: list[list[Any]] = []
        for number in range(1, MAX_PAGES + 1):
            items, last = yield from listing_page(ctx, model, number)
            since = window.since(ctx) if isinstance(window, Window) else window
            pages.append(items)
            found = yield from _take(ctx, pages, model, input, since, claimed, own)
            if found is not None:
                return found
            if last or reaches_before(items, since):
                return None
        raise inconclusive(
            f"more than {MAX_PAGES * PAGE_SIZE} predictions of {model} since the first attempt"
        )
    except CreateOutcomeUnknownError as error:
        if key is not None:
            error.idempotency_key = key
            error.details["idempotency_key"] = key
            error.message += f" It was sent with idempotency_key={key!r}."
            error.args = (error.message,)
        raise


def _take(
    ctx: Context,
    pages: list[list[Any]],
    model: str,
    input: Any,
    since: dt.datetime,
    claimed: Container[str],
    own: object | None,
) -> Op[PredictionResponse | None]:
    """Claim a match on ``pages``, if there is one no other create of this client may own."""
    ledger = ctx.state.creates
    taken = _Either(ledger, claimed)
    if find_match(pages, model, input, since, taken) is None:
        return None
    # Creates with this payload in flight now may have made some of what the pages show:
    # they land and claim it first (those sent later made nothing the pages hold).
    others = ledger.flying(model, canonical_json(input)) - {own}
    if others:
        yield from _until_landed(ctx, ledger, others)
    while True:
        found = find_match(pages, model, input, since, taken)
        if found is None:
            return None
        clock: Instant = yield Now()
        if ledger.claim(found, clock.monotonic):  # another reconcile may take it first
            for item in itertools.chain.from_iterable(pages):
                if isinstance(item, Mapping) and item.get("id") == found:
                    return dict(item)  # type: ignore[return-value]


def _until_landed(ctx: Context, ledger: CreateLedger, tokens: set[object]) -> Op[None]:
    first, longest = LANDING_POLL
    clock: Instant = yield Now()
    # The longest a create lasts: a held one (timeout plus the hold), then a margin.
    config = ctx.config
    give_up = clock.monotonic + (config.timeout_ms + config.await_hold_ms) / 1000 + 5.0
    pause = first
    while ledger.any_flying(tokens):
        clock = yield Now()
        if clock.monotonic >= give_up:
            raise inconclusive("identical creates in flight did not finish")
        yield Sleep(pause)
        pause = min(longest, pause * 2)


def reconcilable(body: Mapping[str, Any]) -> bool:
    """Whether a create of ``body`` that got no answer can be looked for (a model and an input
    object); one that cannot is rejected by the server anyway."""
    model, input = body.get("model"), body.get("input")
    return isinstance(model, str) and bool(model) and isinstance(input, Mapping)


def maybe_done(error: SkytellsError) -> bool:
    """Whether a create that failed with ``error`` may have created its prediction all the
    same: no (complete) answer came (a reset, a timeout after the request was written, a
    truncated body; not a connection that was never made), or a gateway's 500/502/504 (it may have passed the request on). A 429,
    a 503 and every 4xx say the request was not carried out."""
    if isinstance(error, APIConnectionError):
        return error.request_sent is not False  # a connection never made sent nothing
    return error.http_status in (500, 502, 504) and error.error_id not in DEFINITIVE_ERROR_IDS


def settle_seconds(ctx: Context) -> float:
    """How long to wait before looking again for a create of unknown outcome not found: a
    server slower than the client may still be making it, a listing may show it late. As long
    as the timeout again, at least `SETTLE_MIN`, at most `SETTLE_MAX`."""
    return max(SETTLE_MIN, min(ctx.config.timeout_ms / 1000, SETTLE_MAX))


def settle_pause(started: Iterable[float | None], wall: float, ctx: Context) -> float:
    """How long a reconcile of creates begun at ``started`` (seconds since the epoch, this
    machine's clock; None: unknown) waits, at ``wall``, before it reads the listing: until the
    newest of them is `settle_seconds` old (a batch resumed right after a kill), at most that."""
    pause = settle_seconds(ctx)
    newest = max((when for when in started if when is not None), default=None)
    if newest is None:
        return 0.0
    return min(pause, max(0.0, newest + pause - wall))


def inconclusive(reason: str, cause: SkytellsError | None = None) -> CreateOutcomeUnknownError:
    """The error of a reconcile that cannot tell whether the prediction exists."""
    return CreateOutcomeUnknownError(
        f"A create got no answer and it cannot be told whether it created a prediction: "
        f"{reason}. Look for it in client.predictions.list() before creating it again.",
        "CREATE_OUTCOME_UNKNOWN",
        {"reason": reason, "cause": cause.error_id if cause else None},
        cause.http_status if cause else 0,
        headers=cause.headers if cause else None,
        body=cause.body if cause else None,
    )


def window_start(wall: float, clock: ServerClock | None = None) -> dt.datetime:
    """``since`` for a create whose first attempt began at ``wall`` (seconds since the epoch,
    this machine's clock), aware (UTC): that instant on the server's clock (``wall`` plus the
    lower bound of the offset ``clock`` measured) minus `MARGIN`; minus `SKEW_ALLOWANCE`
    instead when nothing measured it."""
    first = dt.datetime.fromtimestamp(wall, dt.timezone.utc)
    lower = None if clock is None else clock.lower()
    if lower is None:
        return first - SKEW_ALLOWANCE
    return first + dt.timedelta(seconds=lower) - MARGIN


def first_attempt(wall: float) -> dt.datetime:
    """The instant ``wall`` (seconds since the epoch, this machine's clock), aware (UTC): what
    ``create_prediction(since=...)`` is given for a create sent before."""
    return dt.datetime.fromtimestamp(wall, dt.timezone.utc)
