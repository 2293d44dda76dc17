"""Every bound on input, in one place (docs/semantics.md, "Limits", states them).

The same limits hold on SQLite and PostgreSQL: the database never sees a value it
would store on one and refuse on the other, so a file that ingests on one ingests on
both, and what is refused is refused with a located message, never a driver error.
"""

from __future__ import annotations

from socialcredit.identifiers.subject import MAX_ID_LENGTH
from socialcredit.timeutil import MAX_DURATION_DAYS, MAX_INSTANT, MIN_INSTANT

#: Longest free-text field of a record (evidence, a text value), in characters.
MAX_FIELD_CHARS = 4_096
#: Longest row of a record file (a CSV record or a JSONL line), in bytes.
MAX_ROW_BYTES = 64 * 1024
#: Numbers a record's value may hold: finite, |value| ≤ this. Far beyond any amount a
#: rule multiplies, and small enough that no sum of them can overflow a double.
MAX_VALUE = 1e12
#: Numbers a rulebook may hold (points, thresholds, scale bounds): |x| ≤ this.
MAX_RULEBOOK_NUMBER = 1e9
#: The supported range of instants: [1900-01-01, 2200-01-01) UTC, i.e. [MIN_INSTANT,
#: MAX_INSTANT) microseconds (timeutil.parse_instant refuses anything outside it).
MIN_YEAR = 1900
MAX_YEAR = 2200
#: The longest duration a rulebook may state (expiry, half-life, notice, listing) is
#: MAX_DURATION_DAYS, 100 years (timeutil.parse_duration_days refuses longer ones).
#: The longest any blacklisting may last: 5 years for a public listing (our bound, above
#: the 3 years for which the NDRC's 2026 credit-repair measures publish serious
#: information, so that a catalogue can be stricter but never longer), 10 years for a
#: listing that is not published (FCRA § 605(a)(1) reports a bankruptcy for 10 years).
MAX_PUBLIC_LISTING_DAYS = 5 * 365.0
MAX_LISTING_DAYS = 10 * 365.0
#: The longest any negative record may count (a rule's `expires`).
MAX_PENALTY_DAYS = 10 * 365.0
#: How far ahead of the ledger's clock a record's occurred_at may lie: clocks of
#: providers drift; more than this is a record of the future.
CLOCK_SKEW_SECONDS = 300

__all__ = ["CLOCK_SKEW_SECONDS", "MAX_DURATION_DAYS", "MAX_FIELD_CHARS", "MAX_ID_LENGTH",
           "MAX_INSTANT", "MAX_LISTING_DAYS", "MAX_PENALTY_DAYS", "MAX_PUBLIC_LISTING_DAYS",
           "MAX_ROW_BYTES", "MAX_RULEBOOK_NUMBER", "MAX_VALUE", "MAX_YEAR", "MIN_INSTANT",
           "MIN_YEAR"]
