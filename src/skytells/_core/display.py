"""Jupyter MIME bundles of a prediction, an output file and a progress bar, from plain data.

Pure: each function takes the API's data and returns ``{mime type: text}``; nothing here imports
IPython or does any I/O. Nothing from a server is trusted. Every string goes into the markup
HTML-escaped (quotes included), never as markup; only ``http(s)`` URLs (and ``data:image/...``
URLs of raster formats) become a ``src`` or ``href``, anything else is shown as text; control and
invisible formatting characters are shown as escapes (``\\x1b``, ``\\u202e``) in the plain text;
and every field is bounded (a long text output is cut, with a note of what was left out).
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from .._enums import normalize_status
from .progress import ProgressView
from .text import escape_char, is_unsafe

__all__ = [
    "MAX_OUTPUTS",
    "MAX_TEXT_CHARS",
    "fallback_bundle",
    "file_mimebundle",
    "media_kind",
    "prediction_mimebundle",
    "progress_line",
    "progress_mimebundle",
    "safe_url",
    "terminal_text",
]

MAX_FIELD_CHARS = 200
"""The longest id, model name, status, time or file name shown."""
MAX_ERROR_CHARS = 2_000
"""The longest error text shown."""
MAX_TEXT_CHARS = 10_000
"""The longest text output shown (all text outputs together); the rest is left out, with a note."""
MAX_PLAIN_TEXT_CHARS = 2_000
"""The same, in the ``text/plain`` form (a terminal, a log)."""
MAX_OUTPUTS = 20
"""The most output files shown; a note counts the others."""
_MAX_SCANNED = 1_000
"""The most output items (and stored files) looked at."""
MAX_URL_CHARS = 4_096
"""A longer ``http(s)`` URL is shown as text, never used as a ``src``."""
MAX_DATA_URL_CHARS = 8_000_000
"""A longer ``data:image`` URL (about 6 MB of image) is not embedded in the notebook."""

_IMAGE_DATA_URL = re.compile(
    r"data:image/(?:png|jpeg|gif|webp|bmp|avif);base64,[A-Za-z0-9+/]*={0,2}", re.ASCII
)
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>\\`]")
_EXTENSIONS = {
    "image": {"png", "jpg", "jpeg", "gif", "webp", "bmp", "avif", "svg"},
    "video": {"mp4", "webm", "mov", "m4v", "ogv"},
    "audio": {"mp3", "wav", "ogg", "oga", "flac", "m4a", "aac", "opus", "weba"},
}
_MODEL_TYPES = {"image": "image", "video": "video", "audio": "audio", "music": "audio"}
_NOT_PLAIN_ASCII = re.compile(r"[^\x20-\x7e]")
_COLOURS = {
    "succeeded": "#15803d",
    "failed": "#b91c1c",
    "cancelled": "#6b7280",
    "processing": "#1d4ed8",
    "starting": "#1d4ed8",
    "pending": "#b45309",
}
_BOX = (
    "font-family:system-ui,-apple-system,'Segoe UI',sans-serif;font-size:13px;line-height:1.5;"
    "border:1px solid #d1d5db;border-radius:6px;padding:8px 12px;max-width:800px"
)


# ── text from a server, made safe ────────────────────────────────────────


def terminal_text(value: object, limit: int = MAX_FIELD_CHARS, *, multiline: bool = False) -> str:
    """``value`` as bounded text safe for a terminal: at most ``limit`` characters (then ``…``),
    control and invisible formatting characters (ESC, CR, bidi overrides...) as escapes;
    ``multiline`` keeps newlines and tabs. A value that is no string or number shows its type."""
    text = _text_of(value)
    cut = len(text) > limit
    text = text[:limit]

    def replace(match: re.Match[str]) -> str:
        char = match.group()
        if multiline and char in "\n\t":
            return char
        return escape_char(char) if is_unsafe(char) else char

    return _NOT_PLAIN_ASCII.sub(replace, text) + ("…" if cut else "")


def _text_of(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, (int, float)):
        return str(value) if not isinstance(value, int) or abs(value) < 10**30 else "<int>"
    return f"<{type(value).__name__}>"  # never str() of a server's nested structure


def _h(value: object, limit: int = MAX_FIELD_CHARS) -> str:
    """``value`` as escaped HTML text (quotes too: safe inside an attribute)."""
    return html.escape(terminal_text(value, limit), quote=True)


def safe_url(value: object) -> str | None:
    """``value`` if it may be a ``src``/``href``: an ``http(s)`` URL with a host (no spaces,
    quotes, angle brackets or control characters, at most `MAX_URL_CHARS`), or a base64
    ``data:image/...`` URL of a raster format; otherwise None."""
    if not isinstance(value, str):
        return None
    if value[:11].lower() == "data:image/":
        if len(value) <= MAX_DATA_URL_CHARS and _IMAGE_DATA_URL.fullmatch(value):
            return value
        return None
    if len(value) > MAX_URL_CHARS or _URL_FORBIDDEN.search(value):
        return None
    if _NOT_PLAIN_ASCII.search(value) and any(is_unsafe(char) for char in value):
        return None  # invisible or reordering characters (U+202E...): not a link to follow
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def media_kind(url: str, content_type: object = None, model_type: object = None) -> str | None:
    """``"image"``, ``"video"``, ``"audio"`` or None (a plain link), from the file's content
    type, else the URL's extension, else the model's type."""
    if isinstance(content_type, str):
        major = content_type.split("/", 1)[0].strip().lower()
        if major in _EXTENSIONS:
            return major
    if url.startswith("data:image/"):
        return "image"
    path = urlsplit(url).path
    extension = path.rsplit("/", 1)[-1].rpartition(".")[2].lower() if "." in path else ""
    for kind, extensions in _EXTENSIONS.items():
        if extension in extensions:
            return kind
    return _MODEL_TYPES.get(model_type) if isinstance(model_type, str) else None


def _file_name(url: str) -> str:
    if url.startswith("data:"):
        return "inline image"
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return name or urlsplit(url).hostname or "file"


# ── one output file ──────────────────────────────────────────────────────


def _media_html(url: str, kind: str | None, name: str) -> str:
    src = html.escape(url, quote=True)
    label = _h(name)
    if kind == "image":
        element = (
            f'<img src="{src}" alt="{label}" loading="lazy" '
            'style="max-width:100%;max-height:512px;display:block">'
        )
    elif kind in ("video", "audio"):
        size = ' style="max-width:100%;max-height:512px"' if kind == "video" else ""
        element = (
            f'<{kind} controls preload="metadata" src="{src}"{size}>'
            f'<a href="{src}" target="_blank" rel="noopener noreferrer">{label}</a></{kind}>'
        )
    else:
        element = ""
    link = (
        ""
        if url.startswith("data:")
        else f' <a href="{src}" target="_blank" rel="noopener noreferrer">open</a>'
    )
    caption = f'<div style="color:#6b7280;font-size:12px">{label}{link}</div>'
    return f'<figure style="margin:6px 0">{element}{caption}</figure>'


def file_mimebundle(
    url: object,
    name: object = None,
    content_type: object = None,
    *,
    include: Collection[str] | None = None,
    exclude: Collection[str] | None = None,
) -> dict[str, str]:
    """The MIME bundle of one output file: ``text/plain`` (name, type, URL) and ``text/html``
    (an image, a video or audio player, or a link). A URL that is no ``http(s)`` (or
    ``data:image``) URL is shown as text only."""
    safe = safe_url(url)
    shown_name = name if isinstance(name, str) and name else (_file_name(safe) if safe else "file")
    kind_text = f" ({terminal_text(content_type)})" if isinstance(content_type, str) else ""
    shown_url = terminal_text(url if safe is None or not safe.startswith("data:") else "data:…")
    bundle = {"text/plain": f"{terminal_text(shown_name)}{kind_text}: {shown_url}"}
    if _wanted("text/html", include, exclude):
        if safe is None:
            body = (
                f"<div>{_h(shown_name)}: <code>{_h(url, MAX_URL_CHARS)}</code> (not a link)</div>"
            )
        else:
            body = _media_html(safe, media_kind(safe, content_type), str(shown_name))
        bundle["text/html"] = f'<div style="{_BOX}">{body}</div>'
    return _select(bundle, include, exclude)


def fallback_bundle(value: object) -> dict[str, str]:
    """The bundle shown when building the real one failed: ``repr(value)`` as plain text
    (made terminal-safe), or the type's name if even the repr fails."""
    try:
        text = terminal_text(repr(value), MAX_ERROR_CHARS)
    except Exception:
        text = f"<{type(value).__name__}>"
    return {"text/plain": text}


# ── a prediction ─────────────────────────────────────────────────────────


def prediction_mimebundle(
    prediction: Mapping[str, Any],
    *,
    title: str = "Prediction",
    include: Collection[str] | None = None,
    exclude: Collection[str] | None = None,
) -> dict[str, str]:
    """The MIME bundle of a prediction dict: ``text/plain`` and ``text/html`` with its id,
    model, status (a coloured badge), times and duration, credits, error, and its outputs
    inline (images, video and audio players, text)."""
    if not isinstance(prediction, Mapping):
        prediction = {}
    facts = _Facts(prediction)
    outputs = _outputs(prediction)
    bundle = {"text/plain": _plain(title, facts, outputs)}
    if _wanted("text/html", include, exclude):
        bundle["text/html"] = _html(title, facts, outputs)
    return _select(bundle, include, exclude)


class _Facts:
    __slots__ = ("completed", "created", "credits", "duration", "error", "id", "model", "status")

    def __init__(self, prediction: Mapping[str, Any]) -> None:
        self.id = prediction.get("id")
        model = prediction.get("model")
        self.model = model.get("name") if isinstance(model, Mapping) else model
        self.status = normalize_status(_text_of(prediction.get("status", "unknown")))
        created = _instant(prediction.get("created_at"))
        completed = _instant(prediction.get("completed_at"))
        self.created = _time_text(created, prediction.get("created_at"))
        self.completed = _time_text(completed, prediction.get("completed_at"))
        self.duration = (
            duration_text((completed - created).total_seconds())
            if created is not None and completed is not None and completed >= created
            else None
        )
        metadata = prediction.get("metadata")
        billing = metadata.get("billing") if isinstance(metadata, Mapping) else None
        credits = billing.get("credits_used") if isinstance(billing, Mapping) else None
        self.credits = _number_text(credits)
        error = prediction.get("error")
        if not error and self.status == "failed":
            error = prediction.get("response") or "failed (no error text)"
        self.error = error if error else None


def _number_text(value: object) -> str | None:
    """A finite number as ``12.5`` or ``1e+30``; None for anything else (a bool, NaN, an
    infinity, an integer too large for a float)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    try:
        number = float(value)  # an int past 1e308 overflows
    except OverflowError:
        return None
    return f"{number:g}" if math.isfinite(number) else None


def _instant(value: object) -> dt.datetime | None:
    """A server's ISO 8601 time as an aware UTC datetime, or None if it is none (or lies
    outside what a datetime holds once moved to UTC: year 1 at +01:00, year 9999 at -01:00)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    match = re.fullmatch(r"(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)", text)
    if match:  # Python 3.10 reads 3 or 6 fraction digits only
        fraction = (match.group(2) or ".0")[1:7].ljust(6, "0")
        text = f"{match.group(1)}.{fraction}{match.group(3)}"
    try:
        instant = dt.datetime.fromisoformat(text)
        if instant.tzinfo is None:
            return instant.replace(tzinfo=dt.timezone.utc)
        return instant.astimezone(dt.timezone.utc)
    except (ValueError, OverflowError):
        return None


def _time_text(instant: dt.datetime | None, raw: object) -> str | None:
    if instant is not None:
        return instant.strftime("%Y-%m-%d %H:%M:%S UTC")
    return terminal_text(raw) if raw else None


def duration_text(seconds: float) -> str:
    """``0.08 s``, ``12.3 s``, ``2 min 05 s``, ``1 h 02 min``."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class _Outputs:
    """What a prediction's ``output`` holds: files (URL, kind, name) and text."""

    __slots__ = ("files", "hidden", "text", "text_cut")

    def __init__(self) -> None:
        self.files: list[tuple[str, str | None, str]] = []
        self.hidden = 0  # files past MAX_OUTPUTS
        self.text = ""
        self.text_cut = 0  # characters of text left out


def _outputs(prediction: Mapping[str, Any]) -> _Outputs:
    found = _Outputs()
    output = prediction.get("output")
    listed: list[Any] = output if isinstance(output, list) else [output]
    scanned = listed[:_MAX_SCANNED]
    found.hidden = len(listed) - len(scanned)  # not even looked at
    items = [item for item in scanned if item is not None]
    types = _stored_types(prediction)
    model = prediction.get("model")
    model_type = model.get("type") if isinstance(model, Mapping) else None
    texts: list[str] = []
    for item in items:
        url = safe_url(item)
        if url is None:
            texts.append(item if isinstance(item, str) else _text_of(item))
            continue
        if len(found.files) >= MAX_OUTPUTS:
            found.hidden += 1
            continue
        content_type, name = types.get(url, (None, None))
        shown = name if isinstance(name, str) and name else _file_name(url)
        found.files.append((url, media_kind(url, content_type, model_type), shown))
    # A list of text pieces (a text model's tokens) reads as one text.
    text = "".join(texts) if len(texts) == len(items) else "\n".join(texts)
    found.text = text[:MAX_TEXT_CHARS]
    found.text_cut = max(0, len(text) - MAX_TEXT_CHARS)
    return found


def _stored_types(prediction: Mapping[str, Any]) -> dict[str, tuple[object, object]]:
    """``metadata.storage.files`` by URL: (content type, name)."""
    metadata = prediction.get("metadata")
    storage = metadata.get("storage") if isinstance(metadata, Mapping) else None
    files = storage.get("files") if isinstance(storage, Mapping) else None
    found: dict[str, tuple[object, object]] = {}
    for entry in files[:_MAX_SCANNED] if isinstance(files, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("url"), str):
            found[entry["url"]] = (entry.get("type"), entry.get("name"))
    return found


def _plain(title: str, facts: _Facts, outputs: _Outputs) -> str:
    lines = [f"{title} {terminal_text(facts.id)}"]

    def row(label: str, value: str | None) -> None:
        if value is not None:
            lines.append(f"  {label:<10} {value}")

    row("model", terminal_text(facts.model) if facts.model is not None else None)
    row("status", terminal_text(facts.status))
    row("created", facts.created)
    completed = facts.completed
    if completed is not None and facts.duration is not None:
        completed += f" (took {facts.duration})"
    row("completed", completed)
    row("credits", facts.credits)
    row("error", terminal_text(facts.error, MAX_ERROR_CHARS) if facts.error else None)
    for url, _kind, _name in outputs.files:
        row("output", terminal_text("data:…" if url.startswith("data:") else url, MAX_URL_CHARS))
    if outputs.hidden:
        row("output", f"… and {outputs.hidden} more")
    if outputs.text:
        shown = terminal_text(outputs.text, MAX_PLAIN_TEXT_CHARS, multiline=True)
        left_out = max(0, len(outputs.text) - MAX_PLAIN_TEXT_CHARS) + outputs.text_cut
        lines.append("  output:")
        lines.extend(f"    {line}" for line in shown.splitlines())
        if left_out:
            lines.append(f"    [{left_out:,} more characters: see prediction.output]")
    return "\n".join(lines)


def _badge(status: str) -> str:
    colour = _COLOURS.get(status, "#6b7280")
    return (
        f'<span style="background:{colour};color:#fff;border-radius:4px;padding:1px 7px;'
        f'font-size:12px;font-weight:600">{_h(status)}</span>'
    )


def _html(title: str, facts: _Facts, outputs: _Outputs) -> str:
    parts = [
        f'<div class="skytells-prediction" style="{_BOX}">',
        f'<div style="margin-bottom:4px"><strong>{html.escape(title)}</strong> '
        f"<code>{_h(facts.id)}</code> {_badge(facts.status)}</div>",
    ]
    rows: list[tuple[str, str]] = []
    if facts.model is not None:
        rows.append(("model", f"<code>{_h(facts.model)}</code>"))
    if facts.created is not None:
        rows.append(("created", html.escape(facts.created)))
    if facts.completed is not None:
        rows.append(("completed", html.escape(facts.completed)))
    if facts.duration is not None:
        rows.append(("duration", html.escape(facts.duration)))
    if facts.credits is not None:
        rows.append(("credits", html.escape(facts.credits)))
    if rows:
        cells = "".join(
            f'<tr><td style="color:#6b7280;padding:0 12px 0 0;text-align:left">{label}</td>'
            f'<td style="text-align:left">{value}</td></tr>'
            for label, value in rows
        )
        parts.append(f'<table style="border-collapse:collapse;margin:0">{cells}</table>')
    if facts.error:
        parts.append(
            '<pre style="color:#b91c1c;white-space:pre-wrap;margin:6px 0">'
            f"{html.escape(terminal_text(facts.error, MAX_ERROR_CHARS, multiline=True))}</pre>"
        )
    for url, kind, name in outputs.files:
        parts.append(_media_html(url, kind, name))
    if outputs.hidden:
        parts.append(f"<div>… and {outputs.hidden} more outputs (see prediction.output)</div>")
    if outputs.text:
        parts.append(
            '<pre style="white-space:pre-wrap;max-height:480px;overflow:auto;margin:6px 0;'
            'padding:6px;background:rgba(127,127,127,0.08)">'
            f"{html.escape(terminal_text(outputs.text, MAX_TEXT_CHARS, multiline=True))}</pre>"
        )
        if outputs.text_cut:
            parts.append(
                f'<div style="color:#6b7280">[{outputs.text_cut:,} more characters: see '
                "prediction.output]</div>"
            )
    parts.append("</div>")
    return "".join(parts)


# ── a progress bar ───────────────────────────────────────────────────────


def progress_line(view: ProgressView, *, width: int = 24, unicode: bool = True) -> str:
    """One line for a terminal or a log: ``flux-pro 1a2b3c4d [████░░░░]  40% processing 0:03``."""
    filled = round(width * view.percent / 100)
    full, empty = ("█", "░") if unicode else ("#", "-")
    bar = full * filled + empty * (width - filled)
    return (
        f"{terminal_text(view.label, 60)} [{bar}] {view.percent:>3.0f}% "
        f"{terminal_text(view.status, 40)} {clock_text(view.elapsed)}"
    )


def clock_text(seconds: float) -> str:
    """``0:03``, ``12:04``, ``1:02:03``."""
    total = int(seconds) if math.isfinite(seconds) and seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_mimebundle(view: ProgressView) -> dict[str, str]:
    """A progress bar as a MIME bundle: ``text/plain`` (`progress_line`) and ``text/html``."""
    status = normalize_status(view.status)
    colour = _COLOURS.get(status, "#6b7280") if view.final else "#1d4ed8"
    percent = f"{max(0.0, min(100.0, view.percent)):.1f}"
    html_bar = (
        f'<div class="skytells-progress" style="font-family:system-ui,sans-serif;font-size:13px;'
        f'display:flex;align-items:center;gap:8px;max-width:640px">'
        f"<code>{_h(view.label, 60)}</code>"
        f'<div style="flex:1;min-width:120px;height:10px;background:#e5e7eb;border-radius:5px;'
        f'overflow:hidden"><div style="width:{percent}%;height:100%;background:{colour}"></div>'
        f"</div><span>{view.percent:.0f}%</span>{_badge(status)}"
        f'<span style="color:#6b7280">{clock_text(view.elapsed)}</span></div>'
    )
    return {"text/plain": progress_line(view), "text/html": html_bar}


def _wanted(mime: str, include: Collection[str] | None, exclude: Collection[str] | None) -> bool:
    return (not include or mime in include) and not (exclude and mime in exclude)


def _select(
    bundle: dict[str, str], include: Collection[str] | None, exclude: Collection[str] | None
) -> dict[str, str]:
    return {mime: data for mime, data in bundle.items() if _wanted(mime, include, exclude)}
