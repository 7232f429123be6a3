"""The names of saved outputs, decided without touching the disk.

Nothing a server sends is trusted: a name taken from a URL segment or a content type is reduced
to a small character set (``A-Z a-z 0-9 . _ -``), with no separator, no leading dot (so no dot
segment and no hidden file), no NUL and a bounded length. A prediction id names files whole (so
two predictions never share a name); an id that is not already a safe name is refused with
``UNSAFE_OUTPUT_NAME`` rather than reduced (two different ids must never map to one name).
Names are unique within one `save()` call, compared case-insensitively (for macOS and Windows
file systems). Every path built here is ``folder / name`` with a checked name, so it stays in
the folder the caller chose. The disk side (`_io.files`) creates the files.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .._exceptions import SkytellsError

MAX_ID_LENGTH = 100
"""The longest prediction id used in a file name (real ids are UUIDs: 36 characters)."""
MAX_NAME_LENGTH = 100
"""The longest name taken from a URL, extension included. With the id, a uniqueness suffix
and the temporary ``.part`` suffix a file name stays well under the usual 255-byte limit."""
MAX_EXTENSION_LENGTH = 12

_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-](?:[A-Za-z0-9._-]*[A-Za-z0-9_-])?\Z")
_EXTENSION = re.compile(rf"\.[A-Za-z0-9]{{1,{MAX_EXTENSION_LENGTH - 1}}}\Z")
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}/[a-z0-9][a-z0-9.+-]{0,63}\Z")

# The output types of the service, so names do not depend on the platform's MIME table.
_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/mpeg": ".mp3",
    "text/plain": ".txt",
    "application/json": ".json",
}


def unsafe_name_error(what: str, value: object) -> SkytellsError:
    """The error for a server-sent name that cannot name a file safely."""
    shown = repr(str(value)[:80])  # repr: control characters never reach a terminal raw
    return SkytellsError(
        f"Refusing to save: the {what} {shown} is not a safe file name "
        "(letters, digits, '.', '_' and '-' only, at most "
        f"{MAX_ID_LENGTH} characters, no leading dot)",
        "UNSAFE_OUTPUT_NAME",
        {"what": what},
    )


def is_safe_name(name: str) -> bool:
    """True for a name made only of the allowed characters, with no leading or trailing dot."""
    return len(name) <= 255 and _SAFE_NAME.match(name) is not None


def id_part(prediction_id: object) -> str:
    """The prediction id as used in file names: whole, or refused if it is not a safe name."""
    if prediction_id is None:
        return "prediction"
    text = str(prediction_id)
    if len(text) > MAX_ID_LENGTH or not is_safe_name(text):
        raise unsafe_name_error("prediction id", text)
    return text


def reduce_name(raw: str, fallback: str) -> str:
    """``raw`` made a safe file name: each run of other characters (separators, NUL, spaces,
    non-ASCII) becomes ``_``, leading and trailing dots go, the length is bounded (the
    extension kept); ``fallback`` when nothing is left."""
    text = _UNSAFE_RUN.sub("_", raw).strip(".")
    stem, dot, extension = text.rpartition(".")
    suffix = f".{extension}" if dot and stem and _EXTENSION.match(f".{extension}") else ""
    if not suffix:
        stem = text
    stem = stem[: MAX_NAME_LENGTH - len(suffix)].rstrip(".")
    if not stem:
        return fallback
    name = stem + suffix
    return name if is_safe_name(name) else fallback


def name_from_url(url: str, index: int) -> str:
    """The file name an output URL suggests (its last path segment, reduced)."""
    try:
        path = urlsplit(url).path
    except ValueError:  # not a parseable URL: its download fails with a clear error
        path = ""
    segment = re.split(r"[/\\]", unquote(path, errors="replace"))[-1]
    return reduce_name(segment, f"output-{index}")


def extension_for(content_type: str) -> str:
    """The extension (with its dot) for a response's content type, or ``""``."""
    media = content_type.split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.match(media):
        return ""
    extension = _EXTENSIONS.get(media) or mimetypes.guess_extension(media) or ""
    return extension if _EXTENSION.match(extension) else ""


def media_type(value: object) -> str | None:
    """The media type a server declared (``"image/png; q=1"`` -> ``"image/png"``), lower case,
    or None if it is not a plausible one (nothing a server sends is shown unchecked)."""
    if not isinstance(value, str):
        return None
    media = value[:200].split(";", 1)[0].strip().lower()
    return media if _MEDIA_TYPE.match(media) else None


def media_type_for(name: str) -> str | None:
    """The media type a file name's extension suggests (the service's types first), or None."""
    extension = split_name(name)[1].lower()
    if not extension:
        return None
    for media, known in _EXTENSIONS.items():
        if known == extension:
            return media
    return media_type(mimetypes.guess_type(f"x{extension}", strict=False)[0])


def split_name(name: str) -> tuple[str, str]:
    """``("stem", ".ext")`` of a file name (the extension may be empty)."""
    stem, dot, extension = name.rpartition(".")
    if dot and stem and _EXTENSION.match(f".{extension}"):
        return stem, f".{extension}"
    return name, ""


@dataclass
class Layout:
    """Where one `save()` call writes each output: ``folder / name`` for every output.

    ``folder_mode``: ``target`` is a folder, and files are named ``<id>-<name>``; otherwise
    ``target`` is the file to write (one output) or names the files (``stem-<index>.ext``).

    Reserving a name costs amortised constant time, however many outputs share it: the names
    taken are kept in a dict (by their case-folded form), and each ``stem``/``suffix`` pair
    remembers the last number it tried, so the ``-1``, ``-2``... of a name are each tried once
    per call. ``probes`` counts the names tried (at most two per reservation plus one per name
    taken, whatever the outputs).
    """

    target: Path
    folder_mode: bool
    prediction_id: object
    count: int
    _names: dict[int, str] = field(default_factory=dict)
    _taken: dict[str, int] = field(default_factory=dict)  # case-folded name -> its output
    _numbered: dict[tuple[str, str], int] = field(default_factory=dict)  # last number tried
    probes: int = 0

    @property
    def folder(self) -> Path:
        """The folder every file of this call is written in."""
        return self.target if self.folder_mode else self.target.parent

    def plan(self, index: int, suggested: str) -> Path:
        """Reserve a name for output ``index`` (``suggested``: from its URL, or ``output.txt``)."""
        if self.folder_mode:
            name = f"{id_part(self.prediction_id)}-{suggested}"
        elif self.count == 1:
            name = self.target.name
        else:
            name = f"{self.target.stem}-{index}{self.target.suffix}"
        return self._reserve(index, name)

    def final(self, index: int, content_type: str) -> Path:
        """The final path of output ``index`` once its content type is known: its planned name,
        given an extension from the content type when it has none (folder mode only)."""
        name = self._names[index]
        if self.folder_mode and not split_name(name)[1]:
            name += extension_for(content_type)
        return self._reserve(index, name)

    def _reserve(self, index: int, name: str) -> Path:
        previous = self._names.get(index)
        if previous is not None and self._taken.get(previous.casefold()) == index:
            del self._taken[previous.casefold()]  # its own name is free for it again
        if self.folder_mode:  # names the caller chose are theirs; ours must stay unique
            if self._is_taken(name):
                stem, suffix = split_name(name)
                key = (stem.casefold(), suffix.casefold())
                number = self._numbered.get(key, 0)
                while True:
                    number += 1
                    name = f"{stem}-{number}{suffix}"
                    if not self._is_taken(name):
                        break
                self._numbered[key] = number
            if not is_safe_name(name):  # cannot happen with the reductions above: refuse
                raise unsafe_name_error("output name", name)
            self._taken[name.casefold()] = index
        self._names[index] = name
        return self.folder / name

    def _is_taken(self, name: str) -> bool:
        self.probes += 1
        return name.casefold() in self._taken
