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
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.db import append_row
from socialcredit.decisions.evaluate import Decision
from socialcredit.ledger import schema as s
from socialcredit.scoring.standing import RulebookRef
from socialcredit.timeutil import format_instant

#: the columns of a decision's log row, in the order `write` gives their values
_COLUMNS = ("decision_id", "decided_at", "at", "known_at", "subject", "action", "program",
            "version", "sha256", "effect", "body")


def write(conn: Connection, d: Decision, version: str, sha256: str) -> None:
    """The decision's log row (gathered with others' under a group commit)."""
    append_row(conn, s.decisions, _COLUMNS, (
        d.decision_id, d.decided_at, d.at, d.known_at, d.subject, d.action, d.program,
        version, sha256, d.effect, body_json(d)))


#: (rulebook sha256, action, tier, repr(score), lists) -> the reasons' JSON, for
#: standings without list entries or key factors (read from the materialized table):
#: their reasons depend on nothing else
_REASONS: dict[tuple[Any, ...], str] = {}
_MAX_REASONS = 4096
#: `json.dumps(x, sort_keys=True)` without making an encoder per call (dumps makes one
#: whenever an argument is given): the same encoder, the same text
_ENCODE = json.JSONEncoder(sort_keys=True).encode
#: a rulebook reference's JSON, and an instant's text, by value: the decisions of one
#: version share the first, those read from one materialized run the second
_REFS: dict[RulebookRef, str] = {}
_INSTANTS: dict[int, str] = {}
_MAX_INSTANTS = 4096
_INF = float("inf")


def _value(v: Any) -> str:
    """`json.dumps(v)` of one value of a body (sort_keys: nested dicts by key)."""
    t = type(v)
    if t is str:
        return encode_basestring_ascii(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if t is int:
        return int.__repr__(v)
    if t is float and v == v and v != _INF and v != -_INF:
        return float.__repr__(v)
    return _ENCODE(v)


def _instant(us: int) -> str:
    """`json.dumps(format_instant(us))`, remembered: a materialized run's rows share
    their instants."""
    got = _INSTANTS.get(us)
    if got is None:
        if len(_INSTANTS) >= _MAX_INSTANTS:
            _INSTANTS.clear()
        got = _INSTANTS[us] = _value(format_instant(us))
    return got


def body_json(d: Decision) -> str:
    """`json.dumps(d.body(), sort_keys=True)`, the same text, spelled key by key (in
    sorted order) rather than through a dict and the encoder: one decision's body per
    logged decision was the largest part of the committer's work. The reasons of a
    decision whose reasons are known already are not built: many decisions share one
    rulebook, action, tier, score and lists, and so their reasons. A test holds this
    equal to the plain encoding (tests/decisions/test_log_fast_paths.py)."""
    st = d.standing
    if type(d.at) is not int or type(d.known_at) is not int \
            or type(d.decided_at) is not int or type(st.rulebook) is not RulebookRef:
        return json.dumps(d.body(), sort_keys=True)
    got = d._reasons
    if not callable(got):
        reasons = _ENCODE(got)
    elif st.list_entries or st.key_factors:
        reasons = _ENCODE(d.reasons)
    else:
        key = (st.rulebook.sha256, d.action, st.tier, repr(st.score), tuple(st.lists))
        reasons = _REASONS.get(key)  # type: ignore[assignment]
        if reasons is None:
            reasons = _ENCODE(d.reasons)
            if len(_REASONS) >= _MAX_REASONS:
                _REASONS.clear()
            _REASONS[key] = reasons
    ref = _REFS.get(st.rulebook)
    if ref is None:
        if len(_REFS) >= _MAX_REASONS:
            _REFS.clear()
        ref = _REFS[st.rulebook] = _ENCODE(st.rulebook.as_dict())
    at = _instant(d.at)
    requester = d.requester
    aa = d.adverse_action
    grant = d.grant
    lists = st.lists
    parts = ['{"action": ', _value(d.action)]
    if aa is not None:
        parts += [', "adverse_action": ', _ENCODE(aa)]
    parts += [', "at": ', at,
              ', "decided_at": ', at if d.decided_at == d.at else _value(
                  format_instant(d.decided_at)),
              ', "decision_id": ', _value(d.decision_id)]
    if requester is not None:
        parts += [', "disclosure": ', _value(d.disclosure)]
    parts += [', "effect": ', _value(d.effect),
              ', "grant": ', "{}" if type(grant) is dict and not grant else _ENCODE(grant)]
    if requester is not None:
        parts += [', "grant_id": ', _value(d.grant_id)]
    parts += [', "hypothetical": ', _value(d.hypothetical),
              ', "known_at": ', _instant(d.known_at),
              ', "lists": ', "[]" if type(lists) is list and not lists else _ENCODE(lists),
              ', "program": ', _value(d.program)]
    if requester is not None:
        parts += [', "purpose": ', _value(d.purpose)]
    parts += [', "reasons": ', reasons]
    if requester is not None:
        parts += [', "requester": ', _requester(requester)]
    parts += [', "rulebook": ', ref,
              ', "score": ', _value(st.score),
              ', "standing_source": ', _value(d.source),
              ', "subject": ', _value(d.subject),
              ', "tier": ', _value(st.tier), "}"]
    return "".join(parts)


def _requester(r: dict[str, Any]) -> str:
    """`json.dumps(r, sort_keys=True)` of a decision's requester: who and in which role."""
    if len(r) == 2:
        p, role = r.get("principal"), r.get("role")
        if type(p) is str and type(role) is str:
            return (f'{{"principal": {encode_basestring_ascii(p)}, '
                    f'"role": {encode_basestring_ascii(role)}}}')
    return _ENCODE(r)


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
