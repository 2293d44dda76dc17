"""Notices to subjects (and alerts to the operator): stored as references, rendered on
demand from the ledger as it stood when the notice was made.

Kinds: `record` (a negative record, with the listings it starts), `listing.started`,
`decision.deny`, `case.filed`, `case.outcome` (objections, appeals and repair
applications alike), and `alert` (to the operator: a deadline missed, a notice that could
not be delivered).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, select, update

from socialcredit.dueprocess.schema import notices

KINDS = ("record", "listing.started", "decision.deny", "case.filed", "case.outcome", "alert")


@dataclass
class Notice:
    notice_id: str
    audience: str
    subject: str | None
    kind: str
    created_at: int
    program: str | None = None
    record_id: str | None = None
    case_id: str | None = None
    decision_id: str | None = None
    leaf_index: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def new(kind: str, subject: str | None, created_at: int, *, audience: str = "subject",
        notice_id: str | None = None, **kw: Any) -> Notice:
    return Notice(notice_id or uuid.uuid4().hex, audience, subject, kind, created_at, **kw)


def ids(n: int) -> list[str]:
    """n fresh notice ids at the cost of one random draw (ingest makes thousands): a
    random 64-bit prefix and a counter."""
    prefix = uuid.uuid4().hex[:16]
    return [f"{prefix}{i:016x}" for i in range(n)]


#: json.dumps(detail, sort_keys=True) without a new encoder per call (same bytes: the
#: same options): ingest stores a notice per negative record.
_DETAIL = json.JSONEncoder(sort_keys=True)

COLUMNS = ("notice_id", "audience", "subject", "kind", "created_at", "program", "record_id",
           "case_id", "decision_id", "leaf_index", "detail")


def insert(conn: Connection, rows: Sequence[Notice]) -> None:
    """One driver-level executemany: ingest makes a notice per negative record."""
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    dump = _DETAIL.encode
    # a detail object shared by several notices (an ingest's listings) is spelled once
    spelled: dict[int, str] = {}

    def text(detail: dict[str, Any]) -> str:
        got = spelled.get(id(detail))
        if got is None:
            got = spelled[id(detail)] = dump(detail)
        return got

    conn.exec_driver_sql(
        f"INSERT INTO {notices.name} ({', '.join(COLUMNS)}) VALUES "
        f"({', '.join([mark] * len(COLUMNS))})",
        [(n.notice_id, n.audience, n.subject, n.kind, n.created_at, n.program, n.record_id,
          n.case_id, n.decision_id, n.leaf_index,
          text(n.detail) if n.detail else None) for n in rows])


def _notice(r: Any) -> Notice:
    return Notice(r.notice_id, r.audience, r.subject, r.kind, r.created_at, r.program,
                  r.record_id, r.case_id, r.decision_id, r.leaf_index,
                  json.loads(r.detail) if r.detail else {})


def get(conn: Connection, notice_id: str) -> Notice | None:
    r = conn.execute(select(notices).where(notices.c.notice_id == notice_id)).first()
    return None if r is None else _notice(r)


def of_subject(conn: Connection, subject: str, limit: int = 1000) -> list[Notice]:
    c = notices.c
    return [_notice(r) for r in conn.execute(
        select(notices).where(c.subject == subject, c.audience == "subject")
        .order_by(c.seq.desc()).limit(limit))]


def alerts(conn: Connection, limit: int = 1000) -> list[Notice]:
    c = notices.c
    return [_notice(r) for r in conn.execute(
        select(notices).where(c.audience == "operator").order_by(c.seq.desc()).limit(limit))]


def unstarted_listings(conn: Connection, now: int) -> list[Notice]:
    """Record notices announcing a listing whose start has passed and that no
    `listing.started` notice (nor a settlement) has followed yet."""
    n = notices.c
    started = notices.alias("started")
    s = started.c
    rows = conn.execute(
        select(notices).outerjoin(started, and_(
            s.kind == "listing.started", s.record_id == n.record_id, s.program == n.program))
        .where(n.kind == "record", n.detail.is_not(None), s.seq.is_(None))
        .order_by(n.seq))
    out = []
    for r in rows:
        nt = _notice(r)
        listing = nt.detail.get("listing")
        if listing and not nt.detail.get("settled") and listing.get("start") is not None \
                and listing["start"] <= now:
            out.append(nt)
    return out


def settle(conn: Connection, nt: Notice) -> None:
    """No listing-started notice will follow (the listing never took effect)."""
    detail = {**nt.detail, "settled": True}
    conn.execute(update(notices).where(notices.c.notice_id == nt.notice_id)
                 .values(detail=json.dumps(detail, sort_keys=True)))


def scrub(conn: Connection, record_ids: Sequence[str]) -> int:
    """Erase what notices kept about erased records (their own detail; the rest of a
    notice is rendered from the ledger and is gone with the record)."""
    c = notices.c
    n = 0
    ids = list(record_ids)
    for i in range(0, len(ids), 900):
        res = conn.execute(update(notices).where(c.record_id.in_(ids[i:i + 900]))
                           .values(detail=json.dumps({"erased": True})))
        n += int(res.rowcount or 0)
    return n


# -- words -----------------------------------------------------------------------------------

def text(body: dict[str, Any]) -> tuple[str, str]:
    """A rendered notice as an e-mail's subject line and plain text."""
    lines = [body.get("headline", "A notice from the social credit system"), ""]
    rec = body.get("record")
    if rec:
        if rec.get("erased"):
            lines.append(f"Record {rec['record_id']}: erased at the end of its publication "
                         "period.")
        else:
            lines += [f"Record: {rec['record_id']} — {rec.get('label') or rec['type']}",
                      f"  type: {rec['type']}", f"  reported by: {rec['provider']}",
                      f"  occurred: {rec['occurred_at']}", f"  recorded: {rec['recorded_at']}",
                      f"  evidence: {rec.get('evidence') or '-'}",
                      f"  legal basis: {rec.get('legal_basis') or '-'}"]
            if rec.get("value") is not None:
                lines.append(f"  value: {rec['value']}")
    for p in body.get("points", []):
        lines.append(f"Effect: {p['points']:+g} points in {p['program']} ({p['dimension']}), "
                     f"counting until {p['until'] or 'it is resolved'}")
    for x in body.get("listings", []):
        lines.append(f"Listing: {x['label'] or x['list']} ({x['program']}) from {x['start']} "
                     f"until at the latest {x['end']}"
                     + (" — a public list" if x.get("public") else ""))
        for m in x.get("measures", []):
            who = m["provider"] or "relying parties"
            lines.append(f"  then: {m['label'] or m['action']} ({who})")
        if x.get("court_ordered"):
            lines.append("  A court has already ordered this listing: an objection is reviewed "
                         "but does not suspend it.")
    for key in ("decision", "outcome"):
        if body.get(key):
            lines += ["", json.dumps(body[key], indent=2, ensure_ascii=False)]
    obj = body.get("object")
    if obj:
        lines += ["", obj["how"]]
    rep = body.get("repair")
    if rep:
        lines.append(rep["how"])
    for right in body.get("rights", []):
        lines.append(f"- {right}")
    if body.get("proof"):
        p = body["proof"]
        lines += ["", f"Public log: leaf {p['leaf_index']} of a tree of {p['tree_size']} "
                  f"(root {p['root']}); the inclusion proof is attached."]
    lines += ["", f"Notice {body['notice_id']}, {body['created_at']}"]
    return body.get("headline", "Notice"), "\n".join(lines) + "\n"


__all__ = ["KINDS", "Notice", "alerts", "get", "ids", "insert", "new", "of_subject", "scrub",
           "settle", "text", "unstarted_listings"]
