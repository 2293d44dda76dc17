"""Time as the contract defines it.

Instants are stored as integer microseconds since the Unix epoch, UTC: exact, ordered,
cheap to compare in SQL and in columnar engines alike. Durations are days (float).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

US_PER_DAY = 86_400_000_000
US_PER_SECOND = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The supported range of instants (socialcredit.limits): [1900-01-01, 2200-01-01) UTC.
MIN_INSTANT = -2_208_988_800_000_000
MAX_INSTANT = 7_258_118_400_000_000
# "The beginning of time" for a program's first version: far before any record.
BEGINNING_OF_TIME = -(2**62)

_DURATION = re.compile(r"^\s*(\d{1,12}(?:\.\d{1,12})?)\s*([dwy])\s*$", re.ASCII)
MAX_DURATION_DAYS = 100 * 365.0  # socialcredit.limits
_UNIT_DAYS = {"d": 1.0, "w": 7.0, "y": 365.0}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_duration_days(value: object) -> float:
    """`<n>d`, `<n>w` (7 d), `<n>y` (365 d), or an integer number of days."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    days: float | None = None
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative: {value!r}")
        days = float(value)
    elif isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            days = float(m.group(1)) * _UNIT_DAYS[m.group(2)]
        elif value.strip().isdigit() and len(value.strip()) <= 12:
            days = float(int(value))
    if days is None:
        raise ValueError(f"not a duration (use <n>d, <n>w, <n>y or days): {value!r}")
    if not days <= MAX_DURATION_DAYS:  # also refuses nan and inf
        raise ValueError(f"duration {value!r} is longer than the longest supported "
                         f"({MAX_DURATION_DAYS / 365:.0f} years)")
    return days


def parse_instant(value: str | datetime | date) -> int:
    """ISO 8601 with a zone -> microseconds UTC. A date alone means 00:00 UTC.

    A timestamp without a zone is refused: guessing a zone silently shifts ages.
    """
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        s = value.strip()
        try:
            dt = datetime.fromisoformat(s)
        except ValueError as exc:
            raise ValueError(f"not an ISO 8601 timestamp: {value!r} ({exc})") from None
        if dt.tzinfo is None and ((len(s) == 10 and _DATE_ONLY.match(s)) or not (
                "T" in s or ":" in s or " " in s)):
            dt = dt.replace(tzinfo=UTC)  # a date alone (2026-01-01, 20260101, 2026-W01-1)
    if dt.tzinfo is None:
        raise ValueError(f"timestamp needs a zone (e.g. Z or +08:00): {value!r}")
    us = to_us(dt)
    if not MIN_INSTANT <= us < MAX_INSTANT:
        raise ValueError(f"{value!r} is outside the supported range of instants "
                         "(1900-01-01 to 2200-01-01 UTC)")
    return us


_ONE_US = timedelta(microseconds=1)


def to_us(dt: datetime) -> int:
    return (dt - EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


@lru_cache(maxsize=8192)
def _day_text(days: int) -> str:
    """`YYYY-MM-DD` of a day counted from the epoch (an ingest's listings fall on a few
    thousand days)."""
    return (EPOCH + timedelta(days=days)).date().isoformat()


def format_instant(us: int | None) -> str | None:
    """UTC ISO 8601 with a Z, seconds precision unless sub-second parts exist.

    Computed from the integer (the day's date cached), not through a datetime: ingest
    formats three instants per listing; `datetime.isoformat` gives the same text (a
    test holds the two equal)."""
    if us is None:
        return None
    if us <= BEGINNING_OF_TIME:
        return "-infinity"
    days, rem = divmod(us, US_PER_DAY)
    secs, micro = divmod(rem, US_PER_SECOND)
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    if micro:
        return f"{_day_text(days)}T{hours:02d}:{minutes:02d}:{secs:02d}.{micro:06d}Z"
    return f"{_day_text(days)}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


def now_us() -> int:
    """Wall time in µs since the epoch: what to_us(datetime.now(UTC)) gives (both floor
    the system clock to the microsecond), without building a datetime."""
    return time.time_ns() // 1000


def days_to_us(days: float) -> int:
    return round(days * US_PER_DAY)
