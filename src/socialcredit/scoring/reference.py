"""The reference engine: the contract of docs/semantics.md, clause by clause, per subject.

Plain Python on purpose. It is the oracle the batch and cluster engines are tested
against, so every line should be checkable against the contract by reading it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.ledger.versions import version_at
from socialcredit.rulebook.model import Attribute, Bin, ListDef, Rule, Rulebook
from socialcredit.scoring.standing import (
    AttributeScore,
    Contribution,
    ListEntry,
    RulebookRef,
    Standing,
)
from socialcredit.scoring.standing import contribution as new_contribution
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
    """The ledger as known at k, up to t: voids, resolutions, and records by type.

    With by_knowledge, "known at k" means what this ledger itself knew by k (a
    backfilled record from when it was backfilled), which is what notice runs from."""

    def __init__(self, records: Iterable[Record], t: int, k: int,
                 by_knowledge: bool = False) -> None:
        self.by_type: dict[str, list[Record]] = {}
        self.first_resolution: dict[str, Record] = {}
        self.voided: set[str] = set()
        # Record.known_at <= k spelled out (max(recorded_at, ingested_at) <= k): a
        # property call per record cost a third of a busy subject's view, and most
        # records a notice period's look back skips fail its first comparison
        known = [r for r in records if r.recorded_at <= k and (
            r.ingested_at is None or r.ingested_at <= k)] if by_knowledge else \
            records if isinstance(records, list) else list(records)
        if self._one_pass(known, t, k):
            return
        self.by_type, self.first_resolution = {}, {}
        self._two_passes(known, t, k)

    def _one_pass(self, records: list[Record], t: int, k: int) -> bool:
        """The view in one pass over the records (those known at k by recorded_at: a
        by_knowledge caller has filtered them further) without a void known at k (the
        common case: a void must be seen before its target is skipped). False, and a
        part-built view, where a void is known at k: then `_two_passes` builds it
        (tests/scoring/test_view.py holds the two equal to the clauses)."""
        by_type, first_resolution = self.by_type, self.first_resolution
        for r in records:
            if r.recorded_at > k:
                continue
            kind = r.kind
            if kind == "resolution":
                if r.ref and r.occurred_at <= t:
                    cur = first_resolution.get(r.ref)
                    if cur is None or (r.occurred_at, r.record_id) < (cur.occurred_at,
                                                                        cur.record_id):
                        first_resolution[r.ref] = r
            elif kind == "void":
                if r.ref:
                    return False
            elif r.occurred_at <= t:  # clause 2
                of_type = by_type.get(r.type)
                if of_type is None:
                    by_type[r.type] = [r]
                else:
                    of_type.append(r)
        return True

    def _two_passes(self, records: list[Record], t: int, k: int) -> None:
        known = [r for r in records if r.recorded_at <= k]
        # clause 3: a void known at k withdraws its target whatever the void's occurred_at
        self.voided = voided = {r.ref for r in known if r.kind == "void" and r.ref}
        by_type, first_resolution = self.by_type, self.first_resolution
        for r in known:
            if voided and r.record_id in voided:
                continue
            kind = r.kind
            if kind == "resolution":
                if r.ref and r.occurred_at <= t:
                    cur = first_resolution.get(r.ref)
                    if cur is None or (r.occurred_at, r.record_id) < (cur.occurred_at,
                                                                        cur.record_id):
                        first_resolution[r.ref] = r
            elif kind != "void" and r.occurred_at <= t:  # clause 2
                of_type = by_type.get(r.type)
                if of_type is None:
                    by_type[r.type] = [r]
                else:
                    of_type.append(r)


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


class _Laws:
    """Which version's rules judge a record (no retroactive punishment): the version in
    force when the conduct occurred, unless the version in force at t is milder.

    Without a history every record is judged by the one rulebook given."""

    def __init__(self, rb: Rulebook, history: Sequence[ProgramVersion] | None, k: int) -> None:
        self.rb = rb
        self.history = [pv for pv in history or () if pv.published_at <= k]
        self.k = k
        self._cache: dict[int, Rulebook | None] = {}
        #: records that occurred at or after this are judged by a version with rb's own
        #: rules (every version known at k has rb's sha256, and one is in force from
        #: here on): lex mitior changes nothing for them, so `standing` skips it. None:
        #: some version known at k differs from rb.
        self.same_from: int | None = min(
            (pv.effective_at for pv in self.history), default=None) if all(
            pv.rulebook is rb or pv.rulebook.sha256 == rb.sha256 for pv in self.history
        ) else None

    def at_conduct(self, r: Record) -> Rulebook | None:
        """The rulebook in force when r occurred (as known at k); None where no version
        of the program was in force then."""
        if not self.history:
            return self.rb
        if r.occurred_at not in self._cache:
            pv = version_at(self.history, r.occurred_at, self.k)
            self._cache[r.occurred_at] = pv.rulebook if pv is not None else None
        return self._cache[r.occurred_at]


def counterpart(rb: Rulebook, rule_index: int, other: Rulebook | None) -> Rule | None:
    """The rule of `other` in the same place as rb's rule `rule_index`: the n-th rule on
    the same record type (None: `other` does not score it so)."""
    if other is None:
        return None
    record = rb.rules[rule_index].record
    n = rb.rules_by_type[record].index(rule_index)
    same = other.rules_by_type.get(record, ())
    return other.rules[same[n]] if n < len(same) else None


def rule_contribution(rule: Rule, r: Record, age: float, resolved: bool
                      ) -> tuple[float, float]:
    """(points, contribution) of a record under one rule at its age; (0, 0) once the
    rule would no longer count it."""
    if rule.expires is not None and not age < rule.expires:
        return 0.0, 0.0
    if rule.points is not None:
        points = rule.points
    else:
        assert rule.points_per_unit is not None
        v = r.value_num
        points = rule.points_per_unit * v if v is not None else 0.0
    if resolved and rule.resolved_points is not None:
        points = rule.resolved_points
    contribution = (points * 0.5 ** (age / rule.half_life)
                    if rule.half_life is not None else points)
    return points, contribution


def listing_interval(x: ListDef, r: Record, then: Rulebook | None, *, lex_mitior: bool = True
                     ) -> tuple[int, int, int | None] | None:
    """(notice_from, start, cap) of the listing r causes on x, or None. Under lex
    mitior (`then`: the version in force when the conduct occurred, None if none was)
    the listing lasts only while that version would also have listed it: the two
    intervals' intersection; no listing if it would not have listed it at all."""
    notice_from, start, cap = x.interval(r.occurred_at, r.recorded_at, r.known_at)
    if not lex_mitior:
        return notice_from, start, cap
    old = next((y for y in (then.lists if then is not None else ())
                if y.id == x.id and y.enter_when.record == x.enter_when.record), None)
    if old is None:  # not listable when it occurred: no retroactive listing
        return None
    if old is x or old == x:
        return notice_from, start, cap
    nf2, start2, cap2 = old.interval(r.occurred_at, r.recorded_at, r.known_at)
    caps = [c for c in (cap, cap2) if c is not None]
    return max(notice_from, nf2), max(start, start2), min(caps) if caps else None


def _record_list_entries(x: ListDef, view: _View, t: int, laws: _Laws | None
                         ) -> list[ListEntry]:
    assert x.enter_when.record is not None
    out = []
    for r in view.by_type.get(x.enter_when.record, ()):
        got = listing_interval(x, r, laws.at_conduct(r) if laws is not None else None,
                               lex_mitior=laws is not None)
        if got is None:
            continue
        notice_from, start, cap = got
        res = view.first_resolution.get(r.record_id)
        end, ended_by = cap, ("max_duration" if cap is not None else None)
        if res is not None and (end is None or res.occurred_at < end):
            end, ended_by = res.occurred_at, res.record_id
        out.append(ListEntry(x.id, x.kind, x.public, r.record_id, notice_from, start, end,
                             ended_by))
    return out


def record_listings(rb: Rulebook, subject_kind: str | None, records: Iterable[Record],
                    t: int, k: int, *, history: Sequence[ProgramVersion] | None = None
                    ) -> list[ListEntry]:
    """Every listing a record triggered under rb, as known at k, that had started by t —
    ended ones included, where a standing keeps only those in force at t: the history a
    chart of listings over time draws (due process's holds are the caller's to apply)."""
    if not rb.applies_to(subject_kind):
        return []
    view = _View(records, t, k)
    laws = _Laws(rb, history, k) if history else None
    return [e for x in rb.lists if x.enter_when.record is not None
            for e in _record_list_entries(x, view, t, laws)
            if e.start is not None and e.start <= t]


def record_entries(rb: Rulebook, subject_kind: str | None, records: Iterable[Record],
                   t: int, k: int) -> tuple[list[ListEntry], list[ListEntry]]:
    """(pending, in force): the entries of `standing(rb, …, t, k)` (without history)
    that a record triggered, in the standing's order — what a record's notice reads,
    without the points, attributes and score lists it does not (tests/scoring/
    test_record_entries.py holds them equal)."""
    if not rb.applies_to(subject_kind):
        return [], []
    view = _View(records, t, k)
    entries: list[ListEntry] = []
    pending: list[ListEntry] = []
    for x in rb.lists:
        if x.enter_when.record is None:
            continue
        for e in _record_list_entries(x, view, t, None):
            place = _place(e, t)
            if place is not None:
                (entries if place else pending).append(e)
    return pending, entries


def _place(e: ListEntry, t: int) -> bool | None:
    """Where an entry stands at t: True in force, False pending (its notice running,
    its start ahead), None neither (ended, or its notice not yet begun)."""
    if e.end is not None and not t < e.end:
        return None
    if e.start is not None and e.start <= t:
        return True
    if e.notice_from is not None and e.notice_from <= t and e.start is not None:
        return False
    return None


def score_only(rb: Rulebook, subject_kind: str | None, records: Iterable[Record], t: int,
               k: int, *, history: Sequence[ProgramVersion] | None = None,
               by_knowledge: bool = False) -> float:
    return standing(rb, "", subject_kind, records, t, k, with_lists=False, history=history,
                    by_knowledge=by_knowledge).score


def standing(rb: Rulebook, subject: str, subject_kind: str | None,
             records: Iterable[Record], t: int, k: int, *, program: str | None = None,
             with_lists: bool = True, now: int | None = None,
             history: Sequence[ProgramVersion] | None = None,
             by_knowledge: bool = False) -> Standing:
    """The standing under rb (the version in force at t). `history` — every version of
    the program — turns on lex mitior: each record's points come from the version in
    force when it occurred unless rb treats it more favourably."""
    records = list(records)
    applies = rb.applies_to(subject_kind)  # clause 1, first half
    view = _View(records if applies else (), t, k, by_knowledge)
    laws = _Laws(rb, history, k) if history else None
    notes: list[str] = []
    if not applies:
        notes.append(f"program {rb.rulebook} applies to {', '.join(rb.subjects)}; this subject "
                     f"is {'unknown to the ledger' if subject_kind is None else subject_kind}")

    contributions: list[Contribution] = []
    # clause 1, second half: a rule for r's type (only the rules of types the subject has
    # records of, in rulebook order: a rulebook may hold 100,000 rules)
    by_type = rb.rules_by_type
    present = sorted(i for typ in view.by_type for i in by_type.get(typ, ()))
    same_from = laws.same_from if laws is not None else None
    for i in present:
        rule = rb.rules[i]
        label = rb.types[rule.record].label
        expires = rule.expires
        of_type = view.by_type.get(rule.record, ())
        # age_days, inline: once per record; clause 4 (a list comprehension: a busy
        # subject's expired records are most of them)
        counting = [(r, (t - r.occurred_at) / US_PER_DAY) for r in of_type] \
            if expires is None else \
            [(r, age) for r in of_type if (age := (t - r.occurred_at) / US_PER_DAY) < expires]
        if rule.max_count is not None:
            counting.sort(key=lambda ra: (ra[0].occurred_at, ra[0].record_id), reverse=True)
            counting = counting[: rule.max_count]
        for r, age in counting:
            resolved = r.record_id in view.first_resolution
            points, contribution = rule_contribution(rule, r, age, resolved)
            under = None
            if laws is not None and (same_from is None or r.occurred_at < same_from):
                then = laws.at_conduct(r)
                if then is not rb and (then is None or then.sha256 != rb.sha256):
                    # lex mitior: the rule in force when it occurred, unless rb's is milder
                    old = counterpart(rb, i, then)
                    p0, c0 = (rule_contribution(old, r, age, resolved) if old is not None
                              else (0.0, 0.0))
                    if c0 > contribution:
                        points, contribution = p0, c0
                        under = then.version if then is not None else "none"
            # Contribution(...), built without its frozen __init__ (scoring/standing.py)
            contributions.append(new_contribution(r.record_id, r.type, i, rule.dimension,
                                                  points, contribution, r.occurred_at, age,
                                                  resolved, label, under))

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
                candidates = _record_list_entries(x, view, t, laws) if applies else []
            else:
                candidates = _score_list(rb, x, subject_kind, records, t, k, score, history)
            on = False
            for e in candidates:
                place = _place(e, t)
                if place:
                    entries.append(e)
                    on = True
                elif place is not None:
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
                t: int, k: int, score: float,
                history: Sequence[ProgramVersion] | None = None) -> list[ListEntry]:
    """Score lists (implementation-defined, documented in docs/semantics.md): the subject
    is listed at t iff its score is below the threshold at t (as known at k) and the
    ledger already knew, at t − notice, that its score then was below it (records this
    ledger knew by min(k, t − notice)), so a warning always precedes effect by the notice
    period from the moment the system knew — a late-arriving record cannot list anyone
    at once; membership ends as soon as the score recovers (every negative point
    expires, so it cannot be permanent)."""
    assert x.enter_when.score_below is not None
    threshold = x.enter_when.score_below
    if not rb.applies_to(subject_kind) or not score < threshold:
        return []
    notice_from = t - days_to_us(x.notice)
    if x.notice > 0 and not score_only(rb, subject_kind, records, notice_from,
                                       min(k, notice_from), history=history,
                                       by_knowledge=True) < threshold:
        # below now, but not for the whole notice period: notified, not yet in effect
        return [ListEntry(x.id, x.kind, x.public, None, t, t + days_to_us(x.notice), None,
                          None)]
    start = notice_from + days_to_us(x.notice)
    return [ListEntry(x.id, x.kind, x.public, None, notice_from, start, None, None)]
