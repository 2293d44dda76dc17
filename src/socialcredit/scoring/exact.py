"""Exact materialized standings: what a row stores so that it answers for any later time.

A standing moves with time alone in two ways. Decay is continuous and exponential, so
a sum of contributions with one half-life h, known at a reference time t0, is at any
later t that sum times 0.5^((t − t0) / h): one multiplication. Everything else is
discrete — a contribution expires, a resolution or a record dated later takes effect, a
max_count group loses a member, a fact expires, a listing starts or ends, a version
takes effect, lex mitior switches the rule that is milder — and each happens at an
instant the ledger already knows. So a row stores:

- per dimension, the part that does not decay (attribute points, rules without a
  half-life) and, per half-life, the decayed sum at t0;
- the record lists the subject is on at t0;
- for each score list with a notice N, the same sums for the standing that list looks
  back at (at t − N, from what the ledger knew by then);
- ``until``: the first instant after t0 at which anything discrete changes (None:
  nothing ever does).

For t0 ≤ t < until the standing is computed from the row alone (`evaluate`), equal to
the reference engine's to float rounding (the tests hold it to 1e-9) with the same
tier and lists. At or after ``until`` the row must be recomputed from the ledger. That
holds as long as nothing about the subject is recorded after the row's known_at: a
new record, a new version of the program, or a due-process effect makes the row stale
too, and the service refreshes or bypasses it then (docs/operations.md).

`build` is the oracle; :mod:`socialcredit.scoring.exact_batch` computes the same rows for
a whole partition at once (``score --all``, ingest's refresh), tested equal to it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.ledger.versions import version_at
from socialcredit.rulebook.model import Rule, Rulebook
from socialcredit.scoring import reference
from socialcredit.scoring.reference import clamp, counterpart
from socialcredit.scoring.standing import Standing
from socialcredit.timeutil import US_PER_DAY, days_to_us

#: margin (µs) by which an instant computed in floating point is brought forward: a row
#: that is refreshed a microsecond early is still exact; one refreshed late is not
MARGIN = 2


@dataclass(frozen=True)
class Sums:
    """A standing's scores as a function of time from t0: per dimension, the constant
    part and the decayed sum at t0 per half-life (days)."""

    constant: dict[str, float]
    decaying: dict[str, list[tuple[float, float]]]

    def dimensions(self, rb: Rulebook, dt_days: float) -> dict[str, float]:
        out: dict[str, float] = {}
        constant, decaying = self.constant, self.decaying
        for d, lo, hi in rb.dimension_bounds:
            s = constant.get(d, 0.0)
            for h, v in decaying.get(d, ()):
                s += v * 0.5 ** (dt_days / h)
            if lo is not None and s < lo:
                s = lo
            if hi is not None and s > hi:
                s = hi
            out[d] = s
        return out

    def as_json(self) -> dict[str, Any]:
        return {"c": self.constant, "d": {k: [list(p) for p in v]
                                          for k, v in self.decaying.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Sums:
        return cls({k: float(v) for k, v in data["c"].items()},
                   {k: [(float(h), float(v)) for h, v in pairs]
                    for k, pairs in data["d"].items()})


@dataclass(frozen=True)
class Terms:
    at: int  # t0, the reference time
    sums: Sums
    record_lists: list[str]  # record-entered lists in force at t0
    lagged: dict[float, Sums] = field(default_factory=dict)  # notice days -> sums at t0 − N
    until: int | None = None
    applies: bool = True  # the program applies to the subject's kind (score lists need it)

    def valid(self, t: int) -> bool:
        return self.at <= t and (self.until is None or t < self.until)

    def dumps(self) -> str:
        return json.dumps({"s": self.sums.as_json(), "l": self.record_lists,
                           "g": [[n, s.as_json()] for n, s in self.lagged.items()],
                           "a": self.applies}, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str, at: int, until: int | None) -> Terms:
        data = json.loads(text)
        return cls(at, Sums.from_json(data["s"]), list(data["l"]),
                   {float(n): Sums.from_json(s) for n, s in data["g"]}, until, bool(data["a"]))


@dataclass(frozen=True)
class Evaluated:
    score: float
    tier: str | None
    dimensions: dict[str, float]
    lists: list[str]


def _score(rb: Rulebook, dims: dict[str, float]) -> float:
    return clamp(rb.scale.base + sum(dims.values()), rb.scale.min, rb.scale.max)


def evaluate(rb: Rulebook, terms: Terms, t: int) -> Evaluated:
    """The standing at t from the row (t0 ≤ t < until; the caller checks)."""
    dt = (t - terms.at) / US_PER_DAY
    dims = terms.sums.dimensions(rb, dt)
    score = _score(rb, dims)
    tier = None
    for floor, tier_id in rb.tier_floors:  # the first tier whose floor the score reaches
        if floor <= score:
            tier = tier_id
            break
    on = terms.record_lists
    lists = []
    for list_id, by_record, threshold, notice in rb.list_plan:
        if by_record:
            if list_id in on:
                lists.append(list_id)
            continue
        assert threshold is not None
        if not terms.applies or not score < threshold:
            continue
        if notice > 0:
            lag = terms.lagged[notice]
            if not _score(rb, lag.dimensions(rb, dt)) < threshold:
                continue
        lists.append(list_id)
    return Evaluated(score, tier, dims, lists)


def settled(rb: Rulebook, terms: Terms) -> Evaluated | None:
    """`evaluate(rb, terms, t)` for every t the terms are valid at, when it does not
    depend on t: no sum decays (not even a lagged one), so between t0 and `until`
    nothing moves at all; else None. A row read again and again (a relying party's
    decisions) is then evaluated once, not per read."""
    if any(terms.sums.decaying.values()) or any(
            any(lag.decaying.values()) for lag in terms.lagged.values()):
        return None
    return evaluate(rb, terms, terms.at)


#: an evaluation as `Evaluator` gives it: (score, tier, dimensions, lists)
Values = tuple[float, "str | None", dict[str, float], list[str]]


def evaluator(rb: Rulebook, terms: Terms) -> Callable[[int], Values]:
    """`evaluate(rb, terms, ·)` with what does not move with t worked out once: a row
    whose sums decay, read again and again (decisions from memory), computes only the
    decaying dimensions, the score, the tier and the score lists at each t. The same
    operations in the same order on what moves, so the same floats (the tests hold it
    equal to `evaluate`)."""
    constant, decaying = terms.sums.constant, terms.sums.decaying
    fixed: dict[str, float] = {}  # every dimension in order; moving ones filled per t
    moving: list[tuple[str, float, tuple[tuple[float, float], ...], float | None,
                       float | None]] = []
    for d, lo, hi in rb.dimension_bounds:
        s = constant.get(d, 0.0)
        pairs = tuple(decaying.get(d, ()))
        if pairs:
            moving.append((d, s, pairs, lo, hi))
        fixed[d] = clamp(s, lo, hi)
    on = terms.record_lists
    # (list, its threshold or None: always on, the lagged sums to check or None)
    steps: list[tuple[str, float | None, Sums | None]] = []
    for list_id, by_record, threshold, notice in rb.list_plan:
        if by_record:
            if list_id in on:
                steps.append((list_id, None, None))
            continue
        assert threshold is not None
        if not terms.applies:
            continue
        lag = None
        if notice > 0:
            if notice not in terms.lagged:  # evaluate's KeyError, when it gets there
                return lambda t: _values(evaluate(rb, terms, t))
            lag = terms.lagged[notice]
            if not any(lag.decaying.values()):  # its score does not move
                if not _score(rb, lag.dimensions(rb, 0.0)) < threshold:
                    continue
                lag = None
        steps.append((list_id, threshold, lag))
    at, base, lo_s, hi_s = terms.at, rb.scale.base, rb.scale.min, rb.scale.max
    floors = rb.tier_floors

    def values(t: int) -> Values:
        dt = (t - at) / US_PER_DAY
        dims = fixed.copy()
        for d, s, pairs, lo, hi in moving:
            for h, v in pairs:
                s += v * 0.5 ** (dt / h)
            if lo is not None and s < lo:
                s = lo
            if hi is not None and s > hi:
                s = hi
            dims[d] = s
        score = clamp(base + sum(dims.values()), lo_s, hi_s)
        tier = None
        for floor, tier_id in floors:
            if floor <= score:
                tier = tier_id
                break
        lists = []
        for list_id, threshold, lag in steps:
            if threshold is not None:
                if not score < threshold:
                    continue
                if lag is not None and not _score(rb, lag.dimensions(rb, dt)) < threshold:
                    continue
            lists.append(list_id)
        return score, tier, dims, lists

    return values


def _values(ev: Evaluated) -> Values:
    return ev.score, ev.tier, ev.dimensions, ev.lists


# -- building a row ---------------------------------------------------------------------

def _after(t0: int, instant: float | int | None, out: list[int], exact: bool = False) -> None:
    """Note a discrete change at `instant` if it lies after t0 (floating-point instants
    brought forward by MARGIN)."""
    if instant is None:
        return
    at = int(instant) if exact else math.floor(instant) - MARGIN
    if at > t0:
        out.append(at)
    elif not exact and instant > t0:  # within the margin of t0: changes at once
        out.append(t0 + 1)


def _crossing(p1: float, h1: float | None, p2: float, h2: float | None) -> float | None:
    """The age (days) at which p1·0.5^(a/h1) and p2·0.5^(a/h2) cross, if they do at a
    positive age (no half-life: constant)."""
    if p1 == 0 or p2 == 0 or (p1 > 0) != (p2 > 0):
        return None
    r1 = 1 / h1 if h1 else 0.0
    r2 = 1 / h2 if h2 else 0.0
    if r1 == r2:
        return None
    a = (math.log2(abs(p1)) - math.log2(abs(p2))) / (r1 - r2)
    return a if a > 0 else None


def _sums(rb: Rulebook, st: Standing, records: dict[str, Record], t0: int, k: int,
          history: Sequence[ProgramVersion] | None, changes: list[int]) -> Sums:
    """The sums of a standing computed at t0, and (into `changes`) every instant after
    t0 at which its contributions change otherwise than by decay."""
    constant: dict[str, float] = {d.id: 0.0 for d in rb.dimensions}
    decaying: dict[str, dict[float, float]] = {}
    known = [pv for pv in history or () if pv.published_at <= k]
    by_version = {pv.version: pv.rulebook for pv in known}
    for c in st.contributions:
        rule = rb.rules[c.rule]
        r = records[c.record_id]
        used: Rule | None = rule
        if c.scored_under == "none":
            used = None
        elif c.scored_under is not None:
            used = counterpart(rb, c.rule, by_version[c.scored_under])
        if used is None or used.half_life is None:
            constant[c.dimension] = constant.get(c.dimension, 0.0) + c.contribution
        else:
            # the contribution at t0 (already decayed from occurred_at), per half-life
            per = decaying.setdefault(c.dimension, {})
            per[used.half_life] = per.get(used.half_life, 0.0) + c.contribution
        if rule.expires is not None:
            _after(t0, r.occurred_at + rule.expires * US_PER_DAY, changes)
        if known:
            then = version_at(known, r.occurred_at, k)
            old_rb = then.rulebook if then is not None else None
            if old_rb is not None and old_rb.sha256 != rb.sha256:
                old = counterpart(rb, c.rule, old_rb)
                if old is not None:
                    if old.expires is not None:
                        _after(t0, r.occurred_at + old.expires * US_PER_DAY, changes)
                    p_new, _ = reference.rule_contribution(rule, r, 0.0, c.resolved)
                    p_old, _ = reference.rule_contribution(old, r, 0.0, c.resolved)
                    cross = _crossing(p_new, rule.half_life, p_old, old.half_life)
                    if cross is not None:
                        _after(t0, r.occurred_at + cross * US_PER_DAY, changes)
    # records a max_count left out, and records that do not count yet, change nothing
    # until a counting one expires or their own time comes (noted by the caller)
    for a in st.attributes:
        constant[a.dimension] = constant.get(a.dimension, 0.0) + a.points
    return Sums(constant, {d: sorted(v.items()) for d, v in decaying.items()})


def _attribute_changes(rb: Rulebook, records: Iterable[Record], t0: int, k: int,
                       changes: list[int]) -> None:
    # every attribute on a type counts: two attributes may read one record type with
    # different expiries
    facts: dict[str, list[float]] = {}
    for a in rb.attributes:
        if a.expires is not None:
            facts.setdefault(a.record, []).append(float(a.expires))
    if not facts:
        return
    for r in records:
        if r.recorded_at <= k:
            for expires in facts.get(r.type, ()):
                _after(t0, r.occurred_at + expires * US_PER_DAY, changes)


def _rule_expiries(rb: Rulebook, records: Iterable[Record], t0: int, k: int,
                   changes: list[int]) -> None:
    """Every counting-or-not record's expiry under every rule on its type: a record a
    max_count group leaves out expires too (the set the group picks from changes)."""
    by_type = rb.rules_by_type
    for r in records:
        for i in by_type.get(r.type, ()):
            rule = rb.rules[i]
            if rule.expires is not None and r.recorded_at <= k:
                _after(t0, r.occurred_at + rule.expires * US_PER_DAY, changes)


def _bearing(rb: Rulebook, kind: str | None, records: Sequence[Record]) -> list[Record]:
    """The records whose instants can change the standing: none where the program does
    not apply (only a version taking effect can change that standing), else voids,
    resolutions and the types the rulebook reads — the records the batch engine reads
    too, so rows from both engines are refreshed at the same instants. A record of
    another type changes nothing while rb is in force, and a version taking effect is
    a change of its own."""
    if not rb.applies_to(kind):
        return []
    types = rb.scored_types | rb.list_types
    return [r for r in records if r.kind in ("void", "resolution") or r.type in types]


def build(rb: Rulebook, subject: str, kind: str | None, records: Sequence[Record], t0: int,
          k: int, *, program: str | None = None, now: int | None = None,
          history: Sequence[ProgramVersion] | None = None) -> tuple[Standing, Terms]:
    """The reference engine's standing at (t0, k) and the row that reproduces it at any
    t in [t0, until) (as known at any k' ≥ k, while nothing more is recorded)."""
    st = reference.standing(rb, subject, kind, records, t0, k, program=program, now=now,
                            history=history)
    records = _bearing(rb, kind, records)
    by_id = {r.record_id: r for r in records}
    changes: list[int] = []
    sums = _sums(rb, st, by_id, t0, k, history, changes)
    _rule_expiries(rb, records, t0, k, changes)
    _attribute_changes(rb, records, t0, k, changes)
    for r in records:  # a record (or resolution) dated after t0 takes effect then
        if r.recorded_at <= k:
            _after(t0, r.occurred_at, changes, exact=True)
            # a backfilled record's notice runs from when the ledger learnt of it, which
            # can be after t0: its listing is then neither in force nor pending at t0,
            # and its notice starting is a change of its own
            _after(t0, r.known_at, changes, exact=True)
    for pv in history or ():  # a version taking effect
        if pv.published_at <= k:
            _after(t0, pv.effective_at, changes, exact=True)
    for e in [*st.list_entries, *st.pending]:
        if e.record_id is None:
            continue  # score lists: evaluated from the sums
        _after(t0, e.start, changes, exact=True)
        _after(t0, e.end, changes, exact=True)
    record_lists = [x for x in st.lists
                    if next(y for y in rb.lists if y.id == x).enter_when.record is not None]
    lagged: dict[float, Sums] = {}
    if rb.applies_to(kind):
        for x in rb.lists:
            if x.enter_when.score_below is None or x.notice <= 0 or float(x.notice) in lagged:
                continue
            n = days_to_us(x.notice)
            lag_changes: list[int] = []
            lag_t = t0 - n
            lag_k = min(k, lag_t)
            lag = reference.standing(rb, subject, kind, records, lag_t, lag_k,
                                     program=program, with_lists=False, history=history,
                                     by_knowledge=True)
            lagged[float(x.notice)] = _sums(rb, lag, by_id, lag_t, lag_k, history,
                                            lag_changes)
            _rule_expiries(rb, records, lag_t, lag_k, lag_changes)
            _attribute_changes(rb, records, lag_t, lag_k, lag_changes)
            for r in records:
                if r.known_at <= lag_k:
                    _after(lag_t, r.occurred_at, lag_changes, exact=True)
                elif r.recorded_at <= k:
                    # the look-back learns of it when t − N reaches when it was known
                    lag_changes.append(max(r.known_at, lag_t + 1))
            for pv in history or ():
                if pv.published_at <= k:
                    _after(lag_t, pv.effective_at, lag_changes, exact=True)
                    if pv.published_at > lag_k:
                        lag_changes.append(max(pv.published_at, lag_t + 1))
            changes.extend(c + n for c in lag_changes)
    until = min(changes) if changes else None
    return st, Terms(t0, sums, record_lists, lagged, until, rb.applies_to(kind))


__all__ = ["Evaluated", "Sums", "Terms", "build", "evaluate", "settled"]
