"""Text we write into spreadsheets people open: never let a cell become a formula (CSV/formula injection)."""

from __future__ import annotations

# A cell starting with one of these is run as a formula by Excel and WPS.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formula(text: str) -> str:
    """Make a text cell inert: a leading formula character gets a "'" in front."""
    return "'" + text if text.startswith(FORMULA_START) else text
