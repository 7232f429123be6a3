"""Text from a server made safe to show: which characters are unsafe on a terminal or in a log
(control, invisible formatting, bidi overrides, unassigned...), and how each is escaped."""

from __future__ import annotations

import unicodedata

__all__ = ["UNSAFE_CATEGORIES", "escape_char", "is_unsafe"]

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Unicode categories never shown raw: controls (ESC, BEL, CR, C1), formatting (bidi overrides,
zero-width), surrogates, private use, unassigned, line and paragraph separators."""

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_unsafe(char: str) -> bool:
    """Whether ``char`` must be escaped to be shown (see `UNSAFE_CATEGORIES`)."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def escape_char(char: str) -> str:
    """``char`` as a visible escape: ``\\n``, ``\\r``, ``\\t``, else ``\\xNN``, ``\\uNNNN`` or
    ``\\UNNNNNNNN`` by its code point."""
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
