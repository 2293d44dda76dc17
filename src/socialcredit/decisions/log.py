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
from socialcredit.decisions.evaluate import Decision, reads_score
from socialcredit.ledger import schema as s
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.standing import RulebookRef
from socialcredit.timeutil import format_instant

#: the columns of a decision's log row, in the order `write` gives their values
_COLUMNS = ("decision_id", "decided_at", "at", "known_at", "subject", "action", "program",
            "version", "sha256", "effect", "body")


def write(conn: Connection, d: Decision, version: str, sha256: str,
          rulebook: Rulebook | None = None) -> None:
    """The decision's log row (gathered with others' under a group commit). `rulebook`,
    the one its reasons are evaluated under, lets decisions share reasons across
    scores where the action's conditions do not read the score (`body_json`)."""
    append_row(conn, s.decisions, _COLUMNS, (
        d.decision_id, d.decided_at, d.at, d.known_at, d.subject, d.action, d.program,
        version, sha256, d.effect, body_json(d, rulebook)))


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
_REFS: dict[tuple[str, str, str], str] = {}
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
        got = _INSTANTS[us] = _instant_text(us)
    return got


#: (second, its text up to the seconds: '"YYYY-MM-DDTHH:MM:SS') of the last instant
#: spelled: the decisions of one group are decided within the same second or two
_SECOND: tuple[int, str] = (-1, "")


def _instant_text(us: int) -> str:
    """`json.dumps(format_instant(us))`, the text up to the seconds shared with the last
    instant of the same second (a decision's own instant, decided_at, is not shared with
    any other: formatting it whole was a tenth of its body's spelling)."""
    global _SECOND
    second, micro = divmod(us, 1_000_000)
    last = _SECOND  # one read: another thread may replace it meanwhile, never tear it
    if last[0] == second and second > 0:
        head = last[1]
    else:
        whole = format_instant(us)
        if second <= 0 or whole is None or not whole.endswith("Z"):
            return _value(whole)  # before 1970 or the beginning of time: as it is
        head = '"' + whole[:19]
        _SECOND = (second, head)
    return f'{head}.{micro:06d}Z"' if micro else head + 'Z"'


def body_json(d: Decision, rulebook: Rulebook | None = None) -> str:
    """`json.dumps(d.body(), sort_keys=True)`, the same text, spelled key by key (in
    sorted order) rather than through a dict and the encoder: one decision's body per
    logged decision was the largest part of the committer's work. The reasons of a
    decision whose reasons are known already are not built: many decisions share one
    rulebook, action, tier, score and lists, and so their reasons. A test holds this
    equal to the plain encoding (tests/decisions/test_log_fast_paths.py).

    Given `rulebook` (the one the reasons are evaluated under) and an action none of
    whose conditions reads the score, the score is left out of the reasons' key: the
    reasons then show only the tier and the lists (key factors and list entries aside,
    which bypass the key), and a decision read from the materialized table, whose score
    moves with time, shares them with every other of its tier and lists."""
    st = d.standing
    if type(d.at) is not int or type(d.known_at) is not int \
            or type(d.decided_at) is not int or type(st.rulebook) is not RulebookRef:
        return json.dumps(d.body(), sort_keys=True)
    score = st.score
    # json.dumps's spelling of a score (a float's repr, or an int's); also the reasons'
    # key: 0, 0.0 and -0.0 are told apart
    score_text = float.__repr__(score) if type(score) is float \
        and score == score and score != _INF and score != -_INF else _value(score)
    got = d._reasons
    if not callable(got):
        reasons = _ENCODE(got)
    elif st.list_entries or st.key_factors:
        reasons = _ENCODE(d.reasons)
    else:
        key = (st.rulebook.sha256, d.action, st.tier, None, None, tuple(st.lists)) \
            if rulebook is not None and not reads_score(rulebook, d.action) else \
            (st.rulebook.sha256, d.action, st.tier, score_text, type(score),
             tuple(st.lists))
        reasons = _REASONS.get(key)  # type: ignore[assignment]
        if reasons is None:
            reasons = _ENCODE(d.reasons)
            if len(_REASONS) >= _MAX_REASONS:
                _REASONS.clear()
            _REASONS[key] = reasons
    rb = st.rulebook
    # by its fields' strings (their hashes are kept), not the dataclass's own hash
    ref_key = (rb.sha256, rb.id, rb.version)
    ref = _REFS.get(ref_key)
    if ref is None:
        if len(_REFS) >= _MAX_REASONS:
            _REFS.clear()
        ref = _REFS[ref_key] = _ENCODE(rb.as_dict())
    at = _instant(d.at)
    requester = d.requester
    aa = d.adverse_action
    grant = d.grant
    lists = st.lists
    # one f-string, not a list of parts grown and joined: the pieces of a body are
    # spelled first, then the body at once (with a requester, or without: no disclosure,
    # grant_id, purpose nor requester keys)
    adverse = "" if aa is None else ', "adverse_action": ' + _ENCODE(aa)
    decided = at if d.decided_at == d.at else _instant_text(d.decided_at)
    granted = "{}" if type(grant) is dict and not grant else _ENCODE(grant)
    listed = "[]" if type(lists) is list and not lists else _ENCODE(lists)
    if requester is None:
        return (f'{{"action": {_value(d.action)}{adverse}, "at": {at}, "decided_at": '
                f'{decided}, "decision_id": {_value(d.decision_id)}, "effect": '
                f'{_value(d.effect)}, "grant": {granted}, "hypothetical": '
                f'{_value(d.hypothetical)}, "known_at": {_instant(d.known_at)}, '
                f'"lists": {listed}, "program": {_value(d.program)}, "reasons": '
                f'{reasons}, "rulebook": {ref}, "score": {score_text}, '
                f'"standing_source": {_value(d.source)}, "subject": {_value(d.subject)}, '
                f'"tier": {_value(st.tier)}}}')
    return (f'{{"action": {_value(d.action)}{adverse}, "at": {at}, "decided_at": '
            f'{decided}, "decision_id": {_value(d.decision_id)}, "disclosure": '
            f'{_value(d.disclosure)}, "effect": {_value(d.effect)}, "grant": {granted}, '
            f'"grant_id": {_value(d.grant_id)}, "hypothetical": {_value(d.hypothetical)}, '
            f'"known_at": {_instant(d.known_at)}, "lists": {listed}, "program": '
            f'{_value(d.program)}, "purpose": {_value(d.purpose)}, "reasons": {reasons}, '
            f'"requester": {_requester(requester)}, "rulebook": {ref}, "score": '
            f'{score_text}, "standing_source": {_value(d.source)}, "subject": '
            f'{_value(d.subject)}, "tier": {_value(st.tier)}}}')


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
