"""Saving a prediction's outputs to disk: naming, retries, and the purged-output error."""

from __future__ import annotations

import logging
import mimetypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .._exceptions import NotFoundError, SkytellsError
from .._types import PredictionResponse
from ._config import ClientConfig
from ._protocol import Download, Op, RawResponse, Sleep
from ._responses import build_error

logger = logging.getLogger("skytells")

ProgressCallback = Callable[[Path, int, "int | None"], Any]
"""``on_progress(path, bytes_written, total_bytes_or_None)`` while a file downloads."""


def save_outputs(
    config: ClientConfig,
    prediction: PredictionResponse,
    target: Path,
    *,
    on_progress: ProgressCallback | None = None,
    timeout_ms: float | None = None,
) -> Op[list[Path]]:
    """Write every output of ``prediction`` under ``target`` (a folder, or a file path for a
    single output) and return the paths written. URLs are streamed to disk in chunks; text
    outputs (text models) are written as ``.txt``."""
    outputs = _outputs(prediction)
    if not outputs:
        raise SkytellsError(
            f"Prediction {prediction.get('id')} has no output to save "
            f"(status {prediction.get('status')!r})",
            "INVALID_REQUEST",
        )
    paths: list[Path] = []
    for index, item in enumerate(outputs):
        if not _is_url(item):
            path = _destination(target, prediction, index, len(outputs), "output.txt")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(item, encoding="utf-8")
            paths.append(path)
            continue
        name = Path(unquote(urlsplit(item).path)).name or f"output-{index}"
        path = _destination(target, prediction, index, len(outputs), name)
        path.parent.mkdir(parents=True, exist_ok=True)
        paths.append((yield from download(config, item, path, on_progress, timeout_ms)))
    return paths


def download(
    config: ClientConfig,
    url: str,
    path: Path,
    on_progress: ProgressCallback | None = None,
    timeout_ms: float | None = None,
) -> Op[Path]:
    """Stream one file to ``path`` with the client's retry policy; returns the final path
    (given an extension from the content type when the URL had none)."""
    policy = config.retry
    attempt = 0
    budget = (timeout_ms if timeout_ms is not None else max(config.timeout_ms, 600_000)) / 1000
    progress = None if on_progress is None else (lambda done, total: on_progress(path, done, total))
    while True:
        deadline = time.monotonic() + budget
        try:
            result = yield Download(url, path, deadline, progress)
            if result.status in (404, 410):
                raise NotFoundError(
                    f"The output file is no longer available ({result.status}): the service "
                    "purges outputs about 5 minutes after completion; run the prediction again",
                    "OUTPUT_NOT_FOUND",
                    {"url": url},
                    result.status,
                    headers=result.headers,
                )
            if not 200 <= result.status < 300:
                raise build_error(
                    RawResponse(result.status, result.headers, b""),
                    f"Downloading {url} failed with HTTP {result.status}",
                    None,
                    {"url": url},
                    None,
                )
            return _with_extension(path, result.headers.get("content-type", ""))
        except SkytellsError as error:
            delay = policy.delay(error, attempt)
            if delay is None:
                raise
            attempt += 1
            logger.debug("retrying download of %s in %.2fs after %s", url, delay, error.error_id)
            yield Sleep(delay)


def _outputs(prediction: PredictionResponse) -> list[str]:
    output = prediction.get("output")
    if output is None:
        return []
    items = output if isinstance(output, list) else [output]
    return [str(item) for item in items if item is not None]


def _is_url(value: str) -> bool:
    return urlsplit(value).scheme in ("http", "https") and " " not in value.strip()


def _destination(
    target: Path, prediction: PredictionResponse, index: int, count: int, name: str
) -> Path:
    if target.is_dir() or str(target).endswith(("/", "\\")) or not target.suffix:
        prefix = str(prediction.get("id", "prediction"))[:8]
        return target / f"{prefix}-{name}"
    if count == 1:
        return target
    return target.with_name(f"{target.stem}-{index}{target.suffix}")


def _with_extension(path: Path, content_type: str) -> Path:
    if path.suffix:
        return path
    extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ""
    if not extension:
        return path
    final = path.with_suffix(extension)
    path.replace(final)
    return final
