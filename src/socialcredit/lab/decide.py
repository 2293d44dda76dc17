"""Decisions for a whole population at once, with the decision semantics of
:func:`socialcredit.decisions.evaluate`: any applying ``deny`` → deny; else any
applying ``benefit`` → benefit; else allow (an action no consequence names → allow).

``evaluate`` takes one Standing and builds every reason with its evidence, which is
what a subject is owed but is per subject Python; the lab needs the effect for a
million subjects a month and only the effect, so the same conditions are evaluated
here as array expressions over the engine's score, tier and lists.
tests/lab/test_decide.py checks this against ``evaluate`` on sampled standings.

A consequence that reaches someone other than the subject (``applies_to`` other than
``self``) can only occur in a rulebook the engine refuses; under ``--study`` the lab
has no relatives to apply it to and skips it, and says so in the report.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from socialcredit.rulebook.model import Consequence, Rulebook

F64 = npt.NDArray[np.float64]
I8 = npt.NDArray[np.int8]
U32 = npt.NDArray[np.uint32]
Bool = npt.NDArray[np.bool_]

ALLOW, BENEFIT, DENY = 0, 1, 2
EFFECTS = ("allow", "benefit", "deny")


@dataclass(frozen=True)
class ActionRule:
    action: str
    consequences: tuple[Consequence, ...]
    skipped: tuple[Consequence, ...]  # applies_to other than self


def action_rules(rb: Rulebook, action: str) -> ActionRule:
    mine = [c for c in rb.consequences if c.action == action]
    return ActionRule(action, tuple(c for c in mine if c.applies_to == "self"),
                      tuple(c for c in mine if c.applies_to != "self"))


def holds(rb: Rulebook, c: Consequence, score: F64, tier: I8, lists: U32) -> Bool:
    """Where every condition of c's `when` holds (tier: 0 = highest; len(tiers) = no
    tier, which never satisfies tier_at_least)."""
    ok = np.ones(len(score), np.bool_)
    list_bit = {x.id: np.uint32(1 << i) for i, x in enumerate(rb.lists)}
    w = c.when
    if w.on_list is not None:
        ok &= (lists & list_bit[w.on_list]) != 0
    if w.not_on_list is not None:
        ok &= (lists & list_bit[w.not_on_list]) == 0
    if w.tier_at_least is not None:
        ok &= tier <= rb.tier_rank[w.tier_at_least]
    if w.score_at_least is not None:
        ok &= score >= w.score_at_least
    if w.score_below is not None:
        ok &= score < w.score_below
    return ok


def effects(rb: Rulebook, rule: ActionRule, score: F64, tier: I8, lists: U32) -> I8:
    """ALLOW / BENEFIT / DENY per subject."""
    out = np.zeros(len(score), np.int8)
    for c in rule.consequences:
        if c.effect == "benefit":
            h = holds(rb, c, score, tier, lists)
            out[h & (out == ALLOW)] = BENEFIT
    for c in rule.consequences:
        if c.effect == "deny":
            out[holds(rb, c, score, tier, lists)] = DENY
    return out


__all__ = ["ALLOW", "BENEFIT", "DENY", "EFFECTS", "ActionRule", "action_rules", "effects",
           "holds"]
