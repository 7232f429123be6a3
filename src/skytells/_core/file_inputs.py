"""Local files as model inputs: which values are files, their MIME type, the ``data:`` URI, and
the request body that carries it.

Pure: the values are read by the I/O layer (`skytells._io.file_inputs`), which answers the
`EncodeFile` action each file input yields here. A value sent inline becomes an `InlineFile`
(the whole ``data:`` URI as one ``bytearray``), which `json_bytes` turns into the request body in
place, so that a file is never held encoded more than once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import IO, Any, Protocol, Union, runtime_checkable

from .._exceptions import FileTooLargeError, SkytellsError, ValidationError
from .protocol import EncodeFile, Op

__all__ = [
    "DEFAULT_MAX_INLINE_BYTES",
    "MAX_BODY_BYTES",
    "EncodeFile",
    "FileEncoder",
    "FileToEncode",
    "InlineFile",
    "body_too_large",
    "encode_files",
    "encoded_size",
    "file_too_large",
    "has_file_inputs",
    "is_file_input",
    "json_bytes",
    "sniff_content_type",
]

MAX_BODY_BYTES = 16 * 1024 * 1024
"""The API's largest request body: the ``data:`` URIs of one create must fit in it together."""
DEFAULT_MAX_INLINE_BYTES = 10 * 1024 * 1024
"""The largest file sent inline as a ``data:`` URI by default: 10 MiB (about 13.3 MiB once
base64-encoded), so that the request stays under the API's 16 MiB body limit, as other SDKs bound
their inline files (fal: 10 MB). Larger files need a ``file_encoder`` that uploads them."""
MAX_DEPTH = 32
"""How deep inside lists and dicts file inputs are looked for."""
SNIFF_BYTES = 64
"""How many leading bytes `sniff_content_type` needs."""
_PIECE = 3 * 64 * 1024
"""Bytes base64-encoded at a time (a multiple of 3: no padding inside the URI)."""


@runtime_checkable
class FileToEncode(Protocol):
    """A local file given as a model input, as a ``file_encoder`` receives it.

    ``name`` is the file's name when it has one (a `Path`, an open file), ``content_type`` is
    sniffed from its first bytes (then its extension, else ``application/octet-stream``),
    ``size`` is its size in bytes when known without reading it, and ``field`` is where it sits
    in the input (``"image"``, ``"images[1]"``). `read()` returns its bytes; `open()` a binary
    file object to stream (an upload with ``requests.put(url, data=file.open())``)."""

    @property
    def name(self) -> str | None: ...

    @property
    def content_type(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    @property
    def field(self) -> str: ...

    def read(self) -> bytes: ...

    def open(self) -> IO[bytes]: ...


FileEncoder = Callable[[FileToEncode], Union[str, Awaitable[str]]]
"""A ``file_encoder``: takes a `FileToEncode` and returns the URL to send for it (an upload to
your bucket or CDN, or a ``data:`` URI); the async client also awaits an async one."""


class InlineFile:
    """A file as a ``data:`` URI: ASCII bytes in one buffer, handed to the body once (`take`)."""

    __slots__ = ("_data", "_sent", "content_type", "once", "size")

    def __init__(self, data: bytearray, content_type: str, size: int, once: bool = False) -> None:
        self._data: bytearray | None = data
        self._sent: tuple[bytearray, int, int] | None = None
        self.content_type = content_type
        self.size = size
        self.once = once
        """Read from a source that cannot be read again (a pipe): a queued create keeps it."""

    def __len__(self) -> int:
        """The length of the ``data:`` URI."""
        return encoded_size(self.size, self.content_type)

    def take(self) -> bytearray:
        """The buffer, given up: a body is built in it (no second encoded copy). Once given,
        a copy of the URI from that body (a create sent again as a new request)."""
        data, self._data = self._data, None
        if data is not None:
            return data
        if self._sent is None:
            raise SkytellsError("An inline file was given up but not sent", "INTERNAL_ERROR")
        body, start, end = self._sent
        return bytearray(memoryview(body)[start:end])

    def digest(self) -> str:
        """The SHA-256 (hex) of the URI's ASCII bytes, wherever they are now: how a reconcile
        recognises the file in a listed prediction's ``input`` without a copy of the URI."""
        if self._data is not None:
            return hashlib.sha256(self._data).hexdigest()
        if self._sent is None:
            raise SkytellsError("An inline file was given up but not sent", "INTERNAL_ERROR")
        body, start, end = self._sent
        return hashlib.sha256(memoryview(body)[start:end]).hexdigest()

    def sent_in(self, body: bytearray, start: int, end: int) -> None:
        """Where the URI now is: ``body[start:end]``."""
        self._sent = (body, start, end)

    def __repr__(self) -> str:
        return f"InlineFile({self.content_type!r}, {self.size} bytes)"


# ── which values are files ─────────────────────────────────────────────────


def is_pil_image(value: object) -> bool:
    """Whether ``value`` is a PIL image (PIL is never imported here: only if the caller did)."""
    module = sys.modules.get("PIL.Image")
    image_type = getattr(module, "Image", None) if module is not None else None
    return isinstance(image_type, type) and isinstance(value, image_type)


def is_file_input(value: object) -> bool:
    """A value sent as a file: a path (any ``os.PathLike``), ``bytes``/``bytearray``/
    ``memoryview``, a file object (anything with ``read()``) or a PIL image."""
    if isinstance(value, (str, int, float, bool, type(None), list, tuple, dict)):
        return False
    return (
        isinstance(value, (bytes, bytearray, memoryview))
        or hasattr(type(value), "__fspath__")
        or callable(getattr(value, "read", None))
        or is_pil_image(value)
    )


def has_file_inputs(value: Any, depth: int = 0) -> bool:
    """Whether a file input sits in ``value`` (itself, or inside its lists and dicts)."""
    if is_file_input(value):
        return True
    if depth >= MAX_DEPTH:
        return False
    if isinstance(value, Mapping):
        return any(has_file_inputs(item, depth + 1) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_file_inputs(item, depth + 1) for item in value)
    return False


def encode_files(
    body: dict[str, Any],
    encoder: FileEncoder | None,
    max_inline_bytes: int,
    kept: dict[str, tuple[Any, Any]] | None = None,
) -> Op[dict[str, Any]]:
    """``body`` with every file input of its ``input`` replaced by the string sent for it (an
    `InlineFile` when no encoder is given). The body itself is returned when it has none; the
    caller's dicts and lists are never changed.

    ``kept`` (a queued create's) holds what was encoded for a field by an earlier send, reused
    while the field holds the same value: an encoder's URL (no second upload, and the same body
    for the listing to recognise) and the ``data:`` URI of a source that cannot be read twice
    (a pipe). A file re-readable (a path, bytes) is read again instead: a queue of them costs
    no memory while it waits."""
    input = body.get("input")
    if not isinstance(input, Mapping) or not has_file_inputs(input):
        return body
    encoded = dict(body)
    inline: dict[str, int] = {}
    encoded["input"] = yield from _encode(
        input, "", _Encoding(encoder, max_inline_bytes, kept, inline), 0
    )
    return encoded


class _Encoding:
    __slots__ = ("encoder", "inline", "kept", "limit")

    def __init__(
        self,
        encoder: FileEncoder | None,
        limit: int,
        kept: dict[str, tuple[Any, Any]] | None,
        inline: dict[str, int],
    ) -> None:
        self.encoder, self.limit, self.kept, self.inline = encoder, limit, kept, inline


def _encode(value: Any, field: str, how: _Encoding, depth: int) -> Op[Any]:
    if is_file_input(value):
        return (yield from _encode_one(value, field or "input", how))
    if depth >= MAX_DEPTH or not has_file_inputs(value, depth):
        return value
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            out[key] = yield from _encode(item, name, how, depth + 1)
        return out
    items = []
    for index, item in enumerate(value):
        items.append((yield from _encode(item, f"{field}[{index}]", how, depth + 1)))
    return items


def _encode_one(value: Any, field: str, how: _Encoding) -> Op[Any]:
    earlier = how.kept.get(field) if how.kept is not None else None
    if earlier is not None and earlier[0] is value:
        answer = earlier[1]
    else:
        answer = yield EncodeFile(value, field, how.encoder, how.limit)
        if how.kept is not None and (isinstance(answer, str) or getattr(answer, "once", False)):
            how.kept[field] = (value, answer)
    if isinstance(answer, InlineFile):
        how.inline[field] = len(answer)
        total = sum(how.inline.values())
        if total > MAX_BODY_BYTES:
            raise body_too_large(how.inline, total)
    return answer


# ── the data: URI ──────────────────────────────────────────────────────────


def encoded_size(size: int, content_type: str) -> int:
    """The length of the ``data:`` URI of ``size`` bytes of ``content_type``."""
    return len(data_uri_prefix(content_type)) + 4 * ((size + 2) // 3)


def data_uri_prefix(content_type: str) -> bytes:
    """``data:<type>;base64,`` (a type that is not a plain token falls back to octet-stream)."""
    if not _is_token_type(content_type):
        content_type = "application/octet-stream"
    return f"data:{content_type};base64,".encode("ascii")


def _is_token_type(text: str) -> bool:
    kind, slash, sub = text.partition("/")
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&^_.+-")
    return bool(slash and kind and sub) and set(kind + sub) <= allowed


class DataUriWriter:
    """Builds one ``data:`` URI in a buffer allocated once at its final size: the file is fed
    in pieces (any size; leftovers of base64's 3-byte groups are carried over), so the only
    large object is the URI itself."""

    def __init__(
        self, size: int, content_type: str, field: str = "input", once: bool = False
    ) -> None:
        prefix = data_uri_prefix(content_type)
        self.field = field
        self.once = once
        self.content_type = content_type
        self.size = size
        self._buffer = bytearray(len(prefix) + 4 * ((size + 2) // 3))
        self._buffer[: len(prefix)] = prefix
        self._at = len(prefix)
        self._fed = 0
        self._carry = b""

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add the next bytes of the file (more than announced is an error)."""
        self._fed += len(chunk)
        if self._fed > self.size:
            raise SkytellsError(
                f"Input {self.field!r}: the file grew while it was read (more than the "
                f"{self.size} bytes announced); send it once it no longer changes",
                "FILE_CHANGED",
                {"field": self.field},
            )
        data = self._carry + chunk if self._carry else chunk
        whole = len(data) - len(data) % 3
        self._carry = bytes(data[whole:])
        self._put(memoryview(data)[:whole])

    def _put(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data)
        for start in range(0, len(view), _PIECE):  # small temporaries, whatever was fed
            encoded = base64.b64encode(view[start : start + _PIECE])
            self._buffer[self._at : self._at + len(encoded)] = encoded
            self._at += len(encoded)

    def finish(self) -> InlineFile:
        """The `InlineFile` (an error if the file ended before its announced size)."""
        if self._fed != self.size:
            raise SkytellsError(
                f"Input {self.field!r}: the file changed while it was read ({self._fed} bytes, "
                f"{self.size} announced); send it once it no longer changes",
                "FILE_CHANGED",
                {"field": self.field},
            )
        self._put(self._carry)
        self._carry = b""
        return InlineFile(self._buffer, self.content_type, self.size, self.once)


def file_too_large(field: str, size: int, limit: int) -> ValidationError:
    """The error for a file above the inline limit, with the remedy."""
    return FileTooLargeError(
        f"Input {field!r} is a {_mib(size)} file: files above {_mib(limit)} are not sent inline "
        "as a data: URI. Upload it yourself and pass its URL, or give the client a "
        "file_encoder= that uploads files (to your bucket or CDN) and returns their URL "
        "(see 'Files in' in the README); max_inline_file_bytes= raises the limit.",
        "FILE_TOO_LARGE",
        {"field": field, "size": size, "limit": limit},
    )


def body_too_large(fields: Mapping[str, int], total: int) -> ValidationError:
    """The error for inline files that together overflow the API's request body."""
    shown = ", ".join(f"{name}: {_mib(size)}" for name, size in fields.items())
    return FileTooLargeError(
        f"The files of this request take {_mib(total)} as data: URIs ({shown}): the API takes "
        f"request bodies up to {_mib(MAX_BODY_BYTES)}. Upload the larger ones yourself and pass "
        "their URLs, or give the client a file_encoder= that uploads files (to your bucket or "
        "CDN) and returns their URL (see 'Files in' in the README).",
        "FILE_TOO_LARGE",
        {
            "field": next(reversed(list(fields))),
            "fields": dict(fields),
            "size": total,
            "limit": MAX_BODY_BYTES,
        },
    )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB" if size >= 1024 * 1024 else f"{size} bytes"


# ── the request body ───────────────────────────────────────────────────────


def json_bytes(value: Any) -> bytes | bytearray:
    """``value`` as compact JSON (UTF-8). Each `InlineFile` in it becomes its ``data:`` URI
    without a copy of it: the body is built inside the first file's buffer (the JSON before it
    inserted in front, the rest appended), so its largest object is the body itself."""
    files: list[InlineFile] = []
    token = f"\ue000skytells-inline-{uuid.uuid4().hex}-"

    def placeholder(obj: Any) -> str:
        if isinstance(obj, InlineFile):
            files.append(obj)
            return f"{token}{len(files) - 1}\ue000"
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=placeholder)
    if not files:
        return text.encode()
    total = len(text) + sum(len(file) for file in files)  # about: the text's non-ASCII aside
    if total > MAX_BODY_BYTES:
        raise body_too_large({"input": total}, total)
    pieces = text.split(token)
    body = files[0].take()
    size = len(body)
    body[0:0] = pieces[0].encode()  # moved in place: the buffer grows, it is not copied
    files[0].sent_in(body, len(body) - size, len(body))
    for number, piece in enumerate(pieces[1:]):
        index, _, rest = piece.partition("\ue000")
        if int(index) != number:
            raise SkytellsError("Inline files out of order in the body", "INTERNAL_ERROR")
        if number:
            start = len(body)
            body += files[number].take()
            files[number].sent_in(body, start, len(body))
        body += rest.encode()
    return body


# ── MIME types ─────────────────────────────────────────────────────────────

_EXTENSIONS = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "mov": "video/quicktime",
    "webm": "video/webm",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "flac": "audio/flac",
    "m4a": "audio/mp4",
    "pdf": "application/pdf",
    "txt": "text/plain",
    "json": "application/json",
}


def sniff_content_type(head: bytes, name: str | None = None) -> str:
    """The MIME type of a file from its first bytes (`SNIFF_BYTES` suffice), else from the
    extension of ``name``, else ``application/octet-stream``."""
    sniffed = _magic(bytes(head[:SNIFF_BYTES]))
    if sniffed is not None:
        return sniffed
    if name:
        base = name.replace("\\", "/").rsplit("/", 1)[-1]
        if "." in base:
            found = _EXTENSIONS.get(base.rsplit(".", 1)[1].lower())
            if found is not None:
                return found
    return "application/octet-stream"


def _magic(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"BM") and len(head) >= 14:
        return "image/bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand == b"qt  ":
            return "video/quicktime"
        if brand in (b"M4A ", b"M4B "):
            return "audio/mp4"
        return "video/mp4"
    return None
