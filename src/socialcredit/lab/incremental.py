"""Incremental scoring: the batch engine, called each month only for the subjects whose
tier, lists or decisions could have changed.

The lab never computes a standing itself: every standing it uses comes from
:func:`socialcredit.scoring.batch.score_batches` (the batch engine). What it decides is
*whom to rescore*. A subject keeps last month's standing unless one of these holds
(the rule, documented in docs/lab.md and tested against full rescoring):

1. **new records** about it became known this month (conduct, payments, voids);
2. a **scheduled change** fell due: an expiry of one of its records under a rule or an
   attribute (``occurred_at + expires``), a record listing's start (``recorded_at +
   notice``) or end (``+ max_duration``) — the earliest such instant after its last
   scoring is kept per subject (``next_event``);
3. **decay could have moved it across a line that matters.** Between scorings without
   (1) or (2), only decay moves a score, and each decaying contribution moves towards
   zero: over Δt it changes by at most ``|p| · 2^(−age/h) · (1 − 2^(−Δt/h))``. Summed
   over the subject's decaying records (with |p| the largest of the rule's points,
   resolved points or per-unit points — an over-estimate: max_count, voids and
   resolutions only lower it), this bounds the change of every dimension before
   clamping, and clamps do not increase distances, so ``|s(t) − s(t_s)| ≤ B(t)``. The
   subject is rescored when a tier minimum, a consequence's score threshold or a score
   list's threshold lies within ``[s − B, s + B]``, when it is below a score list's
   threshold at all (``s − B < x``: on the list or pending, its status moves with time
   alone), or when ``B`` exceeds the score tolerance (default 1 point), so that
   reported scores are never further than that from the engine's.

Hence tiers, lists and decisions equal a full rescoring exactly, and scores within the
tolerance (exactly with tolerance 0); tests/lab/test_incremental.py checks both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from socialcredit.lab.records import NEVER, RecordStore, ceil_days_us
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.batch import score_batches
from socialcredit.timeutil import US_PER_DAY, days_to_us

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
U32 = npt.NDArray[np.uint32]
Bool = npt.NDArray[np.bool_]

EPS_US = 1_000  # boundaries within a millisecond of a month end are treated as due
DEFAULT_TOLERANCE = 1.0
SPLIT_ROWS = 400_000  # above this many records a month is scored as two partitions


@dataclass(frozen=True)
class _RuleEffect:
    expires_us: int | None
    half_life: float | None  # days
    fixed: float  # |points| or |resolved_points|, the larger
    per_unit: float  # |points_per_unit|, 0 when the rule has fixed points


@dataclass(frozen=True)
class _TypeEffects:
    rules: list[_RuleEffect] = field(default_factory=list)
    lists: list[tuple[int, int | None]] = field(default_factory=list)  # notice, max (µs)
    fact_expires: list[int | None] = field(default_factory=list)


class Plan:
    """What a rulebook's clauses imply for rescoring, pruning and decisions."""

    def __init__(self, rb: Rulebook) -> None:
        self.rb = rb
        self.tier_ids = [t.id for t in rb.tiers]
        self.none_tier = len(rb.tiers)  # tier index of "no tier" (below every minimum)
        self.list_ids = [x.id for x in rb.lists]
        if len(self.list_ids) > 32:
            raise ValueError("the lab tracks at most 32 lists per rulebook")
        self.black_bits = np.uint32(sum(1 << i for i, x in enumerate(rb.lists)
                                        if x.kind == "black"))
        self.half_lives = sorted({r.half_life for r in rb.rules if r.half_life is not None})
        hl_index = {h: i for i, h in enumerate(self.half_lives)}
        self.hl_index = hl_index
        effects: dict[str, _TypeEffects] = {}
        for r in rb.rules:
            e = effects.setdefault(r.record, _TypeEffects())
            fixed = max(abs(r.points or 0.0), abs(r.resolved_points or 0.0))
            e.rules.append(_RuleEffect(
                None if r.expires is None else ceil_days_us(r.expires), r.half_life, fixed,
                abs(r.points_per_unit or 0.0)))
        for x in rb.lists:
            if x.enter_when.record is not None:
                e = effects.setdefault(x.enter_when.record, _TypeEffects())
                e.lists.append((days_to_us(x.notice), None if x.max_duration is None
                                else days_to_us(x.max_duration)))
        for a in rb.attributes:
            e = effects.setdefault(a.record, _TypeEffects())
            e.fact_expires.append(None if a.expires is None else ceil_days_us(a.expires))
        self.effects = effects
        thresholds = [t.min for t in rb.tiers]
        for c in rb.consequences:
            for v in (c.when.score_at_least, c.when.score_below):
                if v is not None:
                    thresholds.append(v)
        self.thresholds = np.array(sorted(set(thresholds)), np.float64)
        self.score_lists = [(i, x.enter_when.score_below) for i, x in enumerate(rb.lists)
                            if x.enter_when.score_below is not None]

    def type_code(self, store: RecordStore, type_id: str) -> int:
        return store.type_index[type_id]

    def dead(self, store: RecordStore, t: int) -> Bool:
        """Conduct and fact records that can never change a standing again at any
        instant ≥ t: every rule on the type has expired, every record listing has
        ended, every attribute has let the fact lapse (or nothing reads the type at
        all); and voided records."""
        n = store.n
        dead = store.voided[:n].copy()
        types = store.type[:n]
        occ, rec = store.occ[:n], store.rec[:n]
        # conduct and fact types no rule, list or attribute reads count for nothing
        unread = [store.type_index[t.id] for t in self.rb.record_types
                  if t.kind in ("conduct", "fact") and t.id not in self.effects]
        if unread:
            dead |= np.isin(types, unread)
        for tid, e in self.effects.items():
            code = store.type_index.get(tid)
            if code is None:
                continue
            sel = np.flatnonzero((types == code) & ~dead)
            if not len(sel):
                continue
            gone = np.ones(len(sel), np.bool_)
            for r in e.rules:
                if r.expires_us is None:
                    gone[:] = False
                else:
                    gone &= occ[sel] + r.expires_us <= t
            for notice, mx in e.lists:
                if mx is None:
                    gone[:] = False
                else:
                    gone &= rec[sel] + notice + mx <= t
            for ex in e.fact_expires:
                if ex is None:
                    gone[:] = False
                else:
                    gone &= occ[sel] + ex <= t
            dead[sel[gone]] = True
        return dead


@dataclass
class State:
    """Each subject's standing as of its last scoring."""

    score: F64
    tier: I8
    lists: U32  # bit i: on rb.lists[i]
    scored_at: I64
    next_event: I64
    mass: F64  # (n, H): decaying mass per half-life at scored_at


def parse_standings(plan: Plan, out: pa.Table) -> tuple[I64, F64, I8, U32]:
    """The engine's output as arrays: subject codes (the lab's subject ids are decimal
    codes; anything else parses to -1 and is not used as a code), score, tier index and
    list bits."""
    subj = out.column("subject")
    try:
        codes = subj.cast(pa.int64()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        codes = np.full(len(subj), -1, np.int64)
    score = out.column("score").to_numpy()
    tier = pc.index_in(out.column("tier"), value_set=pa.array(plan.tier_ids or [""],
                                                               pa.string()))
    tier_np = tier.fill_null(plan.none_tier).to_numpy(zero_copy_only=False).astype(np.int8)
    lists = out.column("lists").combine_chunks()
    bits = np.zeros(len(codes), np.uint32)
    if plan.list_ids and len(lists.values):
        flat = lists.flatten()
        parents = pc.list_parent_indices(lists).to_numpy()
        idx = pc.index_in(flat, value_set=pa.array(plan.list_ids, pa.string())).to_numpy(
            zero_copy_only=False).astype(np.uint32)
        np.bitwise_or.at(bits, parents, np.left_shift(np.uint32(1), idx))
    return codes, score, tier_np, bits


class Scorer:
    """Keeps every subject's standing current, month after month, with the engine."""

    def __init__(self, rb: Rulebook, store: RecordStore, n: int, kind: str, t0: int, *,
                 tolerance: float = DEFAULT_TOLERANCE, full: bool = False,
                 workers: int = 2) -> None:
        self.rb = rb
        self.plan = Plan(rb)
        self.store = store
        self.n = n
        self.kind = kind
        self.tolerance = tolerance
        self.full = full
        self.workers = workers
        h = len(self.plan.half_lives)
        # a subject without records: the engine's standing of one such subject, for all
        empty = store.engine_table(np.empty(0, np.int64))
        _, s0, tier0, bits0 = parse_standings(self.plan, next(score_batches(
            rb, [(empty, store.subjects_table(np.zeros(1, np.int64), kind))], t0, t0,
            workers=1)))
        self.state = State(
            score=np.full(n, s0[0]), tier=np.full(n, tier0[0], np.int8),
            lists=np.full(n, bits0[0], np.uint32), scored_at=np.full(n, t0, np.int64),
            next_event=np.full(n, NEVER, np.int64), mass=np.zeros((n, h)))
        self.last_rescored = 0

    # -- the rule ---------------------------------------------------------------------

    def drift_bound(self, t: int) -> F64:
        """B(t) per subject: how far decay alone can have moved its score since it was
        last scored."""
        st = self.state
        b = np.zeros(self.n)
        if not self.plan.half_lives:
            return b
        dt_days = (t - st.scored_at) / US_PER_DAY
        for j, h in enumerate(self.plan.half_lives):
            m = st.mass[:, j]
            b += m * -np.expm1(-dt_days * (math.log(2) / h))
        return b

    def due(self, t: int, touched: Bool) -> Bool:
        """The subjects to rescore at t (the module docstring's rule)."""
        st = self.state
        if self.full:
            return np.ones(self.n, np.bool_)
        dirty = touched | (st.next_event <= t + EPS_US)
        b = self.drift_bound(t)
        b = b * (1 + 1e-9) + np.where(b > 0, 1e-9, 0.0)
        risk = b > self.tolerance
        for _, x in self.plan.score_lists:
            risk |= st.score - b < x
        th = self.plan.thresholds
        if len(th):
            idx = np.flatnonzero((b > 0) & ~dirty & ~risk)
            s, bb = st.score[idx], b[idx]
            cross = np.searchsorted(th, s - bb, "left") != np.searchsorted(th, s + bb, "right")
            risk[idx[cross]] = True
        out: Bool = dirty | risk
        return out

    # -- engine calls -------------------------------------------------------------------

    def _partitions(self, codes: I64, rows: I64) -> Iterator[tuple[pa.Table, pa.Table]]:
        store = self.store
        if len(rows) <= SPLIT_ROWS or self.workers <= 1 or len(codes) < 2:
            yield store.engine_table(rows), store.subjects_table(codes, self.kind)
            return
        mid = int(codes[len(codes) // 2])
        left = store.subj[rows] < mid
        for sel, cs in ((left, codes[codes < mid]), (~left, codes[codes >= mid])):
            yield store.engine_table(rows[sel]), store.subjects_table(cs, self.kind)

    def score_codes(self, codes: I64, t: int, *, drop_false: bool = False
                    ) -> tuple[I64, F64, I8, U32, I64]:
        """The engine's standings at t (k = t) of the subjects `codes` (ascending), from
        their records (without the false ones, for the counterfactual). Also returns
        the store rows read."""
        flag = np.zeros(self.n, np.bool_)
        flag[codes] = True
        rows = self.store.rows_of(flag)
        if drop_false:
            rows = rows[~self.store.false[rows]]
        tables = list(score_batches(self.rb, self._partitions(codes, rows), t, t,
                                    workers=self.workers))
        out = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        got, score, tier, bits = parse_standings(self.plan, out)
        if len(got) != len(codes) or not np.array_equal(got, codes):
            order = np.argsort(got)
            got, score, tier, bits = got[order], score[order], tier[order], bits[order]
        return got, score, tier, bits, rows

    def update(self, t: int, touched: Bool) -> I64:
        """Rescore whoever is due at t; returns their codes."""
        codes = np.flatnonzero(self.due(t, touched)).astype(np.int64)
        self.last_rescored = len(codes)
        if not len(codes):
            return codes
        got, score, tier, bits, rows = self.score_codes(codes, t)
        st = self.state
        st.score[got] = score
        st.tier[got] = tier
        st.lists[got] = bits
        st.scored_at[got] = t
        nxt, mass = self._schedule(codes, rows, t)
        st.next_event[codes] = nxt
        if mass.shape[1]:
            st.mass[codes] = mass
        return codes

    def _schedule(self, codes: I64, rows: I64, t: int) -> tuple[I64, F64]:
        """Per subject of `codes`: the next scheduled change after t, and its decaying
        mass per half-life at t, from the records the engine just read."""
        store, plan = self.store, self.plan
        live = rows[~store.voided[rows]]
        pos = np.searchsorted(codes, store.subj[live])
        occ, rec = store.occ[live], store.rec[live]
        types = store.type[live]
        nxt_rec = np.full(len(live), NEVER, np.int64)
        h = len(plan.half_lives)
        mass = np.zeros((len(codes), h))
        after = t - EPS_US

        def soonest(b: I64, sel: I64) -> None:
            upcoming = b > after
            nxt_rec[sel[upcoming]] = np.minimum(nxt_rec[sel[upcoming]], b[upcoming])

        for tid, e in plan.effects.items():
            code = store.type_index.get(tid)
            if code is None:
                continue
            sel = np.flatnonzero(types == code)
            if not len(sel):
                continue
            o, r = occ[sel], rec[sel]
            for rl in e.rules:
                alive = np.ones(len(sel), np.bool_)
                if rl.expires_us is not None:
                    end = o + rl.expires_us
                    soonest(end, sel)
                    alive = end > t
                if rl.half_life is not None:
                    p = np.full(len(sel), rl.fixed)
                    if rl.per_unit:
                        v = store.value[live[sel]]
                        p = np.maximum(p, rl.per_unit * np.abs(np.nan_to_num(v)))
                    age = (t - o) / US_PER_DAY
                    w = p * np.exp2(-age / rl.half_life) * alive
                    mass[:, plan.hl_index[rl.half_life]] += np.bincount(
                        pos[sel], weights=w, minlength=len(codes))
            for notice, mx in e.lists:
                start = r + notice
                soonest(start, sel)
                if mx is not None:
                    soonest(start + mx, sel)
            for ex in e.fact_expires:
                if ex is not None:
                    soonest(o + ex, sel)
        nxt = np.full(len(codes), NEVER, np.int64)
        np.minimum.at(nxt, pos, nxt_rec)
        return nxt, mass


__all__ = ["DEFAULT_TOLERANCE", "Plan", "Scorer", "State", "parse_standings"]
