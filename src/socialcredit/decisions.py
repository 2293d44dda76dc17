"""Decisions: may this subject do this action, and on what terms?

Like Open Policy Agent's decision logs, every decision carries a decision id, its
input, its result, the policy revision (rulebook sha256) and its reasons, and is
written to a log the subject can read.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from socialcredit.ledger import schema as s
from socialcredit.ledger.store import Ledger
from socialcredit.rulebook.model import Consequence, Rulebook
from socialcredit.scoring import standing_in_force
from socialcredit.scoring.standing import Standing
from socialcredit.timeutil import format_instant


@dataclass(frozen=True)
class Decision:
    decision_id: str
    subject: str
    action: str
    program: str
    effect: str
    grant: dict[str, Any]
    reasons: list[dict[str, Any]]
    at: int
    known_at: int
    decided_at: int
    standing: Standing
    source: str = "live"  # or "materialized"

    def as_dict(self) -> dict[str, Any]:
        st = self.standing
        return {
            "decision_id": self.decision_id,
            "subject": self.subject,
            "action": self.action,
            "program": self.program,
            "effect": self.effect,
            "grant": self.grant,
            "reasons": self.reasons,
            "at": format_instant(self.at),
            "known_at": format_instant(self.known_at),
            "decided_at": format_instant(self.decided_at),
            "score": st.score,
            "tier": st.tier,
            "lists": st.lists,
            "rulebook": st.rulebook.as_dict(),
            "standing_source": self.source,
        }


def _condition(key: str, value: Any, rb: Rulebook, st: Standing) -> dict[str, Any]:
    """One condition of a `when`, with what made it true or false."""
    out: dict[str, Any] = {"condition": key, "value": value}
    if key in ("on_list", "not_on_list"):
        entries = [e.as_dict() for e in st.list_entries if e.list == value]
        on = value in st.lists
        out["holds"] = on if key == "on_list" else not on
        if entries:
            out["list_entries"] = entries
            out["records"] = [e["record_id"] for e in entries if e["record_id"]]
    elif key == "tier_at_least":
        rank = rb.tier_rank
        out["tier"] = st.tier
        # a tier the version in force no longer knows (a stale materialized row) never holds
        out["holds"] = st.tier in rank and rank[st.tier] <= rank[value]
    elif key in ("score_at_least", "score_below"):
        out["score"] = st.score
        out["holds"] = st.score >= value if key == "score_at_least" else st.score < value
    if key in ("tier_at_least", "score_at_least", "score_below"):
        out["records"] = [c.record_id for c in st.key_factors]
    return out


def evaluate(rb: Rulebook, st: Standing, action: str) -> tuple[str, dict[str, Any],
                                                                  list[dict[str, Any]]]:
    """Any applying deny -> deny; else merged grants of applying benefits -> benefit;
    else allow."""
    applying: list[tuple[int, Consequence]] = []
    reasons: list[dict[str, Any]] = []
    for i, c in enumerate(rb.consequences):
        if c.action != action:
            continue
        conds = [_condition(k, v, rb, st) for k, v in c.when.conditions().items()]
        holds = all(x["holds"] for x in conds)
        reasons.append({"consequence": i, "action": c.action, "effect": c.effect,
                        "context": c.context, "provider": c.provider,
                        "legal_basis": c.legal_basis, "label": c.label,
                        "applies": holds, "conditions": conds,
                        **({"grant": c.grant} if c.grant else {})})
        if holds:
            applying.append((i, c))
    grant: dict[str, Any] = {}
    if any(c.effect == "deny" for _, c in applying):
        effect = "deny"
    elif any(c.effect == "benefit" for _, c in applying):
        effect = "benefit"
        for _, c in applying:
            if c.effect == "benefit" and c.grant:
                grant.update(c.grant)
    else:
        effect = "allow"
    if not reasons:
        reasons.append({"consequence": None, "action": action, "effect": "allow",
                        "applies": True, "conditions": [],
                        "label": f"program {rb.rulebook} declares no consequence for "
                                 f"{action!r}"})
    # applying reasons first: they are the answer; the rest show what did not apply
    reasons.sort(key=lambda r: not r["applies"])
    return effect, grant, reasons


def materialized_standing(ledger: Ledger, subject: str, program: str | None
                          ) -> Standing | None:
    """The subject's row of the materialized standings table (kept current by ingest), as
    a Standing without its record-level explanation; None when there is no row."""
    from socialcredit.scoring.materialized import read_standing, table_exists
    from socialcredit.scoring.standing import RulebookRef

    name = ledger.resolve_program(program)
    with ledger.engine.connect() as conn:
        row = read_standing(conn, name, subject) if table_exists(conn) else None
    if row is None:
        return None
    return Standing(
        subject=subject, subject_kind=row["subject_kind"], program=name, at=row["at"],
        known_at=row["known_at"], applies=True, score=row["score"], tier=row["tier"],
        dimensions=row["dimensions"], lists=row["lists"], list_entries=[], pending=[],
        contributions=[], attributes=[], key_factors=[],
        rulebook=RulebookRef(name, row["version"], row["sha256"]),
        notes=[f"standing read from the materialized table, computed for "
               f"{format_instant(row['at'])}; `socialcredit standing` explains it"])


def check(ledger: Ledger, subject: str, action: str, program: str | None = None,
          at: int | None = None, *, log: bool = True, materialized: bool = False) -> Decision:
    """Decide, and log the decision. By default the standing is computed live at `at`
    (exact, with every reason). With materialized=True it is read from the table that
    `score --all` writes and ingest keeps current — the fast path for relying parties
    at volume; the decision then holds for the time that row was computed for."""
    st = materialized_standing(ledger, subject, program) if materialized and at is None \
        else None
    source = "materialized" if st is not None else "live"
    if st is None:
        st, pv = standing_in_force(ledger, subject, program, at)
    else:
        pv = ledger.version_in_force(st.program, st.at, st.known_at)
    ledger.ensure_operable(pv.rulebook)
    effect, grant, reasons = evaluate(pv.rulebook, st, action)
    decided_at = ledger.clock()
    d = Decision(str(uuid.uuid4()), subject, action, st.program, effect, grant, reasons,
                 st.at, st.known_at, decided_at, st, source)
    if log:
        with ledger.engine.begin() as conn:
            conn.execute(s.decisions.insert().values(
                decision_id=d.decision_id, decided_at=decided_at, at=d.at, known_at=d.known_at,
                subject=subject, action=action, program=d.program, version=pv.version,
                sha256=pv.sha256, effect=effect,
                body=json.dumps(d.as_dict(), sort_keys=True)))
    return d


def seal_decisions(ledger: Ledger) -> list[dict[str, Any]]:
    """Commit every decision not yet sealed to the transparency log: one
    `decisions.batch` leaf per program with the count and the sha256 over the canonical
    bodies, in order. A subject holding its decision ids can later show that the log
    committed to exactly those decisions; nobody can drop or alter one unnoticed."""
    import hashlib

    from socialcredit.ledger.store import Event

    sealed: list[dict[str, Any]] = []
    d = s.decisions.c
    with ledger.engine.begin() as conn:
        done = select(s.sealed_decisions.c.seq).where(s.sealed_decisions.c.seq == d.seq)
        rows = conn.execute(select(d.seq, d.program, d.body).where(~done.exists())
                            .order_by(d.seq)).all()
        if not rows:
            return []
        by_program: dict[str, list[tuple[int, str]]] = {}
        for seq, program, body in rows:
            by_program.setdefault(program, []).append((seq, body))
        events = []
        for program, items in by_program.items():
            h = hashlib.sha256()
            for _, body in items:
                h.update(hashlib.sha256(body.encode("utf-8")).digest())
            batch: dict[str, Any] = {"program": program, "count": len(items),
                                     "digest": h.hexdigest(), "first_seq": items[0][0],
                                     "last_seq": items[-1][0]}
            if items[-1][0] - items[0][0] + 1 != len(items):  # not a contiguous range
                batch["seqs"] = [seq for seq, _ in items]
            events.append(Event("decisions.batch", batch))
            sealed.append(batch)
        ledger.log_events(conn, events)
        at = ledger.clock()
        conn.execute(s.sealed_decisions.insert(), [{"seq": seq, "sealed_at": at}
                                                   for seq, _, _ in rows])
    return sealed


def decision_log(ledger: Ledger, subject: str | None = None, limit: int = 100
                 ) -> list[dict[str, Any]]:
    """The decisions about a subject (or all), newest first: what the subject may read."""
    q = select(s.decisions.c.body).order_by(s.decisions.c.seq.desc()).limit(limit)
    if subject is not None:
        q = q.where(s.decisions.c.subject == subject)
    with ledger.engine.connect() as conn:
        return [json.loads(b) for (b,) in conn.execute(q)]
