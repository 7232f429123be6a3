"""The sans-IO protocol between the SDK's logic and its two I/O drivers.

Every operation (a request with retries, waiting, running a model) is a generator that *yields*
actions and receives their results; it never does I/O itself, nor reads the clock: the time comes
in as the answer to `Now`, like every other effect. The sync driver performs each action with
blocking I/O, the async driver with asyncio. So request building, parsing, errors, retries, the
waiting strategy and the naming of saved files exist once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

from .._exceptions import SkytellsError

T = TypeVar("T")


@dataclass(frozen=True)
class HttpRequest:
    """Send one HTTP request to the API; the driver answers with a `RawResponse`.

    A failure to get a response is thrown into the operation as `APIConnectionError` or
    `APITimeoutError`. ``deadline`` is a monotonic instant (see `Now`) the whole exchange (connect,
    send, every byte of the body) must finish by.
    """

    method: str
    path: str
    params: Mapping[str, str] | None = None
    body: bytes | bytearray | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    deadline: float = math.inf


@dataclass(frozen=True)
class RawResponse:
    """What came back: status, headers (case-insensitive mapping) and the whole body."""

    status: int
    headers: Mapping[str, str]
    content: bytes


@dataclass(frozen=True)
class Sleep:
    """Pause for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Notify:
    """Call a user callback with ``value`` (the async driver awaits it if it returns a coroutine)."""

    callback: Callable[[Any], Any]
    value: Any


@dataclass(frozen=True)
class Emit:
    """Hand ``value`` to whoever iterates the operation (results as they complete)."""

    value: Any


@dataclass(frozen=True)
class Download:
    """Stream ``url`` into a file (written whole or not at all); the driver answers with a
    `DownloadResult`. No API key is sent: output URLs are file-host URLs, not API calls.

    ``choose(headers)`` names the file once the response headers arrive (its extension may come
    from the content type). At most ``max_bytes`` decoded bytes are written; the whole transfer
    must end by ``deadline`` (a monotonic instant, see `Now`), each read within ``idle_timeout``
    seconds. An existing file is replaced only with ``overwrite``. ``on_progress(path, done,
    total_or_None)`` reports progress (the async driver awaits it if it returns an awaitable).
    """

    url: str
    choose: Callable[[Mapping[str, str]], Path]
    max_bytes: int
    deadline: float = math.inf
    idle_timeout: float = 60.0
    overwrite: bool = False
    on_progress: Callable[[Path, int, int | None], Any] | None = None


def carries_a_file(status: int) -> bool:
    """Whether a download's answer is a file to write: a 2xx but 204 and 205 (no content)."""
    return 200 <= status < 300 and status not in (204, 205)


@dataclass(frozen=True)
class DownloadResult:
    """A finished download: the status, headers, size written and the file's path (None and 0
    unless 2xx: other bodies are not kept)."""

    status: int
    headers: Mapping[str, str]
    size: int
    path: Path | None = None


@dataclass(frozen=True)
class Now:
    """Read the clock; the driver answers with an `Instant`."""


@dataclass(frozen=True)
class Instant:
    """The answer to `Now`: ``monotonic`` (seconds, the clock of every deadline and
    `Sleep`) and ``wall`` (seconds since the epoch, for dates such as an HTTP ``Retry-After``)."""

    monotonic: float
    wall: float


def now() -> Op[float]:
    """The monotonic time, asked of the driver (``t = yield from now()``)."""
    instant: Instant = yield Now()
    return instant.monotonic


@dataclass(frozen=True)
class PrepareFolder:
    """Create the folder saved outputs go in; the driver answers True when ``target`` itself is
    that folder (it is one, or names none with an extension), False when it names the file."""

    target: Path


@dataclass(frozen=True)
class EnsureFree:
    """Fail with ``FILE_EXISTS`` if one of ``paths`` exists (before anything is downloaded)."""

    paths: tuple[Path, ...]


@dataclass(frozen=True)
class WriteFile:
    """Write ``data`` to ``path`` whole or not at all (a text output); an existing file is
    replaced only with ``overwrite``."""

    path: Path
    data: bytes
    overwrite: bool = False


@dataclass(frozen=True, eq=False)
class EncodeFile:
    """Turn one local file given as a model input (a path, bytes, a file object, a PIL image)
    into the string sent for it, before the create's body is built. The driver answers with
    what ``encoder`` returned (a URL ``str``; the async driver awaits an async encoder) or,
    without one, an `InlineFile` (``skytells._core.file_inputs``) holding the ``data:`` URI: at
    most ``max_inline_bytes`` of file, else `FileTooLargeError` before anything is read.
    ``field`` names where it sits in the input (``"image"``, ``"images[1]"``)."""

    value: Any
    field: str
    encoder: Callable[[Any], Any] | None
    max_inline_bytes: int


FILE_ACTIONS = (PrepareFolder, EnsureFree, WriteFile)
"""The file-system actions (blocking: the async driver performs them in a worker thread)."""


@dataclass(frozen=True, eq=False)
class OpenStream:
    """Open a long-lived ``GET url`` (Server-Sent Events); the driver answers with a
    `StreamResponse`. The API key and the client's extra headers are sent only when
    ``authenticated`` (the operation sets it when ``url`` is on the API's own origin).
    ``deadline`` (a monotonic instant, see `Now`) bounds the whole stream, later reads included;
    ``idle_timeout`` (seconds) bounds each wait for the next bytes."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = False
    deadline: float = math.inf
    idle_timeout: float = 60.0


@dataclass(frozen=True, eq=False)
class OpenFile:
    """Open ``GET url`` of an output file to read it piece by piece; the driver answers with a
    `StreamResponse` whose ``stream`` is a handle for `ReadStream` when the answer carries a file
    (`carries_a_file`), else None (the response closed). Sent as a `Download` is: no API key,
    redirects followed, ``accept-encoding: identity``. Each `ReadStream` answers the next decoded
    bytes (an encoded body is decoded in bounded pieces), ``b""`` at the end; past ``max_bytes``
    decoded bytes it raises ``DOWNLOAD_TOO_LARGE``, a body shorter than its ``Content-Length``
    `APIConnectionError`, a read after ``deadline`` (a monotonic instant, see `Now`) or a wait
    for bytes past ``idle_timeout`` seconds `APITimeoutError`; the stream closes after any."""

    url: str
    max_bytes: int
    deadline: float = math.inf
    idle_timeout: float = 60.0


@dataclass(frozen=True)
class StreamResponse:
    """The answer to `OpenStream` and `OpenFile`. ``stream`` is an open handle for `ReadStream`
    when the server answered 2xx ``text/event-stream`` (a file, for `OpenFile`); otherwise it is
    None and the response is already closed.
    The driver closes every handle still open when the operation ends (even if abandoned)."""

    status: int
    headers: Mapping[str, str]
    stream: Any = None


@dataclass(frozen=True)
class ReadStream:
    """The next bytes of an open stream; ``b""`` once the server ended it. A dropped connection
    is thrown as `APIConnectionError`, silence past the idle timeout or the deadline as
    `APITimeoutError`; the stream is closed after any of these."""

    stream: Any


@dataclass(frozen=True)
class CloseStream:
    """Close an open stream (its connection is not reused)."""

    stream: Any


Action = Union[
    HttpRequest,
    Sleep,
    Now,
    Notify,
    Emit,
    Download,
    PrepareFolder,
    EnsureFree,
    WriteFile,
    EncodeFile,
    OpenStream,
    ReadStream,
    CloseStream,
    OpenFile,
]
LOCAL_ACTIONS = (Now, *FILE_ACTIONS, EncodeFile)
"""The actions the API's HTTP is not involved in, performed for both drivers by one module of the
I/O layer."""
STREAM_ACTIONS = (OpenStream, OpenFile, ReadStream, CloseStream)
"""The actions a driver performs through its per-operation set of open streams (event streams
and output files being read)."""
Op = Generator[Action, Any, T]
"""An operation: yields actions, receives their results, returns ``T``."""


def failed_op(error: Exception) -> SkytellsError:
    """What one operation of a batch (``run_all``) ended with, when it raised: a `SkytellsError`
    as it is; any other exception (a value a file input chokes on, a bug) as an
    ``UNKNOWN_ERROR`` with it as ``__cause__``, so that it is that item's failure and the
    batch still accounts for every other item (what was created is never lost). Interrupts
    (not an `Exception`) are not given here: they stop the batch."""
    if isinstance(error, SkytellsError):
        return error
    wrapped = SkytellsError(
        f"This request failed before an answer came: {type(error).__name__}: {str(error)[:300]}",
        "UNKNOWN_ERROR",
        {"exception": type(error).__name__},
    )
    wrapped.__cause__ = error
    return wrapped
