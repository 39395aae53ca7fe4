"""Hypothesis strategies and an independent GB 11643 check-character oracle for the domain tests."""

from __future__ import annotations

from datetime import date

from hypothesis import settings
from hypothesis import strategies as st

from yikatong.domain import PROVINCES

# Written out from the standard rather than taken from the code under test.
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

TODAY = date(2026, 6, 1)

# The first call renders lazy Chinese messages and may be slow; a deadline would only make that flaky.
property_test = settings(deadline=None)


def check_char(first17: str) -> str:
    return CHECK_CHARS[sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True)) % 11]


def make_id(region: str, birth: str, seq: str) -> str:
    """A valid 18-character ID for a 6-digit region, YYYYMMDD birth date and 3-digit sequence."""
    first17 = region + birth + seq
    return first17 + check_char(first17)


@st.composite
def valid_ids(draw: st.DrawFn) -> str:
    province = draw(st.sampled_from(sorted(PROVINCES)))
    county = draw(st.text(alphabet="0123456789", min_size=4, max_size=4))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=TODAY))
    seq = draw(st.integers(min_value=0, max_value=999))
    return make_id(province + county, born.strftime("%Y%m%d"), f"{seq:03d}")


def to_full_width(text: str) -> str:
    """ASCII digits and letters as an input method in full-width mode types them."""
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


# Spaces, ideographic and no-break spaces, tabs and zero-width characters that arrive with pasted text.
noise = st.text(alphabet=" \u3000\u00a0\t\u200b\ufeff", max_size=3)
