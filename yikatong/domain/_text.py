"""Undo what spreadsheets, input methods and copy-paste do to identifier text before it is checked."""

from __future__ import annotations

import re
import unicodedata

# Zero-width characters and the soft hyphen arrive invisibly with text pasted from web pages and Word.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)

# How a spreadsheet renders a long number it has stored as a float: the tail digits are already gone.
_NUMBER_RENDERING = re.compile(r"[+-]?\d+(\.\d*)?[eE][+-]?\d+|[+-]?\d+\.0+")


def clean_text(raw: str) -> str:
    """Full-width to half-width (NFKC), then drop all whitespace and invisible characters."""
    text = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE)
    return "".join(text.split())


def looks_like_number_rendering(text: str) -> bool:
    return _NUMBER_RENDERING.fullmatch(text) is not None


def is_ascii_digits(text: str) -> bool:
    # str.isdigit() alone also accepts other scripts' digits, which int() would then quietly read.
    return text.isascii() and text.isdigit()
