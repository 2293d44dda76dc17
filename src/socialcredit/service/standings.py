"""Standings of one subject (live, or read from the materialized table)."""

from __future__ import annotations

from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.scoring import reference
from socialcredit.scoring.materialized import read_standing
from socialcredit.scoring.standing import RulebookRef, Standing
from socialcredit.service.context import Context
from socialcredit.timeutil import format_instant


class Standings:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def of(self, subject: str, program: str | None = None, at: int | None = None,
           known_at: int | None = None) -> Standing:
        """standing(subject, at = t, known_at = k) under the version in force; `at`
        defaults to now, `known_at` to the earlier of t and the last committed
        transaction time, and a future `at` is a projection."""
        return self.in_force(subject, program, at, known_at)[0]

    def in_force(self, subject: str, program: str | None = None, at: int | None = None,
                 known_at: int | None = None) -> tuple[Standing, ProgramVersion]:
        """The standing and the program version it was computed under, on one connection.

        "Now" is the ledger's clock (never earlier than anything recorded), the same
        instant ingest stamps records with and materialized standings are computed for.
        What is known "now" is what has committed: an ingest in flight will stamp a
        later transaction time, so this standing reproduces exactly afterwards."""
        ledger = self.ctx.ledger
        subject = self.ctx.subject_id(subject)
        with self.ctx.read() as conn:
            committed = ledger.committed(conn)
            now = max(ledger.clock(), committed)
            t = now if at is None else at
            k = min(t, committed) if known_at is None else known_at
            name = ledger.resolve_program(program, conn)
            pv = ledger.version_in_force(name, t, k, conn)
            history = ledger.program_versions(name, conn)
            kind = ledger.subject_kind(subject, k, conn)
            records = ledger.records_of(subject, conn)
        st = reference.standing(pv.rulebook, subject, kind, records, t, k, program=name,
                                now=now, history=history)
        if kind is None:
            st.notes.append(f"subject {subject!r} has no records in this ledger (as known at "
                            f"{format_instant(k)})")
        return st, pv

    def all(self, program: str | None = None, at: int | None = None,
            known_at: int | None = None) -> list[Standing]:
        """Every subject's standing with the reference engine, reading the ledger once:
        for small populations and as an oracle (the batch engine is the fast path)."""
        ledger = self.ctx.ledger
        with self.ctx.read() as conn:
            committed = ledger.committed(conn)
            now = max(ledger.clock(), committed)
            t = now if at is None else at
            k = min(t, committed) if known_at is None else known_at
            name = ledger.resolve_program(program, conn)
            rb = ledger.version_in_force(name, t, k, conn).rulebook
            history = ledger.program_versions(name, conn)
            by_subject: dict[str, list[Record]] = {}
            for r in ledger.all_records(conn):
                by_subject.setdefault(r.subject, []).append(r)
            subjects = ledger.all_subjects(k, conn)
        return [reference.standing(rb, subj, kind, by_subject.get(subj, ()), t, k,
                                   program=name, now=now, history=history)
                for subj, kind in subjects]

    def materialized(self, subject: str, program: str | None = None) -> Standing | None:
        """The subject's row of the materialized standings table (kept current by ingest),
        as a Standing without its record-level explanation; None when there is no row."""
        ledger = self.ctx.ledger
        subject = self.ctx.subject_id(subject)
        with self.ctx.read() as conn:
            name = ledger.resolve_program(program, conn)
            row = read_standing(conn, name, subject)
        if row is None:
            return None
        return Standing(
            subject=subject, subject_kind=row["subject_kind"], program=name, at=row["at"],
            known_at=row["known_at"], applies=True, score=row["score"], tier=row["tier"],
            dimensions=row["dimensions"], lists=row["lists"], list_entries=[], pending=[],
            contributions=[], attributes=[], key_factors=[],
            rulebook=RulebookRef(name, row["version"], row["sha256"]),
            notes=[f"standing read from the materialized table, computed for "
                   f"{format_instant(row['at'])}; the live standing explains it"])


__all__ = ["Standings"]
