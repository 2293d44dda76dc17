"""diff-impact: who would change tier, list or decision if version V2 of a rulebook
replaced V1 — the comparison.

The service (service/impact.py) reads the real ledger partition by partition of
subjects and scores each partition under both versions with the batch engine at the
same (t, k); this module compares the two standings of every subject and adds them up
(tier transitions, list entries and exits, decisions that change, examples), so memory
stays bounded by one partition whatever the ledger's size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from socialcredit.errors import LedgerError
from socialcredit.lab.api import rulebook_info, study_banner
from socialcredit.lab.decide import EFFECTS, action_rules, effects
from socialcredit.lab.incremental import Plan, parse_standings
from socialcredit.rulebook import Rulebook
from socialcredit.timeutil import format_instant

NONE = "(none)"


@dataclass
class ImpactReport:
    v1: dict[str, Any]
    v2: dict[str, Any]
    at: int
    subjects: int = 0
    changed: int = 0  # tier, a list or a decision
    tier_changed: int = 0
    tier_up: int = 0
    tier_down: int = 0
    transitions: dict[tuple[str, str], int] = field(default_factory=dict)
    lists: dict[str, dict[str, int]] = field(default_factory=dict)
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    score_change_mean: float = 0.0
    examples: list[dict[str, Any]] = field(default_factory=list)
    study_only: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        t1 = sorted({a for a, _ in self.transitions}, key=self._order(1))
        t2 = sorted({b for _, b in self.transitions}, key=self._order(2))
        return {
            "study_only": self.study_only,
            "v1": self.v1, "v2": self.v2, "at": format_instant(self.at),
            "subjects": self.subjects,
            "changed": self.changed,
            "tier": {"changed": self.tier_changed,
                     "up": None if self.tier_up < 0 else self.tier_up,
                     "down": None if self.tier_down < 0 else self.tier_down,
                     "v1_tiers": t1, "v2_tiers": t2,
                     "transitions": [[self.transitions.get((a, b), 0) for b in t2]
                                     for a in t1]},
            "lists": self.lists,
            "decisions": self.decisions,
            "score_change_mean": self.score_change_mean,
            "examples": self.examples,
        }

    def _order(self, which: int) -> Any:
        tiers = self.v1["tiers"] if which == 1 else self.v2["tiers"]

        def key(name: str) -> tuple[int, str]:
            return (tiers.index(name) if name in tiers else len(tiers), name)

        return key


def _tier_names(table: pa.Table) -> list[str]:
    return [NONE if t is None else str(t) for t in table.column("tier").to_pylist()]


class ImpactComparison:
    """Adds up the differences between V1's and V2's standings, partition by partition."""

    def __init__(self, rb1: Rulebook, label1: str, rb2: Rulebook, label2: str, t: int, *,
                 examples: int = 10, study: bool = False) -> None:
        banner = study_banner(rb2, study)
        self.rb1, self.rb2, self.examples = rb1, rb2, examples
        self.p1, self.p2 = Plan(rb1), Plan(rb2)
        info1 = {**rulebook_info(rb1), "spec": label1, "tiers": [*self.p1.tier_ids, NONE]}
        info2 = {**rulebook_info(rb2), "spec": label2, "tiers": [*self.p2.tier_ids, NONE]}
        self.report = ImpactReport(info1, info2, t, study_only=banner)
        self.actions = sorted({c.action for c in rb1.consequences}
                              | {c.action for c in rb2.consequences})
        self.rules1 = {a: action_rules(rb1, a) for a in self.actions}
        self.rules2 = {a: action_rules(rb2, a) for a in self.actions}
        list_ids = list(dict.fromkeys([*self.p1.list_ids, *self.p2.list_ids]))
        self.report.lists = {x: {"v1": 0, "v2": 0, "entered": 0, "left": 0}
                             for x in list_ids}
        self.report.decisions = {a: {"changed": 0, **{f"{e1}->{e2}": 0 for e1 in EFFECTS
                                                      for e2 in EFFECTS if e1 != e2}}
                                 for a in self.actions}
        self.same_tiers = self.p1.tier_ids == self.p2.tier_ids
        self.candidates: list[tuple[float, str, dict[str, Any]]] = []
        self.delta_sum = 0.0
        self.changed_total = 0

    def add(self, standings_v1: pa.Table, standings_v2: pa.Table) -> None:
        """One partition's standings under V1 and under V2 (same subjects)."""
        report, p1, p2 = self.report, self.p1, self.p2
        rb1, rb2, actions = self.rb1, self.rb2, self.actions
        rules1, rules2 = self.rules1, self.rules2
        same_tiers, candidates, examples = self.same_tiers, self.candidates, self.examples
        o1 = standings_v1.sort_by("subject")
        o2 = standings_v2.sort_by("subject")
        if o1.column("subject") != o2.column("subject"):
            raise LedgerError("diff-impact: the two versions saw different subjects")
        m = o1.num_rows
        if not m:
            return
        report.subjects += m
        subjects = o1.column("subject").to_pylist()
        sc1, sc2 = o1.column("score").to_numpy(), o2.column("score").to_numpy()
        self.delta_sum += float((sc2 - sc1).sum())
        tiers1, tiers2 = _tier_names(o1), _tier_names(o2)
        _, _, ti1, b1 = parse_standings(p1, o1)
        _, _, ti2, b2 = parse_standings(p2, o2)
        rank1 = np.array([_rank(p1, x) for x in tiers1])
        rank2 = np.array([_rank(p2, x) for x in tiers2])
        tier_changed = np.array([a != b for a, b in zip(tiers1, tiers2, strict=True)])
        report.tier_changed += int(tier_changed.sum())
        if same_tiers:  # up/down only mean something on one tier scale
            report.tier_up += int((tier_changed & (rank2 < rank1)).sum())
            report.tier_down += int((tier_changed & (rank2 > rank1)).sum())
        for a, b in zip(tiers1, tiers2, strict=True):
            report.transitions[(a, b)] = report.transitions.get((a, b), 0) + 1
        lists1 = o1.column("lists").to_pylist()
        lists2 = o2.column("lists").to_pylist()
        list_changed = np.zeros(m, np.bool_)
        for i, (l1, l2) in enumerate(zip(lists1, lists2, strict=True)):
            set1, set2 = set(l1), set(l2)
            for x in set1:
                report.lists[x]["v1"] += 1
            for x in set2:
                report.lists[x]["v2"] += 1
            for x in set2 - set1:
                report.lists[x]["entered"] += 1
            for x in set1 - set2:
                report.lists[x]["left"] += 1
            list_changed[i] = set1 != set2
        decision_changed = np.zeros(m, np.bool_)
        for a in actions:
            e1 = effects(rb1, rules1[a], sc1, ti1, b1)
            e2 = effects(rb2, rules2[a], sc2, ti2, b2)
            diff = e1 != e2
            decision_changed |= diff
            report.decisions[a]["changed"] += int(diff.sum())
            for x, y in zip(e1[diff].tolist(), e2[diff].tolist(), strict=True):
                report.decisions[a][f"{EFFECTS[x]}->{EFFECTS[y]}"] += 1
        changed = tier_changed | list_changed | decision_changed
        self.changed_total += int(changed.sum())
        for i in np.flatnonzero(changed).tolist():
            candidates.append((-abs(float(sc2[i] - sc1[i])), subjects[i], {
                "subject": subjects[i], "score_v1": float(sc1[i]),
                "score_v2": float(sc2[i]), "tier_v1": tiers1[i], "tier_v2": tiers2[i],
                "lists_v1": lists1[i], "lists_v2": lists2[i]}))
        candidates.sort(key=lambda c: (c[0], c[1]))
        del candidates[examples:]

    def finish(self) -> ImpactReport:
        report = self.report
        report.changed = self.changed_total
        report.score_change_mean = (self.delta_sum / report.subjects if report.subjects
                                    else 0.0)
        report.examples = [c[2] for c in self.candidates]
        if not self.same_tiers:
            report.tier_up = report.tier_down = -1  # not comparable: as_dict says None
        return report


def _rank(plan: Plan, tier: str) -> int:
    return plan.tier_ids.index(tier) if tier in plan.tier_ids else len(plan.tier_ids)


__all__ = ["ImpactComparison", "ImpactReport"]
