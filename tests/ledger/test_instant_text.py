"""format_instant computes its text from the integer: it must be datetime's own."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcredit.timeutil import (
    BEGINNING_OF_TIME,
    MAX_INSTANT,
    MIN_INSTANT,
    format_instant,
    from_us,
)


def by_datetime(us: int) -> str:
    dt = from_us(us)
    return dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds") \
        .replace("+00:00", "Z")


@settings(max_examples=2000, deadline=None)
@given(st.integers(-62_135_596_800_000_000, 253_402_300_799_999_999)
       | st.integers(MIN_INSTANT, MAX_INSTANT).map(lambda us: us - us % 1_000_000))
def test_format_instant_is_datetimes_isoformat(us: int) -> None:
    assert format_instant(us) == by_datetime(us)


def test_format_instant_edges() -> None:
    assert format_instant(None) is None
    assert format_instant(BEGINNING_OF_TIME) == "-infinity"
    assert format_instant(0) == "1970-01-01T00:00:00Z"
    assert format_instant(-1) == "1969-12-31T23:59:59.999999Z"
    assert format_instant(1_000_001) == "1970-01-01T00:00:01.000001Z"
    with pytest.raises(OverflowError):
        format_instant(2**61)
