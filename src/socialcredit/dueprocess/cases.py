"""Cases: objections, appeals and repair applications — filed by (or for) a subject,
decided by a reviewer within a deadline, each with its reasons.

Statuses: an objection or appeal is `open` until `upheld`, `voided`, `amended` (decided)
or `lapsed` (not decided by its deadline: resolved in the subject's favour). A repair
application is `filed`, then `accepted` (the reply), then `granted` or `refused` (it may
be refused or granted at the reply).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from socialcredit.dueprocess.schema import attachments, cases
from socialcredit.timeutil import format_instant, from_us, to_us

KINDS = ("objection", "appeal", "repair")
OBJECTION_OUTCOMES = ("upheld", "voided", "amended")
REPAIR_OUTCOMES = ("accepted", "granted", "refused")
OPEN = ("open", "filed", "accepted")
# an attachment is evidence, not a file store: 10 MiB each
MAX_ATTACHMENT = 10 * 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    name: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class Case:
    case_id: str
    kind: str
    subject: str
    record_id: str | None
    program: str | None
    list_id: str | None
    parent_case: str | None
    filed_at: int
    filed_by: str
    grounds: str | None
    status: str
    due_at: int | None = None
    reply_due_at: int | None = None
    accepted_at: int | None = None
    decided_at: int | None = None
    decided_by: str | None = None
    reasons: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    outcome: dict[str, Any] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def deadline(self) -> int | None:
        """The deadline that runs now: the reply's, then the decision's."""
        if self.kind == "repair" and self.status == "filed":
            return self.reply_due_at
        return self.due_at

    def as_dict(self, now: int | None = None) -> dict[str, Any]:
        dl = self.deadline()
        out: dict[str, Any] = {"case_id": self.case_id, "kind": self.kind, "subject": self.subject,
               "record_id": self.record_id, "program": self.program, "list": self.list_id,
               "appeal_of": self.parent_case, "filed_at": format_instant(self.filed_at),
               "filed_by": self.filed_by, "grounds": self.grounds, "status": self.status,
               "due_at": format_instant(self.due_at),
               "reply_due_at": format_instant(self.reply_due_at),
               "accepted_at": format_instant(self.accepted_at),
               "decided_at": format_instant(self.decided_at), "decided_by": self.decided_by,
               "reasons": self.reasons, "detail": self.detail, "outcome": self.outcome}
        if now is not None and self.is_open and dl is not None:
            out["overdue"] = now >= dl
        return out


def new_id(kind: str) -> str:
    return f"{kind[:3]}-{uuid.uuid4().hex[:20]}"


def add_working_days(at: int, days: int) -> int:
    """`days` working days (Monday to Friday, UTC; no holiday calendar) after `at`."""
    d = from_us(at)
    added = 0
    while added < days:
        d += timedelta(days=1)
        if d.weekday() < 5:
            added += 1
    return to_us(d)


def _case(r: Any) -> Case:
    return Case(r.case_id, r.kind, r.subject, r.record_id, r.program, r.list_id,
                r.parent_case, r.filed_at, r.filed_by, r.grounds, r.status, r.due_at,
                r.reply_due_at, r.accepted_at, r.decided_at, r.decided_by, r.reasons,
                json.loads(r.detail) if r.detail else {},
                json.loads(r.outcome) if r.outcome else {})


def insert(conn: Connection, c: Case, files: Sequence[Attachment] = ()) -> None:
    conn.execute(cases.insert().values(
        case_id=c.case_id, kind=c.kind, subject=c.subject, record_id=c.record_id,
        program=c.program, list_id=c.list_id, parent_case=c.parent_case, filed_at=c.filed_at,
        filed_by=c.filed_by, grounds=c.grounds, status=c.status, due_at=c.due_at,
        reply_due_at=c.reply_due_at, accepted_at=c.accepted_at, decided_at=None,
        decided_by=None, reasons=None, detail=json.dumps(c.detail, sort_keys=True),
        outcome=None))
    seen: set[str] = set()
    for f in files:
        if f.sha256 in seen:
            continue
        seen.add(f.sha256)
        conn.execute(attachments.insert().values(case_id=c.case_id, sha256=f.sha256,
                                                 name=f.name, size=len(f.content),
                                                 content=f.content))


def save(conn: Connection, c: Case) -> None:
    conn.execute(update(cases).where(cases.c.case_id == c.case_id).values(
        status=c.status, due_at=c.due_at, accepted_at=c.accepted_at, decided_at=c.decided_at,
        decided_by=c.decided_by, reasons=c.reasons,
        detail=json.dumps(c.detail, sort_keys=True),
        outcome=json.dumps(c.outcome, sort_keys=True) if c.outcome else None))


def get(conn: Connection, case_id: str) -> Case | None:
    r = conn.execute(select(cases).where(cases.c.case_id == case_id)).first()
    return None if r is None else _case(r)


def of_subject(conn: Connection, subject: str) -> list[Case]:
    c = cases.c
    return [_case(r) for r in conn.execute(select(cases).where(c.subject == subject)
                                           .order_by(c.filed_at, c.case_id))]


def open_cases(conn: Connection, kinds: Sequence[str] = KINDS) -> list[Case]:
    c = cases.c
    return [_case(r) for r in conn.execute(select(cases).where(
        c.status.in_(OPEN), c.kind.in_(list(kinds))).order_by(c.filed_at, c.case_id))]


def open_on(conn: Connection, record_ids: Sequence[str]) -> set[str]:
    """Which of these records have an open case."""
    c = cases.c
    out: set[str] = set()
    ids = list(record_ids)
    for i in range(0, len(ids), 900):
        out |= {r[0] for r in conn.execute(select(c.record_id).where(
            c.record_id.in_(ids[i:i + 900]), c.status.in_(OPEN)))}
    return out


def attachments_of(conn: Connection, case_id: str) -> list[dict[str, Any]]:
    a = attachments.c
    return [{"sha256": r.sha256, "name": r.name, "size": r.size,
             "erased": r.content is None}
            for r in conn.execute(select(a.sha256, a.name, a.size, a.content)
                                  .where(a.case_id == case_id).order_by(a.sha256))]


def erase_attachments(conn: Connection, case_id: str) -> None:
    conn.execute(update(attachments).where(attachments.c.case_id == case_id)
                 .values(content=None, name="(erased)"))


__all__ = ["KINDS", "MAX_ATTACHMENT", "OBJECTION_OUTCOMES", "OPEN", "REPAIR_OUTCOMES",
           "Attachment", "Case", "add_working_days", "attachments_of", "erase_attachments",
           "get", "insert", "new_id", "of_subject", "open_cases", "open_on", "save"]
