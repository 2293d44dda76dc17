"""The decision log: every decision stored with its full body, read back by the subject,
and sealed into the public log in batches.

A seal is a digest over the canonical bodies of a set of decisions: a subject holding
its decision ids can later show that the log committed to exactly those decisions, and
nobody can drop or alter one unnoticed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.db import append
from socialcredit.decisions.evaluate import Decision
from socialcredit.ledger import schema as s


def write(conn: Connection, d: Decision, version: str, sha256: str) -> None:
    """The decision's log row (gathered with others' under a group commit)."""
    append(conn, s.decisions, {
        "decision_id": d.decision_id, "decided_at": d.decided_at, "at": d.at,
        "known_at": d.known_at, "subject": d.subject, "action": d.action,
        "program": d.program, "version": version, "sha256": sha256, "effect": d.effect,
        "body": body_json(d)})


#: what stands for the reasons in a body encoded without them (a string no decision
#: holds: a body that does anyway is encoded whole)
_MARK = "\x00socialcredit.reasons\x00"
_MARK_JSON = json.dumps(_MARK)
#: (rulebook sha256, action, tier, repr(score), lists) -> the reasons' JSON, for
#: standings without list entries or key factors (read from the materialized table):
#: their reasons depend on nothing else
_REASONS: dict[tuple[Any, ...], str] = {}
_MAX_REASONS = 4096


def body_json(d: Decision) -> str:
    """`json.dumps(d.body(), sort_keys=True)`, the same text, without building the
    reasons of a decision whose reasons are known already: many decisions share one
    rulebook, action, tier, score and lists, and so their reasons."""
    st = d.standing
    if not callable(d._reasons) or st.list_entries or st.key_factors:
        return json.dumps(d.body(), sort_keys=True)
    key = (st.rulebook.sha256, d.action, st.tier, repr(st.score), tuple(st.lists))
    reasons = _REASONS.get(key)
    if reasons is None:
        reasons = json.dumps(d.reasons, sort_keys=True)
        if len(_REASONS) >= _MAX_REASONS:
            _REASONS.clear()
        _REASONS[key] = reasons
    text = json.dumps(d.body(_MARK), sort_keys=True)
    if text.count(_MARK_JSON) != 1:
        return json.dumps(d.body(), sort_keys=True)
    return text.replace(_MARK_JSON, reasons)


def read(conn: Connection, subject: str | None = None, limit: int = 100
         ) -> list[dict[str, Any]]:
    """The decisions about a subject (or all), newest first."""
    q = select(s.decisions.c.body).order_by(s.decisions.c.seq.desc()).limit(limit)
    if subject is not None:
        q = q.where(s.decisions.c.subject == subject)
    return [json.loads(b) for (b,) in conn.execute(q)]


def get(conn: Connection, decision_id: str) -> dict[str, Any] | None:
    body = conn.execute(select(s.decisions.c.body).where(
        s.decisions.c.decision_id == decision_id)).scalar()
    return None if body is None else dict(json.loads(body))


def about_since(conn: Connection, subject: str, since: int) -> list[dict[str, Any]]:
    """The decisions about a subject made at or after `since`, oldest first."""
    d = s.decisions.c
    return [json.loads(b) for (b,) in conn.execute(
        select(d.body).where(d.subject == subject, d.decided_at >= since).order_by(d.seq))]


def unsealed(conn: Connection) -> list[tuple[int, str, str]]:
    """(seq, program, body) of every decision not yet sealed, in order."""
    d = s.decisions.c
    done = select(s.sealed_decisions.c.seq).where(s.sealed_decisions.c.seq == d.seq)
    return [(int(seq), str(program), str(body)) for seq, program, body in conn.execute(
        select(d.seq, d.program, d.body).where(~done.exists()).order_by(d.seq))]


def batches(rows: Sequence[tuple[int, str, str]]) -> list[dict[str, Any]]:
    """One batch per program: the count and the sha256 over the bodies' sha256s, in
    order. Sealed decisions are a set, not a high-water mark (on PostgreSQL a decision
    with a lower seq may commit after a later one was sealed), so a batch that is not a
    contiguous range lists its seqs."""
    by_program: dict[str, list[tuple[int, str]]] = {}
    for seq, program, body in rows:
        by_program.setdefault(program, []).append((seq, body))
    out = []
    for program, items in by_program.items():
        h = hashlib.sha256()
        for _, body in items:
            h.update(body_digest(body))
        batch: dict[str, Any] = {"program": program, "count": len(items),
                                 "digest": h.hexdigest(), "first_seq": items[0][0],
                                 "last_seq": items[-1][0]}
        if items[-1][0] - items[0][0] + 1 != len(items):
            batch["seqs"] = [seq for seq, _ in items]
        out.append(batch)
    return out


def body_digest(body: str) -> bytes:
    """SHA-256 of a decision's stored body: what a seal's digest is made of."""
    return hashlib.sha256(body.encode("utf-8")).digest()


def mark_sealed(conn: Connection, rows: Sequence[tuple[int, str, str]], at: int) -> None:
    """Mark (seq, program, body) rows sealed, keeping each body's digest so that verify
    can name a decision changed after its seal, not only the batch."""
    if rows:
        conn.execute(s.sealed_decisions.insert(), [
            {"seq": seq, "sealed_at": at, "digest": body_digest(body)}
            for seq, _, body in rows])


__all__ = ["about_since", "batches", "body_digest", "body_json", "get", "mark_sealed", "read",
           "unsealed", "write"]
