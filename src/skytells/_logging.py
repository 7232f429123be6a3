"""`SKYTELLS_LOG=debug|info`: the SDK's log on stderr, with API keys redacted everywhere.

Every client calls `setup_logging(api_key)` when it is constructed (never at import):

- the key is remembered, and a filter on the ``skytells`` logger replaces it, and anything that
  looks like a Skytells key (``sk-`` and 8 more characters), with ``sk-***`` in every record's
  message, arguments and traceback text, whatever handlers the application attached;
- every log record of the process, whatever library logs it (httpx, httpcore, aiohttp...) and
  whatever logger it goes to, has the registered keys replaced with ``sk-***`` as it is created
  (a log record factory, installed when the first key is registered; records that do not
  contain a key are left untouched);
- if the environment variable ``SKYTELLS_LOG`` names a level (``debug``, ``info``, ``warning``
  or ``warn``, ``error``, ``critical``, in any case, or a number such as ``10``), a stderr
  handler is attached to the ``skytells`` logger at that level (once per process; a later
  client's value changes the level). ``off`` (or ``none``, ``0``, empty) attaches none, and
  removes the one an earlier client attached: the latest client's setting applies (unset leaves
  it as it is); any other value is ignored with a `RuntimeWarning` that says so (once per value).

The SDK logs each request at debug level (method, path, status, elapsed time, attempt), each
retry, and the long requests (event streams, downloads: start, then end with status, bytes and
duration); never headers or bodies.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from typing import Any

from ._warnings import warn_caller

LOGGER_NAME = "skytells"
ENV_VAR = "SKYTELLS_LOG"
REDACTED = "sk-***"
KEY_PATTERN = re.compile(r"sk-[A-Za-z0-9_-]{8,}")
MIN_KEY_LENGTH = 6
"""Shorter keys are not registered: replacing every short string would garble the log."""

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_OFF = frozenset({"", "0", "off", "none", "false", "no"})
_warned: set[str] = set()
_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"
_lock = threading.Lock()
_keys: set[str] = set()
_key_pattern: re.Pattern[str] | None = None


def _new_lock_after_fork() -> None:
    global _lock
    _lock = threading.Lock()  # another thread of the parent may have held it at the fork


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


def redact(text: str) -> str:
    """``text`` with every registered API key and every ``sk-...`` key replaced by ``sk-***``."""
    pattern = _key_pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    return KEY_PATTERN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Formats a record's message once, redacted, and redacts its traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as usual
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class _StderrHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time of each record (as `logging.lastResort`)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


_filter = RedactingFilter()
_handler: _StderrHandler | None = None
_factory_installed = False


def _redact_registered(record: logging.LogRecord) -> None:
    """Replace the registered keys in a new record of any logger (only if it holds one)."""
    pattern = _key_pattern
    if pattern is None:
        return
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it as usual
        return
    if pattern.search(message):
        record.msg, record.args = pattern.sub(REDACTED, message), None
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if pattern.search(text):
            record.exc_text = pattern.sub(REDACTED, text)
    if record.stack_info and pattern.search(record.stack_info):
        record.stack_info = pattern.sub(REDACTED, record.stack_info)


def _install_record_factory() -> None:
    """Wrap the process's log record factory once, so that no library's record shows a key."""
    global _factory_installed
    if _factory_installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_registered(record)
        return record

    logging.setLogRecordFactory(factory)
    _factory_installed = True


def register_key(api_key: str | None) -> None:
    """Remember a key the process uses, so that it is redacted from every log record."""
    global _key_pattern
    if not api_key or len(api_key) < MIN_KEY_LENGTH or api_key in _keys:
        return
    with _lock:
        _keys.add(api_key)
        ordered = sorted(_keys, key=len, reverse=True)  # longest first: no partial leftovers
        _key_pattern = re.compile("|".join(re.escape(key) for key in ordered))
        _install_record_factory()


def log_level(value: str) -> int | None:
    """The level ``SKYTELLS_LOG=value`` asks for, or None (off, or not a level: warned once)."""
    text = value.strip().lower()
    if text in _OFF:
        return None
    if text in _LEVELS:
        return _LEVELS[text]
    if text.isdigit() and 0 < int(text) <= logging.CRITICAL:
        return int(text)
    shown = ascii(value[:40])  # the environment is not the terminal's: escaped, bounded
    if shown not in _warned:
        _warned.add(shown)
        warn_caller(
            f"{ENV_VAR}={shown} is not a log level (debug, info, warning, error, critical, or "
            "a number such as 10): no SDK log is written",
            RuntimeWarning,
        )
    return None


def setup_logging(api_key: str | None) -> None:
    """Register ``api_key`` for redaction and honour ``SKYTELLS_LOG`` (read now)."""
    global _handler
    register_key(api_key)
    logger = logging.getLogger(LOGGER_NAME)
    raw = os.environ.get(ENV_VAR)
    level = log_level(raw or "")
    with _lock:
        if _filter not in logger.filters:
            logger.addFilter(_filter)
        if level is None:
            if raw is not None and raw.strip().lower() in _OFF and _handler is not None:
                logger.removeHandler(_handler)  # off now: what an earlier client turned on
                _handler = None
                logger.setLevel(logging.NOTSET)
            return
        if _handler is None:
            _handler = _StderrHandler()
            _handler.setFormatter(logging.Formatter(_FORMAT))
            _handler.addFilter(_filter)  # records of child loggers pass here too
            logger.addHandler(_handler)
        _handler.setLevel(level)
        logger.setLevel(level)
