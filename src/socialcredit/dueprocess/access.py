"""The access log: every read of a standing or a decision by anyone but the subject, for
the subject to see who asked, when, why and under which grant."""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, or_, select

from socialcredit.db import append_row
from socialcredit.dueprocess.schema import access_log
from socialcredit.principals import Principal
from socialcredit.timeutil import format_instant


def record(conn: Connection, at: int, principal: Principal, operation: str,
           subject: str | None, *, program: str | None = None, purpose: str | None = None,
           grant_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    """Log a read unless the principal is the subject itself."""
    if principal.is_subject(subject):
        return
    append_row(conn, access_log, _COLUMNS, (
        at, subject, principal.id, principal.role, operation, program, purpose, grant_id,
        _detail_json(detail) if detail else None))


#: the columns of an entry, in the order `record` gives their values
_COLUMNS = ("at", "subject", "principal_id", "role", "operation", "program", "purpose",
            "grant_id", "detail")


def _detail_json(detail: dict[str, Any]) -> str:
    """`json.dumps(detail, sort_keys=True)`, the same text: a detail of strings only (a
    decision's id, action and effect: one per logged decision) is spelled directly (the
    encoder takes nothing but a string: anything else is left to json.dumps)."""
    enc = encode_basestring_ascii
    try:
        return "{" + ", ".join([f"{enc(k)}: {enc(detail[k])}" for k in sorted(detail)]) + "}"
    except TypeError:
        return json.dumps(detail, sort_keys=True)


def of(conn: Connection, subject: str, limit: int = 1000) -> list[dict[str, Any]]:
    """Who read the subject's standings and decisions, newest first (reads of a whole
    population included: they read this subject too)."""
    c = access_log.c
    rows = conn.execute(select(access_log).where(or_(c.subject == subject,
                                                     c.subject.is_(None)))
                        .order_by(c.seq.desc()).limit(limit))
    return [{"at": format_instant(r.at), "principal": r.principal_id, "role": r.role,
             "operation": r.operation, "program": r.program, "purpose": r.purpose,
             "grant_id": r.grant_id, "population": r.subject is None,
             "detail": json.loads(r.detail) if r.detail else None} for r in rows]


__all__ = ["of", "record"]
