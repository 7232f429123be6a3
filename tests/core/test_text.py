"""Server text made safe to show: `skytells._core.text`, shared by the CLI and the notebook display."""

from __future__ import annotations

import pytest

from skytells._core.text import escape_char, is_unsafe


@pytest.mark.parametrize(
    ("char", "escaped"),
    [
        ("\x1b", "\\x1b"),
        ("\n", "\\n"),
        ("\r", "\\r"),
        ("\t", "\\t"),
        ("\u202e", "\\u202e"),
        ("\x85", "\\x85"),
        ("\U000e0001", "\\U000e0001"),
    ],
)
def test_unsafe_characters_are_escaped_by_code_point(char: str, escaped: str) -> None:
    assert is_unsafe(char)
    assert escape_char(char) == escaped


@pytest.mark.parametrize("char", ["a", "é", "字", "😀", " "])
def test_visible_characters_are_safe(char: str) -> None:
    assert not is_unsafe(char)
