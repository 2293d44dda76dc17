"""Standings of one subject (live, or read from the materialized table), with what due
process does to them (dueprocess/effects.py), for whoever may read them."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from socialcredit.dueprocess import access, consent, effects
from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.ledger.schema import standings as standings_table
from socialcredit.ledger.versions import choose_program, pick_version, program_names
from socialcredit.principals import Forbidden
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring import reference
from socialcredit.scoring.exact import evaluate
from socialcredit.scoring.materialized import exact_row, write_refreshed
from socialcredit.scoring.standing import RulebookRef, Standing, assemble
from socialcredit.service.context import Context, Reads
from socialcredit.service.standing_cache import Row
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
    # one read of the published versions (each read asks the database whether another
    # was published): what resolve_program, version_in_force and program_versions give
    versions = ledger.program_versions(None, conn)
    name = choose_program(program_names(versions), program)
    history = [v for v in versions if v.program == name]
    pv = pick_version(history, name, t, k)
    kind = ledger.subject_kind(subject, k, conn)
    # kept between reads by the process's cache, checked against this transaction
    records = ctx.cache.records(conn, subject) if ctx.cache is not None \
        else ledger.records_of(subject, conn)
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


def _listing_periods(rb: Rulebook, program: str, st: Standing, records: list[Record],
                     fx: list[effects.Effect], t: int, k: int, now: int,
                     history: list[ProgramVersion]) -> list[tuple[int, int | None]]:
    """A subject's listings in force over time up to t, as known at k. Without due
    process effects a record's listing is in force from its start to its end; with them
    the standing is asked at each instant where an effect on that record begins or ends
    (in force on a stretch iff in force at its start: holds change nothing else)."""
    out: list[tuple[int, int | None]] = [
        (e.start, None) for e in st.list_entries if e.record_id is None and e.start is not None]
    entries = reference.record_listings(rb, st.subject_kind, records, t, k, history=history)
    if not entries:
        return out
    if not fx:
        return out + [(e.start, e.end if e.end is not None and e.end <= t else None)
                      for e in entries if e.start is not None]
    cache: dict[int, set[tuple[str, str | None]]] = {}

    def in_force(at: int) -> set[tuple[str, str | None]]:
        if at not in cache:
            got = compute(rb, program, st.subject, st.subject_kind, records, fx, at, k, now,
                          history)
            cache[at] = {(e.list, e.record_id) for e in got.list_entries}
        return cache[at]

    for e in entries:
        assert e.start is not None
        end = e.end if e.end is not None and e.end <= t else None
        mine = [f for f in fx if f.record_id == e.record_id]
        cuts = {e.start} | {x for f in mine for x in (f.start_at, f.end_at) if x is not None}
        if e.notice_from is not None:  # a delivered notice's hold runs a notice period on
            cuts |= {f.end_at + (e.start - e.notice_from) for f in mine
                     if f.kind == "delay" and f.end_at is not None}
        stops = sorted(c for c in cuts if e.start <= c < (end if end is not None else t + 1))
        begun: int | None = None
        for i, c in enumerate(stops):
            on = (e.list, e.record_id) in in_force(c)
            if on and begun is None:
                begun = c
            elif not on and begun is not None:
                out.append((begun, c))
                begun = None
            if i == len(stops) - 1 and begun is not None:
                out.append((begun, end))
    return out


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

    def _logged(self, st: Standing, operation: str, *,
                writeback: Materialized | None = None, **kw: Any) -> None:
        """The access-log entry of a read (none for the subject's own), with a
        materialized row the read recomputed."""
        logged = not self.ctx.principal.is_subject(st.subject)
        if not logged and (writeback is None or writeback.writeback is None):
            return
        with self.ctx.write() as conn:
            if writeback is not None:
                writeback.write(conn)
            if logged:
                access.record(conn, self.ctx.ledger.tick(conn), self.ctx.principal,
                              operation, st.subject, program=st.program, **kw)

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
        return self._population(program, at, known_at, history=False)[0]

    def with_listing_history(self, program: str | None = None
                             ) -> tuple[list[Standing], list[tuple[int, int | None]]]:
        """Every subject's standing now, and every listing's periods in force as the
        ledger knows them now — those that ended included: (start, end or None while
        in force). A record's listing counts while due process does not hold it back
        (an objection running, a notice undelivered, a repair granted); a score list's
        members only now (their past would need every score at every past instant). One
        read of the ledger, one access-log entry, as `all`."""
        return self._population(program, None, None, history=True)

    def _population(self, program: str | None, at: int | None, known_at: int | None, *,
                    history: bool
                    ) -> tuple[list[Standing], list[tuple[int, int | None]]]:
        self.ctx.allow("standings.all")
        ledger = self.ctx.ledger
        with self.ctx.read() as conn:
            committed = ledger.committed(conn)
            now = max(ledger.clock(), committed)
            t = now if at is None else at
            k = min(t, committed) if known_at is None else known_at
            name = ledger.resolve_program(program, conn)
            rb = ledger.version_in_force(name, t, k, conn).rulebook
            versions = ledger.program_versions(name, conn)
            by_subject: dict[str, list[Record]] = {}
            for r in ledger.all_records(conn):
                by_subject.setdefault(r.subject, []).append(r)
            subjects = ledger.all_subjects(k, conn)
            fx = effects.of_all(conn)
        out = [compute(rb, name, subj, kind, by_subject.get(subj, []), fx.get(subj, []), t, k,
                       now, versions) for subj, kind in subjects]
        periods: list[tuple[int, int | None]] = []
        if history:
            for st in out:
                recs = by_subject.get(st.subject, [])
                periods += _listing_periods(rb, name, st, recs, fx.get(st.subject, []), t, k,
                                            now, versions)
        with self.ctx.write() as conn:
            access.record(conn, ledger.tick(conn), self.ctx.principal, "standings.all", None,
                          program=name, detail={"at": format_instant(t),
                                                "subjects": len(out)})
        return out, periods

    def tier_counts(self, program: str | None = None) -> dict[str, Any] | None:
        """How many subjects the materialized table has in each tier and on some list —
        an aggregate for dashboards, read in one statement rather than by scoring the
        whole population — or None when the table has no row for the program. Rows are
        as of their last computation (the last `score --all`, or an ingest's refresh);
        `as_of` says the latest. Nobody's data is read one by one, so it is not an entry
        in anyone's access log."""
        self.ctx.allow("standings.all")
        ledger = self.ctx.ledger
        c = standings_table.c
        with self.ctx.read() as conn:
            name = ledger.resolve_program(program, conn)
            # few distinct (tier, lists) pairs exist, however many subjects
            rows = conn.execute(
                select(c.tier, c.lists, func.count(), func.max(c.computed_at))
                .where(c.program == name).group_by(c.tier, c.lists)).all()
        if not rows:
            return None
        tiers: dict[str, int] = {}
        listings = 0
        for tier, lists, n, _ in rows:
            key = tier if tier is not None else "—"
            tiers[key] = tiers.get(key, 0) + int(n)
            listings += len(json.loads(lists)) * int(n)
        return {"program": name, "subjects": sum(tiers.values()), "tiers": tiers,
                "listings": listings,
                "as_of": format_instant(max(int(r[3]) for r in rows))}

    def materialized(self, subject: str, program: str | None = None) -> Standing | None:
        """The subject's row of the materialized standings table (kept current by ingest),
        as a Standing without its record-level explanation, evaluated now (exact: see
        `materialized_standing`); None when there is no row. A subject with due-process
        effects (a suspended listing, a lapsed objection, a repair) gets its live standing
        instead: the table does not know them."""
        subject = self.ctx.subject_id(subject)
        self._full_reader(subject)
        found = materialized_standing(self.ctx, subject, program)
        if found is None:
            return None
        self._logged(found.standing, "standing", writeback=found)
        return found.standing


@dataclass(frozen=True)
class Materialized:
    """A standing read from the materialized table (or computed live where due process
    touches the subject), the version it is under, and — when the row had to be
    recomputed — the row to write back with the caller's next write."""

    standing: Standing
    source: str  # "materialized" or "live"
    version: ProgramVersion
    writeback: dict[str, Any] | None = None

    def write(self, conn: Connection) -> None:
        if self.writeback is not None:
            write_refreshed(conn, self.writeback)


def _usable(row: Row, pv: ProgramVersion, latest_publication: int, t: int, k: int) -> bool:
    """Whether the row gives the standing at (t, k) exactly: computed under the version
    in force, no version published since, and t within what keeps it exact (a row
    without terms — a Spark run's, or a run's as known before its last commit — only at
    its own instant)."""
    if row.sha256 != pv.sha256 or latest_publication > row.known_at or row.known_at > k:
        return False
    if row.terms is None:
        return row.at == t and row.known_at == k
    return row.terms.valid(t)


def materialized_standing(ctx: Context, subject: str, program: str | None = None,
                          reads: Reads | None = None) -> Materialized | None:
    """The subject's standing now from its materialized row, exact at any time: the row
    is evaluated at now (decay applied) while now is before its next discrete change,
    else recomputed from the ledger first (returned as `writeback`). A subject with
    due-process effects gets its live standing: the table does not record them. None
    without a row. Rows come through the process's cache (service/standing_cache.py);
    whatever must be read from the database is read in one transaction, `reads`' (a
    decision shares it with its consent look-up). A row the cache gives whole
    (`StandingCache.remembered`) is read from memory; the rest of this function is the
    plain path, which tests hold it equal to."""
    if reads is None:
        with ctx.reads() as own:
            return materialized_standing(ctx, subject, program, own)
    ledger = ctx.ledger
    cache = ctx.cache
    assert cache is not None
    cache.sync(reads)
    generation = cache.generations_for(reads)[0]
    got = cache.remembered(program, subject, ledger.clock())
    if got is not None:
        return Materialized(got[0], "materialized", got[1])
    committed = cache.committed()
    t = max(ledger.clock(), committed)
    k = min(t, committed)
    name = cache.program(program)
    row = cache.get(name, subject)
    if row is None:
        row = cache.load(reads.conn(), name, subject)
        if row is None:
            return None
        cache.put(row, generation)
    if row.due_process(t):
        st, pv = standing_at(ctx, subject, name, conn=reads.conn())
        st.notes.append("computed live: due process changes this subject's standing "
                        "in ways the materialized table does not record")
        return Materialized(st, "live", pv)
    pv = cache.version_in_force(name, t, k)
    writeback = None
    if not _usable(row, pv, cache.latest_publication(name), t, k):
        conn = reads.conn()
        history = ledger.program_versions(name, conn)
        pv = pick_version(history, name, t, k)
        writeback, _, terms = exact_row(ledger, conn, pv.rulebook, name, subject, t, k,
                                        history)
        row = dataclasses.replace(
            row, subject_kind=writeback["subject_kind"], version=pv.version,
            sha256=pv.sha256, at=t, known_at=k, score=writeback["score"],
            tier=writeback["tier"], dimensions=json.loads(writeback["dimensions"]),
            lists=json.loads(writeback["lists"]), computed_at=k, terms=terms, note="")
        cache.put(row, generation)
    rb = pv.rulebook
    if row.terms is not None:
        ev = evaluate(rb, row.terms, t)
        score, tier, dims, lists = ev.score, ev.tier, ev.dimensions, ev.lists
    else:
        score, tier, dims, lists = row.score, row.tier, dict(row.dimensions), list(row.lists)
    ref = rb.memo.get(("ref", name))
    if ref is None or ref.version != pv.version or ref.sha256 != pv.sha256:
        ref = rb.memo[("ref", name)] = RulebookRef(name, pv.version, pv.sha256)
    # built as Standing(...) would (scoring/standing.py: assemble)
    st = assemble(Standing, {
        "subject": subject, "subject_kind": row.subject_kind, "program": name, "at": t,
        "known_at": k, "applies": rb.applies_to(row.subject_kind), "score": score,
        "tier": tier, "dimensions": dims, "lists": lists, "list_entries": [],
        "pending": [], "contributions": [], "attributes": [], "key_factors": [],
        "rulebook": ref, "notes": [row.note]})
    return Materialized(st, "materialized", pv, writeback)


__all__ = ["Materialized", "Standings", "compute", "materialized_standing", "public_lists",
           "standing_at"]
