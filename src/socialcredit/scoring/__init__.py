"""Standings: score, dimensions, tier and lists of one subject under one program."""

from __future__ import annotations

from socialcredit.ledger.model import ProgramVersion
from socialcredit.ledger.store import Ledger
from socialcredit.scoring import reference
from socialcredit.scoring.standing import Standing
from socialcredit.timeutil import format_instant


def compute_standing(ledger: Ledger, subject: str, program: str | None = None,
                     at: int | None = None, known_at: int | None = None) -> Standing:
    """standing(subject, at = t, known_at = k; default k = t) under the version in force.

    `at` defaults to now; a future `at` is a projection with nothing more recorded.
    """
    return standing_in_force(ledger, subject, program, at, known_at)[0]


def standing_in_force(ledger: Ledger, subject: str, program: str | None = None,
                      at: int | None = None, known_at: int | None = None
                      ) -> tuple[Standing, ProgramVersion]:
    """The standing and the program version it was computed under, on one connection.

    "Now" is the ledger's clock (never earlier than anything recorded), the same instant
    ingest stamps records with and materialized standings are computed for."""
    with ledger.engine.connect() as conn:
        now = ledger.tick(conn)
        t = now if at is None else at
        k = t if known_at is None else known_at
        name = ledger.resolve_program(program, conn)
        pv = ledger.version_in_force(name, t, k, conn)
        kind = ledger.subject_kind(subject, k, conn)
        records = ledger.records_of(subject, conn)
    st = reference.standing(pv.rulebook, subject, kind, records, t, k, program=name, now=now)
    if kind is None:
        st.notes.append(f"subject {subject!r} has no records in this ledger (as known at "
                        f"{format_instant(k)})")
    return st, pv


def reference_all(ledger: Ledger, program: str | None = None, at: int | None = None,
                  known_at: int | None = None) -> list[Standing]:
    """Every subject's standing with the reference engine, reading the ledger once.

    For small populations and as an oracle; the batch engine is the fast path.
    """
    from sqlalchemy import select

    from socialcredit.ledger import schema as s
    from socialcredit.ledger.model import Record

    now = ledger.clock()
    t = now if at is None else at
    k = t if known_at is None else known_at
    name = ledger.resolve_program(program)
    rb = ledger.version_in_force(name, t, k).rulebook
    c = s.records.c
    by_subject: dict[str, list[Record]] = {}
    with ledger.engine.connect() as conn:
        for row in conn.execute(select(c.record_id, c.provider, c.subject, c.type, c.kind,
                                       c.occurred_at, c.recorded_at, c.value_num, c.value_text,
                                       c.evidence, c.ref)):
            by_subject.setdefault(row[2], []).append(Record(*row))
    return [reference.standing(rb, subj, kind, by_subject.get(subj, ()), t, k, program=name,
                               now=now) for subj, kind in ledger.all_subjects(k)]


__all__ = ["Standing", "compute_standing", "reference_all", "standing_in_force"]
