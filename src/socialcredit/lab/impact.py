"""diff-impact: who would change tier, list or decision today if version V2 of a
rulebook replaced V1, on the real ledger.

Both versions are scored by the batch engine over the same records, partition by
partition of subjects (``subject_ranges`` + ``fetch_partition``: bounded memory on any
ledger size), at the same (t, k) — by default now, the ledger's clock. V1 and V2 are
each a published version (``program@version``), a program id (its version in force at
t), a rulebook file, or a shipped rulebook's name. A V2 the engine would refuse is
refused here too (it could not replace anything), unless ``study``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import func, select

from socialcredit.errors import LedgerError
from socialcredit.lab.api import rulebook_info, study_banner
from socialcredit.lab.decide import EFFECTS, action_rules, effects
from socialcredit.lab.incremental import Plan, parse_standings
from socialcredit.ledger import schema as s
from socialcredit.ledger.store import Ledger
from socialcredit.rulebook import Rulebook
from socialcredit.scoring.batch import score_partition
from socialcredit.scoring.partitions import (
    DEFAULT_ROWS_PER_PARTITION,
    fetch_partition,
    subject_ranges,
)
from socialcredit.synth import resolve_rulebook
from socialcredit.timeutil import format_instant

NONE = "(none)"


def resolve_version(ledger: Ledger, spec: str, t: int) -> tuple[Rulebook, str]:
    """A rulebook from `program@version`, a program id, a file or a shipped name."""
    programs = ledger.programs()
    if "@" in spec and not Path(spec).exists():
        program, version = spec.rsplit("@", 1)
        for pv in ledger.program_versions(program):
            if pv.version == version:
                return pv.rulebook, f"{program} {version} (published)"
        raise LedgerError(f"{spec}: no version {version!r} of program {program!r} in this "
                          f"ledger (programs: {', '.join(programs) or 'none'})")
    if spec in programs:
        pv = ledger.version_in_force(spec, t, t)
        return pv.rulebook, f"{spec} {pv.version} (in force)"
    rb = resolve_rulebook(spec)
    return rb, f"{rb.rulebook} {rb.version} ({spec})"


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


def diff_impact(ledger: Ledger, v1: str, v2: str, *, at: int | None = None,
                examples: int = 10, study: bool = False,
                rows_per_partition: int = DEFAULT_ROWS_PER_PARTITION) -> ImpactReport:
    t = ledger.clock() if at is None else at
    k = t
    rb1, label1 = resolve_version(ledger, v1, t)
    rb2, label2 = resolve_version(ledger, v2, t)
    banner = study_banner(rb2, study)
    p1, p2 = Plan(rb1), Plan(rb2)
    info1 = {**rulebook_info(rb1), "spec": label1, "tiers": [*p1.tier_ids, NONE]}
    info2 = {**rulebook_info(rb2), "spec": label2, "tiers": [*p2.tier_ids, NONE]}
    report = ImpactReport(info1, info2, t, study_only=banner)
    actions = sorted({c.action for c in rb1.consequences} | {c.action for c in rb2.consequences})
    rules1 = {a: action_rules(rb1, a) for a in actions}
    rules2 = {a: action_rules(rb2, a) for a in actions}
    list_ids = list(dict.fromkeys([*p1.list_ids, *p2.list_ids]))
    report.lists = {x: {"v1": 0, "v2": 0, "entered": 0, "left": 0} for x in list_ids}
    report.decisions = {a: {"changed": 0, **{f"{e1}->{e2}": 0 for e1 in EFFECTS
                                             for e2 in EFFECTS if e1 != e2}}
                        for a in actions}
    same_tiers = p1.tier_ids == p2.tier_ids
    candidates: list[tuple[float, str, dict[str, Any]]] = []
    delta_sum = 0.0
    changed_total = 0
    with ledger.engine.connect() as conn:
        n = int(conn.execute(select(func.count()).select_from(s.records)).scalar() or 0)
        parts = max(1, -(-n // max(rows_per_partition, 1)))
        for lo, hi in subject_ranges(conn, parts):
            r1, s1 = fetch_partition(conn, rb1, k, lo, hi)
            r2, s2 = fetch_partition(conn, rb2, k, lo, hi)
            o1 = score_partition(rb1, r1, s1, t, k).sort_by("subject")
            o2 = score_partition(rb2, r2, s2, t, k).sort_by("subject")
            if o1.column("subject") != o2.column("subject"):
                raise LedgerError("diff-impact: the two versions saw different subjects")
            m = o1.num_rows
            if not m:
                continue
            report.subjects += m
            subjects = o1.column("subject").to_pylist()
            sc1, sc2 = o1.column("score").to_numpy(), o2.column("score").to_numpy()
            delta_sum += float((sc2 - sc1).sum())
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
            changed_total += int(changed.sum())
            for i in np.flatnonzero(changed).tolist():
                candidates.append((-abs(float(sc2[i] - sc1[i])), subjects[i], {
                    "subject": subjects[i], "score_v1": float(sc1[i]),
                    "score_v2": float(sc2[i]), "tier_v1": tiers1[i], "tier_v2": tiers2[i],
                    "lists_v1": lists1[i], "lists_v2": lists2[i]}))
            candidates.sort(key=lambda c: (c[0], c[1]))
            del candidates[examples:]
    report.changed = changed_total
    report.score_change_mean = delta_sum / report.subjects if report.subjects else 0.0
    report.examples = [c[2] for c in candidates]
    if not same_tiers:
        report.tier_up = report.tier_down = -1  # not comparable: as_dict says None
    return report


def _rank(plan: Plan, tier: str) -> int:
    return plan.tier_ids.index(tier) if tier in plan.tier_ids else len(plan.tier_ids)


__all__ = ["ImpactReport", "diff_impact", "resolve_version"]
