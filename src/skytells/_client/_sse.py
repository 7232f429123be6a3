"""A sans-IO decoder of Server-Sent Events (the WHATWG ``text/event-stream`` format).

Feed it bytes as they arrive, in chunks of any size; it returns the complete events. Shared by
the sync and async clients: only reading the bytes differs between them.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event, undecoded: ``event`` defaults to ``"message"``; ``id`` is the last
    event id in force (the stream's, which persists across events); ``retry`` is in ms."""

    event: str
    data: str
    id: str | None
    retry: int | None = None
    own_id: bool = False  # the event carried an ``id:`` field itself (only those de-duplicate)


class SSEDecoder:
    """Turns the bytes of an event stream into `ServerSentEvent`s.

    Lines end with CRLF, LF or CR (a CR at the end of a chunk may be the first half of a CRLF);
    comments (``: keep-alive``) are skipped but counted in `comments`; a UTF-8 BOM at the very
    start is dropped; an event is dispatched on a blank line, and only if it had a data field.
    """

    def __init__(self, last_event_id: str | None = None) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._started = False
        self._pending_cr = False
        self._event = ""
        self._own_id = False
        self._data: list[str] = []
        self._retry: int | None = None
        self.last_event_id = last_event_id
        self.comments = 0

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events completed by ``chunk``."""
        text = self._utf8.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]
        self._pending_cr = False
        self._buffer += text
        events: list[ServerSentEvent] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                break
            end, width = cut
            line = self._buffer[:end]
            if width == 1 and self._buffer[end] == "\r" and end + 1 == len(self._buffer):
                self._pending_cr = True  # maybe half of a CRLF split across chunks
            self._buffer = self._buffer[end + width :]
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
                self._own_id = True
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        event, data, retry, own_id = self._event or "message", self._data, self._retry, self._own_id
        self._event, self._data, self._retry, self._own_id = "", [], None, False
        if not data:
            return None
        return ServerSentEvent(event, "\n".join(data), self.last_event_id, retry, own_id)


def _line_end(buffer: str) -> tuple[int, int] | None:
    """Where the first line of ``buffer`` ends and the width of its terminator, if complete."""
    lf, cr = buffer.find("\n"), buffer.find("\r")
    if cr == -1 or (lf != -1 and lf < cr):
        return None if lf == -1 else (lf, 1)
    return (cr, 2) if buffer.startswith("\n", cr + 1) else (cr, 1)
