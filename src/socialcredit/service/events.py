"""What the public log learns from stored records: listings, voids, listing-ending
resolutions. Leaves carry commitments, never subject ids (transparency/events.py).

A `list.entry` leaf states the dates the standing shows (scoring.reference computes both
with `listing_interval`): notice from the moment this ledger knew the record, and for
conduct that occurred under an earlier version, only what that version would have
listed too (no retroactive punishment). A listing that would never take effect — a
backfilled record whose listing would have ended before its notice runs out — gets no
leaf.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection

from socialcredit.errors import LedgerError
from socialcredit.events import Event, EventSink
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.ledger.store import Ledger
from socialcredit.ledger.validate import Row
from socialcredit.ledger.versions import version_at
from socialcredit.rulebook.model import ListDef
from socialcredit.scoring.reference import listing_interval
from socialcredit.timeutil import format_instant


def _triggers_at(ledger: Ledger, conn: Connection, at: int, known_at: int
                 ) -> dict[str, list[tuple[str, ListDef]]]:
    """record type -> (program, list) it triggers under the versions in force at `at`."""
    out: dict[str, list[tuple[str, ListDef]]] = {}
    for program in ledger.programs(conn):
        try:
            rb = ledger.version_in_force(program, at, known_at, conn).rulebook
        except LedgerError:  # not in force yet at that time: it lists nobody then
            continue
        for x in rb.lists:
            if x.enter_when.record:
                out.setdefault(x.enter_when.record, []).append((program, x))
    return out


def as_record(r: Row, now: int) -> Record:
    """A validated row as the record it is stored as (for the listing dates)."""
    recorded = r.recorded_at if r.recorded_at is not None else now
    return Record(r.record_id, r.provider, r.subject, r.type, r.kind, r.occurred_at,
                  recorded, r.value_num, r.value_text, r.evidence, r.ref, r.ingested_at)


def listing_events(ledger: Ledger, sink: EventSink, conn: Connection, rows: Sequence[Row],
                   now: int, *, shared: bool = True) -> list[Event]:
    """The events of records just stored (their transaction time is `now`, or for a
    backfill their own recorded_at). A record's listings follow the lists of the
    versions in force when the ledger knew it. Commitments are filled in at the end,
    all in one bulk call of the sink (one statement, not one per subject), and only for
    subjects that an event names. `shared`: records alike in type and instants share
    their listings' dates, computed once (False: computed for each record, the plain
    path ingest's fast-path test holds it equal to)."""
    named: list[tuple[dict[str, Any], str]] = []  # (payload, subject) awaiting a commitment

    def about(payload: dict[str, Any], subject: str) -> dict[str, Any]:
        named.append((payload, subject))
        return payload

    events = _listing_events(ledger, conn, rows, now, about, shared)
    if named:
        commitments = sink.commitments(conn, {subject for _, subject in named})
        for payload, subject in named:
            payload["commitment"] = commitments[subject]
    return events


def _listing_events(ledger: Ledger, conn: Connection, rows: Sequence[Row], now: int,
                    about: Callable[[dict[str, Any], str], dict[str, Any]],
                    shared: bool = True) -> list[Event]:
    trigger_types = {x.enter_when.record for pv in ledger.program_versions(None, conn)
                     for x in pv.rulebook.lists if x.enter_when.record}
    if not trigger_types or not any(
            r.type in trigger_types or r.kind in ("void", "resolution") for r in rows):
        return [Event("record.void", _void(r, now, about)) for r in rows
                if r.kind == "void" and r.ref]
    # the types of the records referenced: those in the file (only those ids kept), the
    # rest read from the ledger
    wanted = {r.ref for r in rows if r.ref}
    in_file = {r.record_id: r.type for r in rows if r.record_id in wanted} if wanted else {}
    missing = sorted({r.ref for r in rows if r.ref and r.ref not in in_file})
    c = s.records.c
    ref_type = dict(in_file)
    ref_type.update({row[0]: row[1] for row in ledger.fetch_by(conn, c.record_id, missing,
                                                                c.record_id, c.type)})
    cache: dict[int, dict[str, list[tuple[str, ListDef]]]] = {}
    histories: dict[str, list[ProgramVersion]] = {}

    def triggers(at: int) -> dict[str, list[tuple[str, ListDef]]]:
        if at not in cache:
            cache[at] = _triggers_at(ledger, conn, at, now)
        return cache[at]

    def history(program: str) -> list[ProgramVersion]:
        if program not in histories:
            histories[program] = [pv for pv in ledger.program_versions(program, conn)
                                  if pv.published_at <= now]
        return histories[program]

    # an ordinary ingest's listings share their instants (notice from now, start and
    # cap a list's notice and duration later): each distinct one is formatted once
    texts: dict[int | None, str | None] = {}

    def instant(us: int | None) -> str | None:
        text = texts.get(us, "")
        if text == "":
            text = texts[us] = format_instant(us)
        return text

    def listings(rec: Record) -> list[tuple[str, str, str | None, str | None, str | None]]:
        """(program, list, start, end, notice_from) of each listing `rec` causes: they
        depend on its type and instants only (listing_interval, version_at)."""
        out = []
        for program, x in triggers(rec.known_at).get(rec.type, ()):
            then = version_at(history(program), rec.occurred_at, now)
            got = listing_interval(x, rec, then.rulebook if then else None)
            if got is None:
                continue
            notice_from, start, cap = got
            if cap is not None and cap <= start:
                continue  # would never take effect
            out.append((program, x.id, instant(start), instant(cap), instant(notice_from)))
        return out

    # a batch's findings mostly share their type and instants (a day's judgments, stored
    # now): their listings' dates are computed once for each such key
    alike: dict[tuple[str, int, int, int | None], list[
        tuple[str, str, str | None, str | None, str | None]]] = {}
    events: list[Event] = []
    for r in rows:
        at = r.recorded_at if r.recorded_at is not None else now
        if r.type in trigger_types:
            key = (r.type, r.occurred_at, at, r.ingested_at)
            found = alike.get(key) if shared else None
            if found is None:
                found = listings(as_record(r, now))
                if shared:
                    alike[key] = found
            for program, list_id, start_at, end_at, notice_at in found:
                events.append(Event("list.entry", about({
                    "program": program, "list": list_id, "commitment": "",
                    "start": start_at, "end": end_at, "reasons": [r.record_id],
                    "notice_from": notice_at}, r.subject)))
        if r.kind == "void" and r.ref:
            events.append(Event("record.void", _void(r, now, about)))
            for program, x in triggers(at).get(ref_type.get(r.ref, ""), ()):
                events.append(Event("list.exit", about({
                    "program": program, "list": x.id, "commitment": "",
                    "end": format_instant(at), "reason": "void", "record_id": r.ref},
                    r.subject)))
        elif r.kind == "resolution" and r.ref:
            for program, x in triggers(at).get(ref_type.get(r.ref, ""), ()):
                events.append(Event("record.resolution", about({
                    "program": program, "list": x.id, "commitment": "",
                    "record_id": r.ref, "resolution_record_id": r.record_id,
                    "occurred_at": format_instant(r.occurred_at)}, r.subject)))
                events.append(Event("list.exit", about({
                    "program": program, "list": x.id, "commitment": "",
                    "end": format_instant(r.occurred_at), "reason": "resolution",
                    "record_id": r.ref}, r.subject)))
    return events


def _void(r: Row, now: int, about: Callable[[dict[str, Any], str], dict[str, Any]]
          ) -> dict[str, Any]:
    at = r.recorded_at if r.recorded_at is not None else now
    return about({"commitment": "", "record_id": r.ref, "void_record_id": r.record_id,
                  "at": format_instant(at)}, r.subject)


__all__ = ["as_record", "listing_events"]
