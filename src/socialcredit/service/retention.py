"""Retention runs (scheduled by the operator): erase the personal data of records whose
publication period has ended and that nothing needs any more.

A record is erased when, under every program in force that declares its type, it counts
no more and cannot count again (every rule and attribute scoring it has expired, every
listing it triggered has ended — as the engine's standing now shows — or it was voided or
repaired), and no case about it is open. Resolutions and voids that refer to it go with
it. Each erasure keeps a tombstone (record id, SHA-256 of its content, the subject's log
commitment), leaves a `record.erased` leaf in the public log, and marks standings at the
times it counted as erased. What notices and closed cases kept about it is erased too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from socialcredit.dueprocess import cases as case_store
from socialcredit.dueprocess import effects
from socialcredit.dueprocess import notices as notice_store
from socialcredit.dueprocess.retention import publication_end, tombstone
from socialcredit.errors import LedgerError
from socialcredit.events import Event
from socialcredit.ledger.model import Record
from socialcredit.rulebook.model import Rulebook
from socialcredit.service.context import Context
from socialcredit.service.files import counting as counting_ids
from socialcredit.service.standings import standing_at
from socialcredit.timeutil import format_instant


def _rulebooks(ctx: Context, conn: Connection, now: int) -> dict[str, Rulebook]:
    out = {}
    for program in ctx.ledger.programs(conn):
        try:
            out[program] = ctx.ledger.version_in_force(program, now, now, conn).rulebook
        except LedgerError:
            continue
    return out


def erasable(ctx: Context, conn: Connection, subject: str, records: list[Record],
             rbs: dict[str, Rulebook], now: int) -> list[tuple[Record, int]]:
    """(record, published_until) of the subject's records retention may erase now."""
    live: set[str] = set()
    for program in rbs:
        st, _ = standing_at(ctx, subject, program, now, now, conn)
        live |= counting_ids(st)
    fx = effects.of(conn, subject)
    ended_early = {e.record_id for e in fx if e.kind in ("repair", "withdraw")}
    voided = {r.ref for r in records if r.kind == "void" and r.ref}
    busy = case_store.open_on(conn, [r.record_id for r in records])
    out = []
    for r in records:
        if r.kind not in ("conduct", "fact") or r.record_id in live or r.record_id in busy:
            continue
        declaring = [rb for rb in rbs.values() if r.type in rb.types]
        if not declaring:
            continue
        end = publication_end(r, declaring)
        withdrawn = r.record_id in voided or r.record_id in ended_early
        if withdrawn:
            out.append((r, end if end is not None else now))
        elif end is not None and end <= now and any(
                r.type in rb.scored_types or r.type in rb.list_types for rb in declaring):
            out.append((r, end))
    return out


class Retention:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def run(self) -> dict[str, Any]:
        """One retention run at the ledger's clock: what was erased, per subject."""
        ctx = self.ctx
        ctx.allow("retention.run")
        ledger = ctx.ledger
        erased: list[dict[str, Any]] = []
        with ctx.write() as conn:
            now = ledger.tick(conn)
            rbs = _rulebooks(ctx, conn, now)
            events: list[Event] = []
            for subject, _kind in ledger.all_subjects(None, conn):
                records = ledger.records_of(subject, conn)
                chosen = erasable(ctx, conn, subject, records, rbs, now)
                if not chosen:
                    continue
                ids = {r.record_id for r, _ in chosen}
                with_refs = chosen + [(r, until) for r0, until in chosen for r in records
                                      if r.ref == r0.record_id and r.record_id not in ids]
                commitment = ctx.sink.commitment(conn, subject)
                for r, until in with_refs:
                    sha = tombstone(conn, r, commitment, until, now)
                    effects.add(conn, [effects.Effect(subject, r.record_id, "erased",
                                                      r.recorded_at, until)])
                    events.append(Event("record.erased", {
                        "commitment": commitment, "record_id": r.record_id,
                        "record_sha256": sha, "at": format_instant(now)}))
                    erased.append({"subject": subject, "record_id": r.record_id,
                                   "record_sha256": sha})
                gone = [r.record_id for r, _ in with_refs]
                notice_store.scrub(conn, gone)
                for c in case_store.of_subject(conn, subject):
                    if c.record_id in ids and not c.is_open:
                        c.detail = {"erased": True}
                        store_grounds_erased(conn, c)
                        case_store.erase_attachments(conn, c.case_id)
                ledger.erase_records(conn, gone)
            ctx.sink.emit(conn, events)
            ledger.operation(conn, "retention.run", {"erased": len(erased)})
        return {"at": format_instant(now), "erased": len(erased), "records": erased}


def store_grounds_erased(conn: Connection, c: case_store.Case) -> None:
    """A closed case about an erased record keeps its dates and outcome, not the words."""
    from sqlalchemy import update

    from socialcredit.dueprocess.schema import cases

    conn.execute(update(cases).where(cases.c.case_id == c.case_id).values(
        grounds=None, detail='{"erased": true}'))


__all__ = ["Retention", "erasable"]
