"""What can set off a consequence: the record types behind each condition of its `when`.

Several profiles ask the same question — "which data can lead to this treatment?" — so it
is answered once here. A consequence is reached through lists (a record-entered list is
set off by one record of its type; a score list by the score) or through the score
itself (tiers and score thresholds). Everything a rule or attribute scores can move the
score; for a detrimental consequence only what can lower it matters.
"""

from __future__ import annotations

from dataclasses import dataclass

from socialcredit.rulebook import lexicon
from socialcredit.rulebook.loader import PathKey
from socialcredit.rulebook.model import Consequence, Rulebook


@dataclass(frozen=True)
class Trigger:
    """A record type that can set off a consequence, and how."""

    type_id: str
    context: str | None
    category: str | None
    path: PathKey  # the rule, attribute or list through which it acts
    direct: bool  # True: one record of this type suffices (a record-entered list)
    via: str  # "list dishonest_judgment_defaulters" or "score"


def protected_categories(*texts: str | None) -> list[str]:
    """Every protected category the texts name (the baseline stops at the first)."""
    return lexicon.protected_categories(*texts)


def score_triggers(rb: Rulebook, *, adverse_only: bool) -> list[Trigger]:
    """The record types that can move the score (only those that can lower it when
    `adverse_only`): every rule, and every attribute whose bins differ in points (a
    lower bin is a lower score)."""
    out: list[Trigger] = []
    for i, r in enumerate(rb.rules):
        if adverse_only and not r.may_be_negative():
            continue
        t = rb.types.get(r.record)
        out.append(Trigger(r.record, t.context if t else None, t.category if t else None,
                           ("rules", i), False, "score"))
    for i, a in enumerate(rb.attributes):
        pts = {b.points for b in a.bins} | {a.missing}
        if adverse_only and len(pts) < 2:
            continue
        t = rb.types.get(a.record)
        out.append(Trigger(a.record, a.context or (t.context if t else None),
                           a.category or (t.category if t else None), ("attributes", i),
                           False, "score"))
    return out


def list_triggers(rb: Rulebook, list_id: str, *, adverse_only: bool) -> list[Trigger]:
    for i, x in enumerate(rb.lists):
        if x.id != list_id:
            continue
        rec = x.enter_when.record
        if rec is None:
            return [Trigger(t.type_id, t.context, t.category, t.path, False, f"list {x.id}")
                    for t in score_triggers(rb, adverse_only=adverse_only)]
        t = rb.types.get(rec)
        return [Trigger(rec, t.context if t else None, t.category if t else None,
                        ("lists", i), True, f"list {x.id}")]
    return []


def consequence_triggers(rb: Rulebook, c: Consequence) -> list[Trigger]:
    """Every record type that can bring the consequence about (deduplicated by type and
    path; a deny looks only at data that can count against the subject)."""
    adverse = c.effect == "deny"
    w = c.when
    found: list[Trigger] = []
    for key in ("on_list", "not_on_list"):
        lid = getattr(w, key)
        if lid is not None:
            found.extend(list_triggers(rb, lid, adverse_only=adverse))
    if any(v is not None for v in (w.tier_at_least, w.score_at_least, w.score_below)):
        found.extend(score_triggers(rb, adverse_only=adverse))
    seen: set[tuple[str, PathKey]] = set()
    out: list[Trigger] = []
    for t in found:
        if (t.type_id, t.path) not in seen:
            seen.add((t.type_id, t.path))
            out.append(t)
    return out


def source_key(c: Consequence) -> str:
    """What a consequence hangs on, to group joint sanctions set off by the same thing."""
    w = c.when
    if w.on_list is not None:
        return f"list {w.on_list}"
    if w.not_on_list is not None:
        return f"not on list {w.not_on_list}"
    conds = w.conditions()
    return "score " + ", ".join(f"{k}={v}" for k, v in sorted(conds.items())) if conds \
        else "always"
