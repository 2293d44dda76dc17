"""What due process does to a standing, as an overlay around the engine.

The engine (scoring/reference.py) knows records only. Due process adds facts that are
not records — an objection filed, a deadline passed, a repair granted, a notice not yet
delivered, a record erased — each an *effect* with the instant it became known. They act
bitemporally like records: an effect that started at s is known at k iff s ≤ k, and is
in force at t iff s ≤ t (system facts happen when they are recorded).

- `withdraw` (an objection not decided by its deadline): the record is treated as voided
  from the deadline on, exactly like a void recorded then (clause 3).
- `repair` (granted at g): from g on (g ≤ t and g ≤ k) the record no longer counts and its
  listings end.
- `suspend` (a timely objection, from its filing until its decision): the listings the
  record triggered are not in force while it runs.
- `delay` (a listing notice not yet delivered, where the rulebook says so): the listing
  is not in force until the notice is delivered and a whole notice period has passed.
- `erased` (retention): a standing at a time when the erased record still counted is
  marked erased.

The first two change what the engine reads; the next two move listings the engine found
into `suspended`, dates untouched (they come from the engine); the last marks the result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update

from socialcredit.db import in_keys
from socialcredit.dueprocess.schema import effects
from socialcredit.ledger.model import Record
from socialcredit.ledger.store import driver_rows
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.standing import ListEntry, Standing

KINDS = ("withdraw", "repair", "suspend", "delay", "erased")
LAPSE_PROVIDER = "dueprocess"


@dataclass(frozen=True)
class Effect:
    subject: str
    record_id: str
    kind: str
    start_at: int
    end_at: int | None = None
    program: str | None = None
    list_id: str | None = None
    case_id: str | None = None
    notice_id: str | None = None

    def concerns(self, program: str, list_id: str) -> bool:
        return (self.program is None or self.program == program) and (
            self.list_id is None or self.list_id == list_id)


# -- the store -----------------------------------------------------------------------------

def add(conn: Connection, rows: Sequence[Effect]) -> None:
    if rows:
        conn.execute(effects.insert(), [dataclasses.asdict(e) for e in rows])


_COLUMNS = "subject, record_id, kind, start_at, end_at, program, list_id, case_id, notice_id"


def of(conn: Connection, subject: str) -> list[Effect]:
    """The subject's effects (on the path of every standing: one driver-level query)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return [Effect(*r) for r in driver_rows(
        conn, f"SELECT {_COLUMNS} FROM {effects.name} WHERE subject = {mark} ORDER BY seq",
        (subject,))]


def of_subjects(conn: Connection, subjects: Sequence[str]) -> dict[str, list[Effect]]:
    """The effects of many subjects (an ingest's notices), in one statement."""
    if not subjects:
        return {}
    where, keys = in_keys(conn, "subject", subjects)
    out: dict[str, list[Effect]] = {}
    for r in conn.exec_driver_sql(
            f"SELECT {_COLUMNS} FROM {effects.name} WHERE {where} ORDER BY seq", (keys,)):
        out.setdefault(r[0], []).append(Effect(*r))
    return out


def of_all(conn: Connection) -> dict[str, list[Effect]]:
    out: dict[str, list[Effect]] = {}
    for r in conn.execute(select(effects).order_by(effects.c.seq)):
        e = _effect(r)
        out.setdefault(e.subject, []).append(e)
    return out


def has_any(conn: Connection, subject: str, at: int) -> bool:
    """Whether the subject has an effect that may change its standing at or after `at`
    (an erasure only matters for times before what it erased stopped counting)."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    rows = conn.exec_driver_sql(
        f"SELECT kind, end_at FROM {effects.name} WHERE subject = {mark}", (subject,))
    return any(kind != "erased" or (end is not None and end > at) for kind, end in rows)


def end(conn: Connection, *, case_id: str | None = None, notice_id: str | None = None,
        kind: str, at: int) -> None:
    """Close the open effects of a case (or a notice) of one kind at `at`."""
    c = effects.c
    q = update(effects).where(c.kind == kind, c.end_at.is_(None))
    q = q.where(c.case_id == case_id) if case_id is not None else q.where(
        c.notice_id == notice_id)
    conn.execute(q.values(end_at=at))


def cancel(conn: Connection, case_id: str, kind: str) -> None:
    """Drop an effect that never took hold (a lapse whose objection was decided in time)."""
    conn.execute(delete(effects).where(effects.c.case_id == case_id, effects.c.kind == kind))


def _effect(r: Any) -> Effect:
    return Effect(r.subject, r.record_id, r.kind, r.start_at, r.end_at, r.program, r.list_id,
                  r.case_id, r.notice_id)


# -- the overlay -------------------------------------------------------------------------

def engine_input(records: Iterable[Record], fx: Sequence[Effect], subject: str, t: int,
                 k: int) -> list[Record]:
    """The records the engine reads at (t, k): repaired records gone from their repair on,
    lapsed objections present as voids recorded at their deadline."""
    seen = min(t, k)
    repaired = {e.record_id for e in fx if e.kind == "repair" and e.start_at <= seen}
    out = [r for r in records if r.record_id not in repaired and r.ref not in repaired]
    for e in fx:
        if e.kind == "withdraw" and e.start_at <= k:
            out.append(Record(f"{LAPSE_PROVIDER}:lapse:{e.case_id}", LAPSE_PROVIDER, subject,
                              "", "void", e.start_at, e.start_at, ref=e.record_id))
    return out


def _held(e: ListEntry, fx: Sequence[Effect], program: str, rb: Rulebook, t: int,
          k: int) -> tuple[str, str | None] | None:
    if e.record_id is None:
        return None
    court_ordered = any(x.id == e.list and x.court_ordered for x in rb.lists)
    for f in fx:
        if f.record_id != e.record_id or not f.concerns(program, e.list):
            continue
        if f.kind == "suspend" and not court_ordered and f.start_at <= t and f.start_at <= k:
            ended = f.end_at is not None and f.end_at <= k and f.end_at <= t
            if not ended:
                return "objection", f.case_id
        elif f.kind == "delay" and rb.due.delays_undelivered() and f.start_at <= k:
            delivered = f.end_at if f.end_at is not None and f.end_at <= k else None
            window = (e.start - e.notice_from) if e.start is not None and \
                e.notice_from is not None else 0
            if delivered is None or t < delivered + window:
                return "undelivered_notice", f.notice_id
    return None


def apply(st: Standing, fx: Sequence[Effect], rb: Rulebook, t: int, k: int) -> Standing:
    """The engine's standing with listings held back by due process moved to `suspended`
    and erasures marked."""
    erased = any(f.kind == "erased" and f.start_at <= k and f.end_at is not None
                 and t < f.end_at for f in fx)
    if not fx:
        return st
    keep: list[ListEntry] = []
    held: list[dict[str, Any]] = []
    for e in st.list_entries:
        why = _held(e, fx, st.program, rb, t, k)
        if why is None:
            keep.append(e)
        else:
            held.append({"entry": e.as_dict(), "reason": why[0],
                         **({"case_id": why[1]} if why[0] == "objection" else
                            {"notice_id": why[1]})})
    if not held and not erased:
        return st
    notes = list(st.notes)
    for h in held:
        notes.append(f"listing {h['entry']['list']} (record {h['entry']['record_id']}) is not "
                     + ("in force while an objection to it is decided" if h["reason"] ==
                        "objection" else "in force until its notice has been delivered"))
    if erased:
        notes.append("a record that counted at this time has been erased at the end of its "
                     "publication period: this past standing cannot be reproduced")
    lists = [x for x in st.lists if any(e.list == x for e in keep)]
    return dataclasses.replace(st, list_entries=keep, lists=lists, suspended=held,
                               erased=erased, notes=notes)


__all__ = ["KINDS", "LAPSE_PROVIDER", "Effect", "add", "apply", "cancel", "end",
           "engine_input", "has_any", "of", "of_all"]
