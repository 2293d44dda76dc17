"""Standings: score, dimensions, tier and lists of one subject under one program."""

from __future__ import annotations

from socialcredit.ledger.store import Ledger
from socialcredit.scoring import reference
from socialcredit.scoring.standing import Standing


def compute_standing(ledger: Ledger, subject: str, program: str | None = None,
                     at: int | None = None, known_at: int | None = None) -> Standing:
    """standing(subject, at = t, known_at = k; default k = t) under the version in force.

    `at` defaults to now; a future `at` is a projection with nothing more recorded.
    """
    now = ledger.clock()
    t = now if at is None else at
    k = t if known_at is None else known_at
    name = ledger.resolve_program(program)
    pv = ledger.version_in_force(name, t, k)
    kind = ledger.subject_kind(subject)
    records = ledger.records_of(subject)
    st = reference.standing(pv.rulebook, subject, kind, records, t, k, program=name, now=now)
    if kind is None:
        st.notes.append(f"subject {subject!r} has no records in this ledger")
    return st


__all__ = ["Standing", "compute_standing"]
