"""A prediction's output files, one `FileInfo` each, and reading one (bytes, or piece by piece).

What a file is (its URL, a safe name, its declared content type) is decided here without I/O,
with the naming of `saving` (`filenames`), so a file is named as ``prediction.save()`` names it.
Reading asks the driver for `OpenFile` and `ReadStream` actions: no API key is sent, the body is
decoded and bounded by the I/O layer as a download's is (`DEFAULT_MAX_BYTES`, the save deadline),
opening is retried with the client's retry policy, and outputs the service has purged give
``OUTPUT_NOT_FOUND``, before any request when the prediction already says ``data_removed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._types import PredictionResponse
from .context import Context
from .filenames import Layout, media_type, media_type_for
from .protocol import Emit, Op, OpenFile, ReadStream, StreamResponse, now
from .saving import (
    DEFAULT_MAX_BYTES,
    DEFAULT_SAVE_TIMEOUT_MS,
    download_error,
    is_url,
    outputs_of,
    plan_names,
    positive_setting,
    refuse_purged,
    retrying,
    timed,
)

MAX_LISTED_FILES = 1000
"""How many entries of ``metadata.storage.files`` are looked at (real predictions have a few)."""


@dataclass(frozen=True)
class FileInfo:
    """One output file: its URL, its position in ``output``, the name ``save()`` gives it and
    the content type the prediction declares (``metadata.storage.files``), if any."""

    url: str
    index: int
    name: str
    declared_type: str | None
    prediction: PredictionResponse = field(repr=False, compare=False)


@dataclass
class Seen:
    """What reading a file learnt: the content type of its response (None until read)."""

    content_type: str | None = None


def files_of(prediction: PredictionResponse) -> list[FileInfo]:
    """A `FileInfo` for each output that is a file URL, in order; text outputs have none.

    Names follow ``save()`` into a folder: ``<id>-<name from the URL>``, ``-1``, ``-2``... when
    two outputs would share one, an extension from the declared type when the URL has none; a
    prediction id that is not a safe file name is refused (``UNSAFE_OUTPUT_NAME``), as by save().
    """
    outputs = outputs_of(prediction)
    urls = [index for index, item in enumerate(outputs) if is_url(item)]
    if not urls:
        return []
    declared = _declared_types(prediction)
    layout = Layout(Path(), True, prediction.get("id"), len(outputs))
    plan_names(layout, outputs, urls)
    files = []
    for index in urls:
        url = outputs[index]
        content_type = declared.get(url)
        name = layout.final(index, content_type or "").name
        files.append(FileInfo(url, index, name, content_type, prediction))
    return files


def content_type(info: FileInfo, seen: Seen) -> str | None:
    """The file's content type: as the prediction declares it, else as its response said once
    it was read, else as its name's extension suggests; None if none of them tells."""
    return info.declared_type or seen.content_type or media_type_for(info.name)


def read_file(
    ctx: Context,
    info: FileInfo,
    seen: Seen,
    *,
    max_bytes: int | None = None,
    timeout_ms: float | None = None,
) -> Op[bytes]:
    """The whole file (decoded), at most ``max_bytes``; an attempt that fails in a way the
    client retries starts again from the first byte, within ``timeout_ms`` for the call."""
    limit, deadline, budget_ms = yield from _limits(ctx, info, max_bytes, timeout_ms)

    def attempt() -> Op[bytes]:
        stream = yield from _open(ctx, info, seen, limit, deadline)
        body = bytearray()
        while chunk := (yield ReadStream(stream)):
            body += chunk
        return bytes(body)

    return (
        yield from timed(info.url, deadline, budget_ms, retrying(ctx, info.url, deadline, attempt))
    )


def file_chunks(
    ctx: Context,
    info: FileInfo,
    seen: Seen,
    *,
    max_bytes: int | None = None,
    timeout_ms: float | None = None,
) -> Op[None]:
    """Emits ``b""`` once the file is open (opening retried as a download is), then each decoded
    piece as it arrives; a failure after that ends the reading (bytes were handed out)."""
    limit, deadline, budget_ms = yield from _limits(ctx, info, max_bytes, timeout_ms)

    def chunks() -> Op[None]:
        stream = yield from retrying(
            ctx, info.url, deadline, lambda: _open(ctx, info, seen, limit, deadline)
        )
        yield Emit(b"")
        while chunk := (yield ReadStream(stream)):
            yield Emit(chunk)

    yield from timed(info.url, deadline, budget_ms, chunks())


def _limits(
    ctx: Context, info: FileInfo, max_bytes: int | None, timeout_ms: float | None
) -> Op[tuple[int, float, float]]:
    """The size cap, the deadline and the timeout (ms) of one read (a save's defaults),
    purged outputs refused."""
    budget_ms = positive_setting(
        "timeout", timeout_ms, max(ctx.config.timeout_ms, DEFAULT_SAVE_TIMEOUT_MS)
    )
    limit = int(positive_setting("max_bytes", max_bytes, DEFAULT_MAX_BYTES))
    refuse_purged(info.prediction, info.url)
    return limit, (yield from now()) + budget_ms / 1000, budget_ms


def _open(ctx: Context, info: FileInfo, seen: Seen, limit: int, deadline: float) -> Op[Any]:
    """One attempt to open the file: its stream handle, or the error of its answer."""
    url = info.url
    response: StreamResponse = yield OpenFile(url, limit, deadline, ctx.config.timeout_ms / 1000)
    if response.stream is None:
        raise download_error(url, response.status, response.headers)
    seen.content_type = media_type(response.headers.get("content-type"))
    return response.stream


def _declared_types(prediction: PredictionResponse) -> dict[str, str]:
    """URL -> content type, from ``metadata.storage.files`` (checked: any shape may arrive)."""
    metadata: Any = prediction.get("metadata")
    storage = metadata.get("storage") if isinstance(metadata, dict) else None
    listed = storage.get("files") if isinstance(storage, dict) else None
    if not isinstance(listed, list):
        return {}
    found: dict[str, str] = {}
    for entry in listed[:MAX_LISTED_FILES]:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        declared = media_type(entry.get("type"))
        if declared is not None:
            found.setdefault(entry["url"], declared)
    return found
