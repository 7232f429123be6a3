"""A sans-IO decoder of Server-Sent Events (the WHATWG ``text/event-stream`` format).

Feed it bytes as they arrive, in chunks of any size; it returns the complete events. Shared by
the sync and async clients: only reading the bytes differs between them.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

from .._exceptions import ResponseTooLargeError


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
    ``max_event_size`` (characters, None: no bound) bounds one event, its unfinished line
    included: a line that never ends, or data lines that never reach a blank one, raise
    `ResponseTooLargeError` once past it instead of growing without bound.
    """

    def __init__(self, last_event_id: str | None = None, max_event_size: int | None = None) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []  # the line being received, in pieces (no terminator)
        self._partial_size = 0
        self._started = False
        self._pending_cr = False
        self._event = ""
        self._own_id = False
        self._data: list[str] = []
        self._data_size = 0
        self._retry: int | None = None
        self.max_event_size = max_event_size
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
        events: list[ServerSentEvent] = []
        start = 0
        lf, cr = text.find("\n"), text.find("\r")  # the next of each, searched once per chunk
        while True:
            if -1 < lf < start:
                lf = text.find("\n", start)
            if -1 < cr < start:
                cr = text.find("\r", start)
            if cr == -1 or (lf != -1 and lf < cr):
                if lf == -1:
                    break
                end, width = lf, 1
            else:
                end, width = cr, 2 if text.startswith("\n", cr + 1) else 1
            if width == 1 and text[end] == "\r" and end + 1 == len(text):
                self._pending_cr = True  # maybe half of a CRLF split across chunks
            line = text[start:end]
            if self._partial:
                line = "".join(self._partial) + line
                self._partial, self._partial_size = [], 0
            start = end + width
            event = self._line(line)
            if event is not None:
                events.append(event)
        if start < len(text):  # only the new text is searched: a long line costs linear time
            self._partial.append(text[start:])
            self._partial_size += len(text) - start
        self._check_size()
        return events

    def _check_size(self) -> None:
        size = self._partial_size + self._data_size
        if self.max_event_size is not None and size > self.max_event_size:
            raise ResponseTooLargeError(
                f"An event of the stream is larger than max_response_bytes "
                f"({self.max_event_size}); raise the client's max_response_bytes= if such an "
                "event is expected",
                "RESPONSE_TOO_LARGE",
                {"max_response_bytes": self.max_event_size, "received_at_least": size},
            )

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
            self._data_size += len(value) + 1
            self._check_size()
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
        self._data_size = 0
        if not data:
            return None
        return ServerSentEvent(event, "\n".join(data), self.last_event_id, retry, own_id)
