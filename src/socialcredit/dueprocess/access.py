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
           grant_id: str | None = None, detail: dict[str, Any] | None = None,
           detail_text: str | None = None) -> None:
    """Log a read unless the principal is the subject itself. The detail is given as a
    dict, or already spelled as its JSON (`detail_text`, e.g. `decision_detail`)."""
    if principal.is_subject(subject):
        return
    append_row(conn, access_log, _COLUMNS, (
        at, subject, principal.id, principal.role, operation, program, purpose, grant_id,
        detail_text if detail_text is not None else
        _detail_json(detail) if detail else None))


#: (action, effect) -> the text of a decision's detail before and after its id
_DECISION_DETAIL: dict[tuple[str, str], tuple[str, str]] = {}


def decision_detail(decision_id: str, action: str, effect: str) -> str:
    """`_detail_json({"decision_id": ..., "action": ..., "effect": ...})`, the same text,
    from the spelling of its action and effect kept by their values (one detail per
    logged decision; a handful of actions and effects)."""
    if type(decision_id) is not str or type(action) is not str or type(effect) is not str:
        return _detail_json({"decision_id": decision_id, "action": action, "effect": effect})
    got = _DECISION_DETAIL.get((action, effect))
    if got is None:
        if len(_DECISION_DETAIL) >= 4096:
            _DECISION_DETAIL.clear()
        enc = encode_basestring_ascii
        got = _DECISION_DETAIL[(action, effect)] = (
            f'{{"action": {enc(action)}, "decision_id": ', f', "effect": {enc(effect)}}}')
    return got[0] + encode_basestring_ascii(decision_id) + got[1]


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


__all__ = ["decision_detail", "of", "record"]
