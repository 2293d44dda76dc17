"""Standings of one subject (live, or read from the materialized table), with what due
process does to them (dueprocess/effects.py), for whoever may read them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from socialcredit.dueprocess import access, consent, effects
from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.principals import Forbidden
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring import reference
from socialcredit.scoring.materialized import read_standing
from socialcredit.scoring.standing import RulebookRef, Standing
from socialcredit.service.context import Context
from socialcredit.timeutil import format_instant


def standing_at(ctx: Context, subject: str, program: str | None = None,
                at: int | None = None, known_at: int | None = None,
                conn: Connection | None = None) -> tuple[Standing, ProgramVersion]:
    """The standing under the version in force, due process applied — for other service
    operations (they have authorized their caller and normalized the subject id). One
    connection for every read.

    "Now" is the ledger's clock (never earlier than anything recorded), the same instant
    ingest stamps records with and materialized standings are computed for. What is
    known "now" is what has committed: an ingest in flight will stamp a later
    transaction time, so this standing reproduces exactly afterwards."""
    if conn is None:
        with ctx.read() as own:
            return standing_at(ctx, subject, program, at, known_at, own)
    ledger = ctx.ledger
    committed = ledger.committed(conn)
    now = max(ledger.clock(), committed)
    t = now if at is None else at
    k = min(t, committed) if known_at is None else known_at
    name = ledger.resolve_program(program, conn)
    pv = ledger.version_in_force(name, t, k, conn)
    history = ledger.program_versions(name, conn)
    kind = ledger.subject_kind(subject, k, conn)
    records = ledger.records_of(subject, conn)
    fx = effects.of(conn, subject)
    st = compute(pv.rulebook, name, subject, kind, records, fx, t, k, now, history)
    if kind is None:
        st.notes.append(f"subject {subject!r} has no records in this ledger (as known at "
                        f"{format_instant(k)})")
    return st, pv


def compute(rb: Rulebook, program: str, subject: str, kind: str | None,
            records: list[Record], fx: list[effects.Effect], t: int, k: int,
            now: int, history: list[ProgramVersion] | None = None) -> Standing:
    """The reference engine (under the program's versions: no retroactive punishment)
    between the due-process overlay's input and output."""
    if not fx:
        return reference.standing(rb, subject, kind, records, t, k, program=program, now=now,
                                  history=history)
    st = reference.standing(rb, subject, kind, effects.engine_input(records, fx, subject, t, k),
                            t, k, program=program, now=now, history=history)
    return effects.apply(st, fx, rb, t, k)


def public_lists(rb: Rulebook) -> set[str]:
    return {x.id for x in rb.lists if x.public}


class Standings:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _full_reader(self, subject: str) -> None:
        self.ctx.allow("standings.read", subject)
        if self.ctx.principal.role == "relying_party":
            raise Forbidden("a relying party sees a standing only as its consent grant "
                            "allows (ask for the view of a standing)")

    def _logged(self, st: Standing, operation: str, **kw: Any) -> None:
        with self.ctx.write() as conn:
            access.record(conn, self.ctx.ledger.tick(conn), self.ctx.principal, operation,
                          st.subject, program=st.program, **kw)

    def of(self, subject: str, program: str | None = None, at: int | None = None,
           known_at: int | None = None) -> Standing:
        """standing(subject, at = t, known_at = k) under the version in force; `at`
        defaults to now, `known_at` to the earlier of t and the last committed
        transaction time, and a future `at` is a projection."""
        return self.in_force(subject, program, at, known_at)[0]

    def in_force(self, subject: str, program: str | None = None, at: int | None = None,
                 known_at: int | None = None) -> tuple[Standing, ProgramVersion]:
        """The standing and the program version it was computed under. Read by anyone
        but the subject, it is an entry in the subject's access log."""
        subject = self.ctx.subject_id(subject)
        self._full_reader(subject)
        st, pv = standing_at(self.ctx, subject, program, at, known_at)
        self._logged(st, "standing")
        return st, pv

    def view(self, subject: str, program: str | None = None, at: int | None = None,
             known_at: int | None = None, *, purpose: str | None = None,
             grant: str | None = None) -> dict[str, Any]:
        """The standing as the acting principal may see it: whole for the subject, the
        operator, auditors and reviewers; for a relying party, what its consent grant's
        scope allows (`tier`, `score`, `explanation`), or without a grant the subject's
        public-list memberships only."""
        subject = self.ctx.subject_id(subject)
        self.ctx.allow("standings.read", subject)
        st, pv = standing_at(self.ctx, subject, program, at, known_at)
        body = st.as_dict()
        grant_id = None
        if self.ctx.principal.role == "relying_party":
            with self.ctx.read() as conn:
                g = consent.find(conn, subject, self.ctx.principal.id, self.ctx.ledger.tick(conn),
                                 purpose=purpose, grant_id=grant)
            level = g.scope if g is not None else "lists"
            grant_id = g.grant_id if g is not None else None
            purpose = purpose if purpose is not None else (g.purpose if g else None)
            body = consent.standing(body, level, public_lists(pv.rulebook))
        self._logged(st, "standing", purpose=purpose, grant_id=grant_id)
        return body

    def all(self, program: str | None = None, at: int | None = None,
            known_at: int | None = None) -> list[Standing]:
        """Every subject's standing with the reference engine, reading the ledger once:
        for small populations and as an oracle (the batch engine is the fast path). One
        access-log entry says the whole population was read."""
        self.ctx.allow("standings.all")
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
            fx = effects.of_all(conn)
        out = [compute(rb, name, subj, kind, by_subject.get(subj, []), fx.get(subj, []), t, k,
                       now, history) for subj, kind in subjects]
        with self.ctx.write() as conn:
            access.record(conn, ledger.tick(conn), self.ctx.principal, "standings.all", None,
                          program=name, detail={"at": format_instant(t),
                                                "subjects": len(out)})
        return out

    def materialized(self, subject: str, program: str | None = None) -> Standing | None:
        """The subject's row of the materialized standings table (kept current by ingest),
        as a Standing without its record-level explanation; None when there is no row.
        A subject with due-process effects (a suspended listing, a lapsed objection, a
        repair) gets its live standing instead: the table does not know them."""
        subject = self.ctx.subject_id(subject)
        self._full_reader(subject)
        found = materialized_standing(self.ctx, subject, program)
        if found is None:
            return None
        self._logged(found[0], "standing")
        return found[0]


def materialized_standing(ctx: Context, subject: str, program: str | None = None
                          ) -> tuple[Standing, str] | None:
    """(standing, "materialized") from the table, or (standing, "live") for a subject
    with due-process effects; None without a row."""
    ledger = ctx.ledger
    with ctx.read() as conn:
        name = ledger.resolve_program(program, conn)
        row = read_standing(conn, name, subject)
        if row is not None and effects.has_any(conn, subject, row["at"]):
            st, _ = standing_at(ctx, subject, name, conn=conn)
            st.notes.append("computed live: due process changes this subject's standing "
                            "in ways the materialized table does not record")
            return st, "live"
    if row is None:
        return None
    return Standing(
        subject=subject, subject_kind=row["subject_kind"], program=name, at=row["at"],
        known_at=row["known_at"], applies=True, score=row["score"], tier=row["tier"],
        dimensions=row["dimensions"], lists=row["lists"], list_entries=[], pending=[],
        contributions=[], attributes=[], key_factors=[],
        rulebook=RulebookRef(name, row["version"], row["sha256"]),
        notes=[f"standing read from the materialized table, computed for "
               f"{format_instant(row['at'])}; the live standing explains it"]), "materialized"


__all__ = ["Standings", "compute", "materialized_standing", "public_lists", "standing_at"]
