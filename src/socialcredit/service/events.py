"""What the public log learns from stored records: listings, voids, listing-ending
resolutions. Leaves carry commitments, never subject ids (transparency/events.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from socialcredit.errors import LedgerError
from socialcredit.events import Event, EventSink
from socialcredit.ledger import schema as s
from socialcredit.ledger.store import Ledger
from socialcredit.ledger.validate import Row
from socialcredit.rulebook.model import ListDef
from socialcredit.timeutil import days_to_us, format_instant


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


def listing_events(ledger: Ledger, sink: EventSink, conn: Connection, rows: Sequence[Row],
                   now: int) -> list[Event]:
    """The events of records just stored. A record's listings follow the lists of the
    versions in force when it was recorded (a backfilled record: its own recorded_at)."""
    trigger_types = {x.enter_when.record for pv in ledger.program_versions(None, conn)
                     for x in pv.rulebook.lists if x.enter_when.record}
    if not trigger_types or not any(
            r.type in trigger_types or r.kind in ("void", "resolution") for r in rows):
        return [Event("record.void", _void(sink, conn, r, now)) for r in rows
                if r.kind == "void" and r.ref]
    in_file = {r.record_id: r.type for r in rows}
    missing = sorted({r.ref for r in rows if r.ref and r.ref not in in_file})
    c = s.records.c
    ref_type = dict(in_file)
    ref_type.update({row[0]: row[1] for row in ledger.fetch_by(conn, c.record_id, missing,
                                                                c.record_id, c.type)})
    cache: dict[int, dict[str, list[tuple[str, ListDef]]]] = {}

    def triggers(at: int) -> dict[str, list[tuple[str, ListDef]]]:
        if at not in cache:
            cache[at] = _triggers_at(ledger, conn, at, now)
        return cache[at]

    events: list[Event] = []
    for r in rows:
        at = r.recorded_at if r.recorded_at is not None else now
        if r.type in trigger_types:
            for program, x in triggers(at).get(r.type, ()):
                start = at + days_to_us(x.notice)
                end = start + days_to_us(x.max_duration) if x.max_duration else None
                events.append(Event("list.entry", {
                    "program": program, "list": x.id,
                    "commitment": sink.commitment(conn, r.subject),
                    "start": format_instant(start), "end": format_instant(end),
                    "reasons": [r.record_id], "notice_from": format_instant(at)}))
        if r.kind == "void" and r.ref:
            payload = _void(sink, conn, r, now)
            events.append(Event("record.void", payload))
            for program, x in triggers(at).get(ref_type.get(r.ref, ""), ()):
                events.append(Event("list.exit", {
                    "program": program, "list": x.id, "commitment": payload["commitment"],
                    "end": format_instant(at), "reason": "void", "record_id": r.ref}))
        elif r.kind == "resolution" and r.ref:
            for program, x in triggers(at).get(ref_type.get(r.ref, ""), ()):
                commitment = sink.commitment(conn, r.subject)
                events.append(Event("record.resolution", {
                    "program": program, "list": x.id, "commitment": commitment,
                    "record_id": r.ref, "resolution_record_id": r.record_id,
                    "occurred_at": format_instant(r.occurred_at)}))
                events.append(Event("list.exit", {
                    "program": program, "list": x.id, "commitment": commitment,
                    "end": format_instant(r.occurred_at), "reason": "resolution",
                    "record_id": r.ref}))
    return events


def _void(sink: EventSink, conn: Connection, r: Row, now: int) -> dict[str, Any]:
    at = r.recorded_at if r.recorded_at is not None else now
    return {"commitment": sink.commitment(conn, r.subject), "record_id": r.ref,
            "void_record_id": r.record_id, "at": format_instant(at)}


__all__ = ["listing_events"]
