"""Saving a prediction's outputs to disk: the plan, retries, limits and the purged-output error.

Names come from `filenames` (pure); the disk work is asked of the I/O layer as actions
(`PrepareFolder`, `EnsureFree`, `WriteFile`, `Download`), which writes files whole or not at all
(in a worker thread on the async client).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from .._exceptions import APITimeoutError, NotFoundError, SkytellsError
from .._types import PredictionResponse
from .context import Context
from .filenames import Layout, name_from_url, split_name
from .logs import LongRequest, loggable_url
from .protocol import (
    Download,
    EnsureFree,
    Instant,
    Now,
    Op,
    PrepareFolder,
    RawResponse,
    Sleep,
    WriteFile,
    now,
)
from .responses import build_error, timeout_error

logger = logging.getLogger("skytells")
T = TypeVar("T")

ProgressCallback = Callable[[Path, int, "int | None"], Any]
"""``on_progress(path, bytes_written, total_bytes_or_None)`` while a file downloads (on the
async client it may be an ``async def``: it is awaited)."""

DEFAULT_MAX_BYTES = 5 * 1024**3
"""Default cap on what one `save()` writes, all files together: 5 GiB. Real outputs are far
smaller (a minutes-long 1080p video is a few hundred MB), so it never stops a real save, while
a server that sends an endless or decompression-bomb body stops there instead of filling the disk."""

DEFAULT_SAVE_TIMEOUT_MS = 600_000
"""Default deadline of one `save()`, every file and retry included: 10 minutes (or the client's
timeout if longer), enough for 5 GiB at under 10 MB/s."""


def save_outputs(
    ctx: Context,
    prediction: PredictionResponse,
    target: Path,
    *,
    on_progress: ProgressCallback | None = None,
    timeout_ms: float | None = None,
    max_bytes: int | None = None,
    overwrite: bool = False,
    only: int | None = None,
) -> Op[list[Path]]:
    """Write every output of ``prediction`` under ``target`` (a folder, or a file path for a
    single output) and return the paths written. URLs are streamed to disk in chunks; text
    outputs (text models) are written as ``.txt``. The whole call ends by ``timeout_ms`` and
    writes at most ``max_bytes``; an existing file is replaced only with ``overwrite``.

    ``only``: write output ``only`` alone (an `OutputFile`'s ``save()``), named as saving them
    all would name it (a file path ``target`` is then that output's path). Outputs the service
    has purged (``data_removed``) are refused before any request (``OUTPUT_NOT_FOUND``)."""
    config = ctx.config
    budget_ms = positive_setting(
        "timeout", timeout_ms, max(config.timeout_ms, DEFAULT_SAVE_TIMEOUT_MS)
    )
    limit = int(positive_setting("max_bytes", max_bytes, DEFAULT_MAX_BYTES))
    deadline = (yield from now()) + budget_ms / 1000
    outputs = outputs_of(prediction)
    if not outputs:
        raise SkytellsError(
            f"Prediction {str(prediction.get('id'))[:100]!r} has no output to save "
            f"(status {str(prediction.get('status'))[:40]!r})",
            "INVALID_REQUEST",
        )
    chosen = list(range(len(outputs))) if only is None else [only]
    urls = [outputs[index] for index in chosen if is_url(outputs[index])]
    if urls:
        refuse_purged(prediction, urls[0])
    folder_mode: bool = yield PrepareFolder(target)
    layout = Layout(target, folder_mode, prediction.get("id"), len(chosen))
    planned = plan_names(layout, outputs, chosen)
    if not overwrite:  # refuse before downloading anything, when the names are known already
        known = [
            planned[index]
            for index in chosen
            if not is_url(outputs[index]) or split_name(planned[index].name)[1] or not folder_mode
        ]
        yield EnsureFree(tuple(known))
    paths: list[Path] = []
    written = 0
    for index in chosen:
        item = outputs[index]
        if not is_url(item):
            data = item.encode("utf-8", "surrogatepass")
            if written + len(data) > limit:
                raise too_large_error(f"text output {index}", limit)
            yield WriteFile(planned[index], data, overwrite)
            written += len(data)
            paths.append(planned[index])
            continue
        action = Download(
            item,
            _Chooser(layout, index),
            max_bytes=limit - written,
            deadline=deadline,
            idle_timeout=config.timeout_ms / 1000,
            overwrite=overwrite,
            on_progress=on_progress,
        )
        path, size = yield from timed(item, deadline, budget_ms, download(ctx, action))
        written += size
        paths.append(path)
    return paths


def plan_names(layout: Layout, outputs: list[str], chosen: list[int]) -> dict[int, Path]:
    """The planned path of each ``chosen`` output. In a folder every output gets its name, in
    order, so that one output saved alone is named as saving them all names it."""
    wanted = set(chosen)
    return {
        index: layout.plan(index, name_from_url(item, index) if is_url(item) else "output.txt")
        for index, item in enumerate(outputs)
        if layout.folder_mode or index in wanted
    }


def download(ctx: Context, action: Download) -> Op[tuple[Path, int]]:
    """Stream one file with the client's retry policy, within the action's deadline; returns
    the final path (given an extension from the content type when the URL had none) and size."""
    return (yield from retrying(ctx, action.url, action.deadline, lambda: _download_once(action)))


def _download_once(action: Download) -> Op[tuple[Path, int]]:
    log = LongRequest("download", action.url)
    yield from log.start()
    try:
        result = yield action
    except SkytellsError as error:
        yield from log.end(error.error_id, error.http_status)
        raise
    except BaseException:  # closed or interrupted: no clock to ask any more
        log.abandoned()
        raise
    log.received = result.size
    yield from log.end("saved" if result.path is not None else "not saved", result.status)
    if not 200 <= result.status < 300 or result.path is None:
        raise download_error(action.url, result.status, result.headers)
    return result.path, result.size


def download_error(url: str, status: int, headers: Mapping[str, str]) -> SkytellsError:
    """The error for an output file answered with ``status`` instead of the file: a purged
    output's ``OUTPUT_NOT_FOUND`` for 404 and 410, else the status's error (retried if the
    retry policy retries it)."""
    if status in (404, 410):
        return output_gone(url, status, headers)
    return build_error(
        RawResponse(status, headers, b""),
        f"Downloading {url[:300]} failed with HTTP {status}",
        None,
        {"url": url},
        None,
    )


def retrying(ctx: Context, url: str, deadline: float, attempt: Callable[[], Op[T]]) -> Op[T]:
    """``attempt()`` run again (from the start) after each failure the client's retry policy
    retries, while a next attempt can start before ``deadline`` (a monotonic instant)."""
    policy = ctx.config.retry
    count = 0
    while True:
        try:
            return (yield from attempt())
        except SkytellsError as error:
            clock: Instant = yield Now()
            delay = policy.delay(error, count, clock.wall)
            if delay is None or clock.monotonic + delay >= deadline:
                raise
            count += 1
            logger.debug(
                "retrying download of %s in %.2fs after %s",
                loggable_url(url),
                delay,
                error.error_id,
            )
            yield Sleep(delay)


def timed(url: str, deadline: float, budget_ms: float, op: Op[T]) -> Op[T]:
    """``op``, whose timeout once ``deadline`` has passed names the timeout the caller gave
    (``budget_ms``), not the wait for bytes that noticed it."""
    try:
        return (yield from op)
    except APITimeoutError as error:
        clock: Instant = yield Now()
        if clock.monotonic < deadline - _DEADLINE_SLACK:
            raise
        raise timeout_error("GET", loggable_url(url), budget_ms) from error


_DEADLINE_SLACK = 0.05
"""A timeout this close to the deadline is the deadline's (aiohttp's timer, set to the
millisecond below it, may fire a little early)."""


def output_gone(
    url: str, status: int, headers: Mapping[str, str] | None = None, *, purged: bool = False
) -> NotFoundError:
    """The error for an output file the service no longer has (purged about 5 minutes after
    completion, or deleted): ``OUTPUT_NOT_FOUND``, whichever way the output was read.
    ``purged``: known from the prediction's ``data_removed``, no request sent."""
    return NotFoundError(
        f"The output file is no longer available ({status}): the service purges outputs "
        "about 5 minutes after completion; run the prediction again",
        "OUTPUT_NOT_FOUND",
        {"url": url, "data_removed": True} if purged else {"url": url},
        status,
        headers=headers,
    )


def refuse_purged(prediction: PredictionResponse, url: str) -> None:
    """``OUTPUT_NOT_FOUND`` (as HTTP 410 Gone would give) at once, before any request, when the
    prediction says its outputs were purged (``data_removed: true``)."""
    if prediction.get("data_removed") is True:
        raise output_gone(url, 410, purged=True)


class _Chooser:
    """`Download.choose` of one output: its final name once the content type is known."""

    def __init__(self, layout: Layout, index: int) -> None:
        self.layout = layout
        self.index = index

    def __call__(self, headers: Mapping[str, str]) -> Path:
        return self.layout.final(self.index, headers.get("content-type", ""))


def too_large_error(url: str, limit: int) -> SkytellsError:
    """The error for a save past its size cap, ``DOWNLOAD_TOO_LARGE`` (not retried)."""
    return SkytellsError(
        f"Downloading {url[:300]} stopped: the output exceeds max_bytes={limit} "
        "(pass a larger max_bytes to save() if you expect it)",
        "DOWNLOAD_TOO_LARGE",
        {"url": url, "max_bytes": limit},
    )


def positive_setting(name: str, value: float | None, default: float) -> float:
    """``value`` checked to be a positive finite number (``INVALID_PARAMETER``), or ``default``."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise SkytellsError(
            f"{name} must be a positive number, got {value!r}", "INVALID_PARAMETER", {name: value}
        )
    if not math.isfinite(value):
        raise SkytellsError(f"{name} must be finite", "INVALID_PARAMETER", {name: value})
    return float(value)


def outputs_of(prediction: PredictionResponse) -> list[str]:
    """The outputs of ``prediction`` as a list of strings (URLs or text), None items left out."""
    output = prediction.get("output")
    if output is None:
        return []
    items = output if isinstance(output, list) else [output]
    return [str(item) for item in items if item is not None]


def is_url(value: str) -> bool:
    """Whether an output is a URL to download (http or https, no spaces) rather than text."""
    try:
        scheme = urlsplit(value).scheme
    except ValueError:  # e.g. an unbalanced "[": still a URL to try, its download fails clearly
        scheme = value.split(":", 1)[0].lower()
    return scheme in ("http", "https") and " " not in value.strip()
