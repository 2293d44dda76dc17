"""The reference engine: the contract of docs/semantics.md, clause by clause, per subject.

Plain Python on purpose. It is the oracle the batch and cluster engines are tested
against, so every line should be checkable against the contract by reading it.
"""

from __future__ import annotations

from collections.abc import Iterable

from socialcredit.ledger.model import Record
from socialcredit.rulebook.model import Attribute, Bin, ListDef, Rulebook
from socialcredit.scoring.standing import (
    AttributeScore,
    Contribution,
    ListEntry,
    RulebookRef,
    Standing,
)
from socialcredit.timeutil import US_PER_DAY, days_to_us

KEY_FACTORS = 4  # as an adverse-action notice lists them (FCRA)


def clamp(x: float, lo: float | None, hi: float | None) -> float:
    if lo is not None and x < lo:
        x = lo
    if hi is not None and x > hi:
        x = hi
    return x


def age_days(t: int, occurred_at: int) -> float:
    """(t − occurred_at) in seconds / 86,400."""
    return (t - occurred_at) / US_PER_DAY


class _View:
    """The ledger as known at k, up to t: voids, resolutions, and records by type."""

    def __init__(self, records: Iterable[Record], t: int, k: int) -> None:
        known = [r for r in records if r.recorded_at <= k]
        # clause 3: a void known at k withdraws its target whatever the void's occurred_at
        self.voided = {r.ref for r in known if r.kind == "void" and r.ref}
        self.by_type: dict[str, list[Record]] = {}
        self.first_resolution: dict[str, Record] = {}
        for r in known:
            if r.record_id in self.voided:
                continue
            if r.kind == "resolution":
                if r.ref and r.occurred_at <= t:
                    cur = self.first_resolution.get(r.ref)
                    if cur is None or (r.occurred_at, r.record_id) < (cur.occurred_at,
                                                                        cur.record_id):
                        self.first_resolution[r.ref] = r
            elif r.kind != "void" and r.occurred_at <= t:  # clause 2
                self.by_type.setdefault(r.type, []).append(r)


def _bin_for(value: float | str | None, bins: Iterable[Bin]) -> tuple[int, Bin] | None:
    for i, b in enumerate(bins):
        if b.below is not None:
            if isinstance(value, float | int) and value < b.below:
                return i, b
        elif b.values is not None:
            if any(_same(value, v) for v in b.values):
                return i, b
        else:
            return i, b
    return None


def _same(value: float | str | None, listed: float | str) -> bool:
    if value is None:
        return False
    if isinstance(listed, str) and not isinstance(value, str):
        try:
            return float(listed) == value
        except ValueError:
            return False
    if isinstance(value, str) and not isinstance(listed, str):
        try:
            return float(value) == listed
        except ValueError:
            return False
    return value == listed


def _attribute(i: int, a: Attribute, view: _View, t: int) -> AttributeScore:
    facts = [r for r in view.by_type.get(a.record, ())
             if a.expires is None or age_days(t, r.occurred_at) < a.expires]
    if not facts:
        return AttributeScore(i, a.record, a.dimension, None, None, None, a.missing)
    latest = max(facts, key=lambda r: (r.occurred_at, r.recorded_at, r.record_id))
    found = _bin_for(latest.value, a.bins)
    if found is None:  # a value no bin places is scored like a missing one (documented)
        return AttributeScore(i, a.record, a.dimension, latest.record_id, latest.value, None,
                              a.missing)
    bi, b = found
    return AttributeScore(i, a.record, a.dimension, latest.record_id, latest.value, bi, b.points)


def _record_list_entries(x: ListDef, view: _View, t: int) -> list[ListEntry]:
    assert x.enter_when.record is not None
    out = []
    for r in view.by_type.get(x.enter_when.record, ()):
        start = r.recorded_at + days_to_us(x.notice)
        cap = start + days_to_us(x.max_duration) if x.max_duration is not None else None
        res = view.first_resolution.get(r.record_id)
        end, ended_by = cap, ("max_duration" if cap is not None else None)
        if res is not None and (end is None or res.occurred_at < end):
            end, ended_by = res.occurred_at, res.record_id
        out.append(ListEntry(x.id, x.kind, x.public, r.record_id, r.recorded_at, start, end,
                             ended_by))
    return out


def score_only(rb: Rulebook, subject_kind: str | None, records: Iterable[Record], t: int,
               k: int) -> float:
    return standing(rb, "", subject_kind, records, t, k, with_lists=False).score


def standing(rb: Rulebook, subject: str, subject_kind: str | None,
             records: Iterable[Record], t: int, k: int, *, program: str | None = None,
             with_lists: bool = True, now: int | None = None) -> Standing:
    records = list(records)
    applies = rb.applies_to(subject_kind)  # clause 1, first half
    view = _View(records if applies else (), t, k)
    notes: list[str] = []
    if not applies:
        notes.append(f"program {rb.rulebook} applies to {', '.join(rb.subjects)}; this subject "
                     f"is {'unknown to the ledger' if subject_kind is None else subject_kind}")

    contributions: list[Contribution] = []
    for i, rule in enumerate(rb.rules):  # clause 1, second half: a rule for r's type
        label = rb.types[rule.record].label
        counting = []
        for r in view.by_type.get(rule.record, ()):
            age = age_days(t, r.occurred_at)
            if rule.expires is not None and not age < rule.expires:  # clause 4
                continue
            counting.append((r, age))
        if rule.max_count is not None:
            counting.sort(key=lambda ra: (ra[0].occurred_at, ra[0].record_id), reverse=True)
            counting = counting[: rule.max_count]
        for r, age in counting:
            if rule.points is not None:
                points = rule.points
            else:
                assert rule.points_per_unit is not None
                v = r.value_num
                points = rule.points_per_unit * v if v is not None else 0.0
            resolved = r.record_id in view.first_resolution
            if resolved and rule.resolved_points is not None:
                points = rule.resolved_points
            contribution = (points * 0.5 ** (age / rule.half_life)
                            if rule.half_life is not None else points)
            contributions.append(Contribution(r.record_id, r.type, i, rule.dimension, points,
                                              contribution, r.occurred_at, age, resolved, label))

    attributes = [_attribute(i, a, view, t) for i, a in enumerate(rb.attributes)] if applies \
        else [AttributeScore(i, a.record, a.dimension, None, None, None, a.missing)
              for i, a in enumerate(rb.attributes)]

    sums = {d.id: 0.0 for d in rb.dimensions}
    for c in contributions:
        sums[c.dimension] += c.contribution
    for a in attributes:
        sums[a.dimension] += a.points
    dims = {d.id: clamp(sums[d.id], d.min, d.max) for d in rb.dimensions}
    score = clamp(rb.scale.base + sum(dims.values()), rb.scale.min, rb.scale.max)
    tier = next((tr.id for tr in rb.tiers if tr.min <= score), None)

    key = sorted((c for c in contributions if c.contribution < 0),
                 key=lambda c: (c.contribution, c.record_id))[:KEY_FACTORS]

    entries: list[ListEntry] = []
    pending: list[ListEntry] = []
    in_force: list[str] = []
    if with_lists:
        for x in rb.lists:
            if x.enter_when.record is not None:
                candidates = _record_list_entries(x, view, t) if applies else []
            else:
                candidates = _score_list(rb, x, subject_kind, records, t, k, score)
            on = False
            for e in candidates:
                if e.start is not None and e.start <= t and (e.end is None or t < e.end):
                    entries.append(e)
                    on = True
                elif e.notice_from is not None and e.notice_from <= t and (
                        e.start is not None and t < e.start) and (e.end is None or t < e.end):
                    pending.append(e)
            if on:
                in_force.append(x.id)
    return Standing(
        subject=subject, subject_kind=subject_kind, program=program or rb.rulebook, at=t,
        known_at=k, applies=applies, score=score, tier=tier, dimensions=dims, lists=in_force,
        list_entries=entries, pending=pending, contributions=contributions,
        attributes=attributes, key_factors=key,
        rulebook=RulebookRef(rb.rulebook, rb.version, rb.sha256),
        projection=now is not None and t > now, notes=notes)


def _score_list(rb: Rulebook, x: ListDef, subject_kind: str | None, records: list[Record],
                t: int, k: int, score: float) -> list[ListEntry]:
    """Score lists (implementation-defined, documented in docs/semantics.md): the subject
    is listed at t iff its score is below the threshold at t and was already below it at
    t − notice (as known at k), so a warning always precedes effect by the notice period;
    membership ends as soon as the score recovers (every negative point expires, so it
    cannot be permanent)."""
    assert x.enter_when.score_below is not None
    threshold = x.enter_when.score_below
    if not rb.applies_to(subject_kind) or not score < threshold:
        return []
    notice_from = t - days_to_us(x.notice)
    if x.notice > 0 and not score_only(rb, subject_kind, records, notice_from, k) < threshold:
        # below now, but not for the whole notice period: notified, not yet in effect
        return [ListEntry(x.id, x.kind, x.public, None, t, t + days_to_us(x.notice), None,
                          None)]
    start = notice_from + days_to_us(x.notice)
    return [ListEntry(x.id, x.kind, x.public, None, notice_from, start, None, None)]
