"""Time as the contract defines it.

Instants are stored as integer microseconds since the Unix epoch, UTC: exact, ordered,
cheap to compare in SQL and in columnar engines alike. Durations are days (float).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

US_PER_DAY = 86_400_000_000
US_PER_SECOND = 1_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# "The beginning of time" for a program's first version: far before any record.
BEGINNING_OF_TIME = -(2**62)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwy])\s*$")
_UNIT_DAYS = {"d": 1.0, "w": 7.0, "y": 365.0}
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_duration_days(value: object) -> float:
    """`<n>d`, `<n>w` (7 d), `<n>y` (365 d), or an integer number of days."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"duration must not be negative: {value!r}")
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * _UNIT_DAYS[m.group(2)]
        if value.strip().isdigit():
            return float(int(value))
    raise ValueError(f"not a duration (use <n>d, <n>w, <n>y or days): {value!r}")


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
    return to_us(dt)


_ONE_US = timedelta(microseconds=1)


def to_us(dt: datetime) -> int:
    return (dt - EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def format_instant(us: int | None) -> str | None:
    """UTC ISO 8601 with a Z, seconds precision unless sub-second parts exist."""
    if us is None:
        return None
    if us <= BEGINNING_OF_TIME:
        return "-infinity"
    dt = from_us(us)
    text = dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def now_us() -> int:
    return to_us(datetime.now(UTC))


def days_to_us(days: float) -> int:
    return round(days * US_PER_DAY)
