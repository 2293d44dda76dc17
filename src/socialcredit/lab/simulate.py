"""The monthly loop: conduct → detection → records → the batch engine → decisions →
feedback, for every simulated month.

Each month m covers ``(start + m·Δ, start + (m+1)·Δ]`` with Δ = 365/12 days; standings
are taken at its end T_m (t = k = T_m). In order:

1. **conduct**: per behaviour, each subject's true events are Poisson with rate
   ``rate × by_group × by_district × by_means(current band) × propensity × feedback``;
   split (Poisson thinning) into detected events, which become records, and undetected
   ones, which only the ground truth knows. Detection is ``detection`` for the
   subject's district, times the patrol intensity where patrols apply. False records
   (provider errors) arrive at ``errors`` rates.
2. **records** occur uniformly in the month and are recorded after an exponential
   reporting delay; a record joins the ledger at the first month end after its
   ``recorded_at``. When a true record of a payable behaviour joins, its subject pays
   (a resolution record of the rulebook's resolution type, after an exponential delay
   from the notice) with probability ``payment.share × can_pay(band)``; when a false
   one joins, its subject objects with probability ``objections.share`` and the
   reviewer voids it (kind ``void``, provider role ``reviewer``) after
   ``review_delay`` if the objection is upheld.
3. **standings** of the subjects that need it are recomputed by the batch engine
   (:mod:`socialcredit.lab.incremental`); subjects with false records that are still
   live are also scored without them (the counterfactual that says which listings and
   decisions the errors caused).
4. **decisions**: every subject's effect for every scenario action is evaluated from
   its standing (:mod:`socialcredit.lab.decide`); a share of subjects asks.
5. **feedback**: a decision with the effect a feedback names changes the subject's
   propensities for some months or drops its income band; patrols are re-allocated
   towards where records were (Ensign et al. 2018).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from socialcredit.errors import SocialCreditError
from socialcredit.lab.decide import DENY, EFFECTS, action_rules, effects
from socialcredit.lab.incremental import DEFAULT_TOLERANCE, Scorer
from socialcredit.lab.records import Batch, RecordStore
from socialcredit.lab.scenario import Behaviour, Scenario
from socialcredit.lab.society import Society, Streams, poisson_counts, poisson_icdf
from socialcredit.rulebook.model import Rulebook
from socialcredit.timeutil import US_PER_DAY, days_to_us

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]
Bool = npt.NDArray[np.bool_]

MONTH_US = 365 * US_PER_DAY // 12  # Δ: a twelfth of a 365-day year, exactly
NO_MONTH = -(10**6)


@dataclass(frozen=True)
class LabOptions:
    tolerance: float = DEFAULT_TOLERANCE  # score points (see incremental.py)
    full_rescore: bool = False  # every subject every month (the check of the rule)
    prune: bool = True
    workers: int = 2
    keep_standings: bool = False  # keep every month's scores (tests)
    records_out: str | None = None  # write every record here (Parquet, ledger schema)


@dataclass
class Trace:
    """Everything a run observed, for metrics and reports."""

    n: int
    months: int
    start: int
    tier_ids: list[str]
    list_ids: list[str]
    black: list[bool]
    score_lists: list[str]
    groups: list[str]
    districts: list[str]
    bands: list[str]
    actions: list[str]
    group: I8
    district: I8
    monthly: dict[str, list[Any]] = field(default_factory=dict)
    tiers: list[I8] = field(default_factory=list)
    listed: list[Bool] = field(default_factory=list)
    scores: list[F64] = field(default_factory=list)  # only with keep_standings
    counters: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, value: Any) -> None:
        self.monthly.setdefault(key, []).append(value)

    def count(self, key: str, k: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + int(k)


def _lookup(d: dict[str, float], ids: list[str], default: float = 1.0) -> F64:
    return np.array([d.get(i, default) for i in ids], np.float64)


@dataclass(frozen=True)
class _BehaviourPlan:
    b: Behaviour
    index: int
    type_code: int | None  # the rulebook's record type for it, None: not recorded
    resolution: int | None  # type code of the payment's resolution, if any
    by_group: F64
    by_district: F64
    by_means: F64
    detect: F64  # per district
    error_rate: float
    patrolled: bool


class Simulation:
    def __init__(self, rb: Rulebook, sc: Scenario, society: Society, seed: int,
                 options: LabOptions = LabOptions()) -> None:
        if not rb.applies_to(sc.subject_kind):
            raise SocialCreditError(
                f"program {rb.rulebook} applies to {', '.join(rb.subjects)}, and scenario "
                f"{sc.scenario} simulates {sc.subject_kind}s")
        self.rb, self.sc, self.soc, self.options = rb, sc, society, options
        n = society.n
        self.n = n
        self.streams = Streams(seed, n)
        self.store = RecordStore(rb)
        self.t0 = sc.start_us
        self.scorer = Scorer(rb, self.store, n, sc.subject_kind, self.t0,
                             tolerance=options.tolerance, full=options.full_rescore,
                             workers=options.workers)
        self.plan = self.scorer.plan
        self.groups, self.districts = sc.group_ids(), sc.district_ids()
        self.bands = list(sc.means.bands)
        pop = society.district_population(len(self.districts))
        self.pop_share = pop / max(pop.sum(), 1.0)
        self.alloc = self.pop_share.copy()
        self.means = society.means.copy()
        self.boost_until = np.full((len(sc.feedback), n), -1, np.int32)
        self.last_true = np.full(n, NO_MONTH, np.int32)
        self.pending = Batch.empty()
        self.patrol_hist: deque[F64] = deque(
            maxlen=sc.detection.patrols.memory if sc.detection.patrols else 1)
        self.void_type = next((self.store.type_index[t.id] for t in rb.record_types
                               if t.kind == "void"), None)
        self.behaviours = [self._plan_behaviour(i, b) for i, b in enumerate(sc.behaviours)]
        # per behaviour, the parts of each subject's rate that never change
        self.static = [bp.b.rate * bp.by_group[society.group] * bp.by_district[
            society.district] * society.propensity for bp in self.behaviours]
        self.group_size = np.bincount(society.group, minlength=len(self.groups))
        self.district_size = np.bincount(society.district, minlength=len(self.districts))
        self.actions = [action_rules(rb, a.action) for a in sc.actions]
        self.months = sc.months
        self.writer: Any = None
        self.ever_wrongly_listed = np.zeros(n, np.bool_)
        self.wrong_prev = np.zeros(n, np.bool_)
        self.pending_prev = np.zeros(n, np.bool_)
        self.listed_prev = np.zeros(n, np.bool_)
        # list-triggering types: type code -> (notice, max_duration) in µs, black lists
        self.record_black: dict[int, list[tuple[int, int | None]]] = {}
        for x in rb.lists:
            if x.enter_when.record is not None and x.kind == "black":
                code = self.store.type_index[x.enter_when.record]
                self.record_black.setdefault(code, []).append(
                    (days_to_us(x.notice), None if x.max_duration is None
                     else days_to_us(x.max_duration)))
        self.trace = Trace(
            n=n, months=0, start=self.t0, tier_ids=self.plan.tier_ids,
            list_ids=self.plan.list_ids, black=[x.kind == "black" for x in rb.lists],
            score_lists=[rb.lists[i].id for i, _ in self.plan.score_lists],
            groups=self.groups, districts=self.districts, bands=self.bands,
            actions=[a.action for a in sc.actions], group=society.group,
            district=society.district)
        self._notes()

    # -- set-up ---------------------------------------------------------------------

    def _plan_behaviour(self, i: int, b: Behaviour) -> _BehaviourPlan:
        rb, sc = self.rb, self.sc
        code = next((self.store.type_index[t] for t in b.records if t in rb.types), None)
        if code is not None and rb.types[self.store.type_ids[code]].kind not in (
                "conduct", "fact"):
            raise SocialCreditError(
                f"scenario behaviour {b.id!r}: {self.store.type_ids[code]!r} is a "
                f"{rb.types[self.store.type_ids[code]].kind} record in {rb.rulebook}; "
                "behaviours produce conduct or fact records")
        res = None
        if code is not None and b.payable:
            res = self._resolution_for(self.store.type_ids[code])
        det = sc.detection
        per_d = det.by_behaviour.get(b.id, {})
        detect = np.array([per_d.get(d, det.by_district.get(d, det.rate))
                           for d in self.districts], np.float64)
        pat = det.patrols
        patrolled = pat is not None and (pat.behaviours is None or b.id in pat.behaviours)
        err = sc.errors.by_behaviour.get(b.id, sc.errors.rate if b.adverse else 0.0)
        return _BehaviourPlan(b, i, code, res, _lookup(b.by_group, self.groups),
                              _lookup(b.by_district, self.districts),
                              _lookup(b.by_means, self.bands), detect, err, patrolled)

    def _resolution_for(self, type_id: str) -> int | None:
        """The rulebook's resolution type for a conduct type: one sharing a provider
        role with it, else the first resolution type (ingest only asks that a
        resolution resolve a conduct record)."""
        rb = self.rb
        roles = set(rb.types[type_id].providers)
        res = [t for t in rb.record_types if t.kind == "resolution"]
        pick = next((t for t in res if roles & set(t.providers)), res[0] if res else None)
        return None if pick is None else self.store.type_index[pick.id]

    def _notes(self) -> None:
        notes = self.trace.notes
        for bp in self.behaviours:
            if bp.type_code is None:
                notes.append(f"behaviour {bp.b.id!r} produces no record {self.rb.rulebook} "
                             f"reads (it declares none of {', '.join(bp.b.records)}): it "
                             "counts in the ground truth only")
            elif bp.b.payable and bp.resolution is None:
                notes.append(f"behaviour {bp.b.id!r} is payable but {self.rb.rulebook} "
                             "declares no resolution type: payments are not recorded")
        for a in self.actions:
            if not a.consequences and not a.skipped:
                notes.append(f"{self.rb.rulebook} names no consequence for action "
                             f"{a.action!r}: every request is allowed")
            for c in a.skipped:
                notes.append(f"consequence for {a.action!r} applies to {c.applies_to!r}, not "
                             "the subject: the lab has no relatives to apply it to and skips "
                             "it (the engine refuses such a rulebook)")
        if ((self.sc.errors.rate or self.sc.errors.by_behaviour) and self.void_type is None
                and self.sc.objections.share > 0):
            notes.append(f"{self.rb.rulebook} declares no void record type: objections "
                         "cannot correct anything")

    # -- one month ----------------------------------------------------------------------

    def _intensity(self) -> F64:
        out: F64 = self.alloc / np.maximum(self.pop_share, 1e-12)
        return out

    def _conduct(self, m: int) -> tuple[Batch, F64]:
        """This month's records (true and false) and patrolled records per district."""
        soc, sc, st = self.soc, self.sc, self.streams
        lo = self.t0 + m * MONTH_US
        delay_us = sc.detection.reporting_delay * US_PER_DAY
        intensity = self._intensity()
        patrol_counts = np.zeros(len(self.districts))
        parts: list[Batch] = []
        mult_fb: dict[int, F64] = {}  # behaviour -> propensity multiplier, where active
        for fi, f in enumerate(sc.feedback):
            if not f.propensity:
                continue
            active = self.boost_until[fi] >= m
            if not active.any():
                continue
            for bi, bp in enumerate(self.behaviours):
                factor = f.propensity.get(bp.b.id)
                if factor is not None:
                    mult = mult_fb.setdefault(bi, np.ones(self.n))
                    mult[active] *= factor
        for bi, bp in enumerate(self.behaviours):
            b = bp.b
            lam = self.static[bi] * bp.by_means[self.means]
            if bi in mult_fb:
                lam = lam * mult_fb[bi]
            p = bp.detect[soc.district]
            if bp.patrolled:
                p = np.minimum(1.0, p * intensity[soc.district])
            n_det = poisson_counts(st.exponential(m, f"detected:{b.id}"), lam * p)
            if b.adverse:
                und = lam * (1.0 - p)
                truth = n_det > 0
                n_und = 0
                if und.any():
                    e = st.exponential(m, f"undetected:{b.id}")
                    some = np.flatnonzero(e <= und)
                    truth[some] = True
                    n_und = int(poisson_icdf(np.exp(-e[some]), und[some]).sum())
                self.last_true[truth] = m
                self.trace.count("true_events", int(n_det.sum()) + n_und)
            n_false = np.zeros(self.n, np.int64)
            if bp.error_rate > 0:
                lam_f = bp.error_rate * _lookup(sc.errors.by_district, self.districts)[
                    soc.district]
                if bp.patrolled and sc.errors.patrolled:
                    lam_f = lam_f * intensity[soc.district]
                n_false = poisson_counts(st.exponential(m, f"false:{b.id}"), lam_f)
            if bp.type_code is None:
                continue
            for counts, false in ((n_det, False), (n_false, True)):
                total = int(counts.sum())
                if total == 0:
                    continue
                tag = "f" if false else "t"
                subj = np.repeat(np.arange(self.n, dtype=np.int32), counts)
                start = np.r_[0, np.cumsum(counts)[:-1]]
                j = np.arange(total) - np.repeat(start, counts)
                occ = np.empty(total, np.int64)
                rec_delay = np.empty(total, np.float64)
                u_units = np.empty(total, np.float64)
                for jj in range(int(j.max()) + 1):  # the j-th event of each subject
                    at = j == jj
                    s = subj[at]
                    occ[at] = lo + (st.sparse(m, f"time:{tag}:{b.id}", s, jj)
                                    * MONTH_US).astype(np.int64)
                    rec_delay[at] = -np.log1p(-st.sparse(m, f"delay:{tag}:{b.id}", s, jj))
                    if b.units is not None:
                        u_units[at] = st.sparse(m, f"units:{tag}:{b.id}", s, jj)
                rec = occ + (rec_delay * delay_us).astype(np.int64)
                if b.units is not None:
                    units = poisson_icdf(u_units, np.full(total, b.units))
                    value = np.maximum(units, 1).astype(np.float64)
                else:
                    value = np.full(total, np.nan)
                parts.append(Batch(subj, np.full(total, bp.type_code, np.int16), occ, rec,
                                   value, np.full(total, -1, np.int64),
                                   np.full(total, false), np.full(total, bi, np.int16)))
                self.trace.count("false_records" if false else "true_records", total)
                counted = bp.patrolled if sc.detection.patrols else bp.b.adverse
                if counted:  # patrols follow records, false ones included
                    patrol_counts += np.bincount(soc.district[subj],
                                                 minlength=len(self.districts))
        return Batch.concat(parts), patrol_counts

    def _follow_ups(self, m: int, added: Batch, serials: I64) -> Batch:
        """Payments of true payable records and objections to false ones."""
        sc, st = self.sc, self.streams
        parts: list[Batch] = []
        conduct = added.behaviour >= 0
        # payments
        can_pay = _lookup(sc.payment.can_pay, self.bands)
        if sc.payment.share > 0:
            for bp in self.behaviours:
                if bp.resolution is None:
                    continue
                sel = np.flatnonzero(conduct & ~added.false & (added.behaviour == bp.index))
                if not len(sel):
                    continue
                s = added.subj[sel]
                pays = st.sparse(m, "pay", s) < sc.payment.share * can_pay[self.means[s]]
                sel, s = sel[pays], s[pays]
                if not len(sel):
                    continue
                delay = (-np.log1p(-st.sparse(m, "pay-delay", s)) * sc.payment.delay
                         * US_PER_DAY).astype(np.int64)
                when = added.rec[sel] + delay
                parts.append(Batch(s, np.full(len(sel), bp.resolution, np.int16), when, when,
                                   np.full(len(sel), np.nan), serials[sel],
                                   np.zeros(len(sel), np.bool_),
                                   np.full(len(sel), -1, np.int16)))
        # objections
        ob = sc.objections
        if ob.share > 0 and self.void_type is not None:
            sel = np.flatnonzero(conduct & added.false)
            if len(sel):
                s = added.subj[sel]
                objects = st.sparse(m, "object", s) < ob.share
                self.trace.count("objections", int(objects.sum()))
                upheld = objects & (st.sparse(m, "upheld", s) < ob.upheld)
                sel, s = sel[upheld], s[upheld]
                when = added.rec[sel] + days_to_us(ob.review_delay)
                parts.append(Batch(s, np.full(len(sel), self.void_type, np.int16), when, when,
                                   np.full(len(sel), np.nan), serials[sel],
                                   np.zeros(len(sel), np.bool_),
                                   np.full(len(sel), -1, np.int16)))
        return Batch.concat(parts)

    def _account_follow_ups(self, added: Batch) -> Bool:
        """Notice effect and objection counters for resolutions and voids that joined
        the ledger; returns which subjects paid something this month."""
        paid = np.zeros(self.n, np.bool_)
        kinds = self.store.kind_of_type[added.type]
        for kind_code, name in ((1, "payment"), (2, "void")):
            sel = np.flatnonzero(kinds == kind_code)
            if not len(sel):
                continue
            self.trace.count(f"{name}s", len(sel))
            if kind_code == 1:
                paid[added.subj[sel]] = True
            rows = self.store.rows_of_serials(added.ref[sel])
            ok = rows >= 0
            sel, rows = sel[ok], rows[ok]
            ttype = self.store.type[rows]
            for code, lists in self.record_black.items():
                mine = ttype == code
                if not mine.any():
                    continue
                t_rec = self.store.rec[rows[mine]]
                at = added.occ[sel[mine]]
                notice, mx = lists[0]
                before = at < t_rec + notice
                during = ~before & ((at < t_rec + notice + mx) if mx is not None
                                    else np.ones(len(at), np.bool_))
                if kind_code == 1:
                    self.trace.count("sanctions_avoided_by_payment", int(before.sum()))
                    self.trace.count("listings_ended_by_payment", int(during.sum()))
                else:
                    self.trace.count("wrongful_listings_prevented_by_objection",
                                     int(before.sum()))
                    self.trace.count("wrongful_listings_ended_by_objection",
                                     int(during.sum()))
        return paid

    def step(self, m: int) -> None:
        t = self.t0 + (m + 1) * MONTH_US
        new, patrol_counts = self._conduct(m)
        self.pending = Batch.concat([self.pending, new])
        touched = np.zeros(self.n, np.bool_)
        paid = np.zeros(self.n, np.bool_)
        for _ in range(3):  # records, then their payments and voids, then any due at once
            ready = self.pending.rec <= t
            if not ready.any():
                break
            added = self.pending.take(ready)
            self.pending = self.pending.take(~ready)
            before = self.store.n
            serials = self.store.append(added)
            if self.writer is not None:
                self.writer.write_table(self.store.ledger_table(
                    np.arange(before, self.store.n, dtype=np.int64)))
            touched[added.subj] = True
            paid |= self._account_follow_ups(added)
            follow = self._follow_ups(m, added, serials)
            if len(follow):
                self.pending = Batch.concat([self.pending, follow])
        self.scorer.update(t, touched)
        self.trace.add("patrolled_records_by_district", patrol_counts.tolist())
        self._observe(m, t, paid)
        self._patrols(patrol_counts)
        if self.options.prune and m % 12 == 11:
            self.store.prune(self.plan.dead(self.store, t))

    def _patrols(self, counts: F64) -> None:
        pat = self.sc.detection.patrols
        if pat is None:
            return
        self.patrol_hist.append(counts)
        per_head = np.sum(self.patrol_hist, axis=0) / np.maximum(
            self.soc.district_population(len(self.districts)), 1.0)
        target = self.pop_share * (per_head + pat.smoothing) ** pat.sharpness
        if target.sum() > 0:
            target = target / target.sum()
            self.alloc = (1 - pat.follow) * self.alloc + pat.follow * target

    # -- observation --------------------------------------------------------------------

    def _observe(self, m: int, t: int, paid: Bool) -> None:
        tr, st, plan, soc = self.trace, self.scorer.state, self.plan, self.soc
        sc = self.sc
        black = (st.lists & plan.black_bits) != 0
        tr.tiers.append(st.tier.copy())
        tr.listed.append(black.copy())
        if self.options.keep_standings:
            tr.scores.append(st.score.copy())
        label = (m - self.last_true) < sc.truth_window
        ng, nd = len(self.groups), len(self.districts)
        tr.add("rescored", int(self.scorer.last_rescored))
        tr.add("records_in_store", int(self.store.n))
        tr.add("tier_counts", np.bincount(st.tier, minlength=plan.none_tier + 1).tolist())
        tr.add("listed", int(black.sum()))
        tr.add("list_counts", [int(((st.lists >> np.uint32(i)) & 1).sum())
                               for i in range(len(plan.list_ids))])
        gs, ds = self.group_size, self.district_size
        tr.add("listed_by_group", _rate_by(black, soc.group, gs))
        tr.add("listed_by_district", _rate_by(black, soc.district, ds))
        tr.add("truth_by_group", _rate_by(label, soc.group, gs))
        tr.add("mean_score_by_group", _mean_by(st.score, soc.group, ng))
        tr.add("mean_score_by_district", _mean_by(st.score, soc.district, nd))
        tr.add("mean_score", float(st.score.mean()))
        tr.add("gini", gini(st.score))
        tr.add("means_by_group", _mean_by(self.means.astype(np.float64), soc.group, ng))
        tr.add("patrol_allocation", self.alloc.tolist())
        tr.add("tpr_fpr_listed_by_group", _tpr_fpr(black, label, soc.group, ng))
        # score lists: notices (pending) and how they ended
        pending = np.zeros(self.n, np.bool_)
        for li, x in plan.score_lists:
            on = ((st.lists >> np.uint32(li)) & 1) == 1
            pending |= (st.score < x) & ~on
        ended = self.pending_prev & ~pending & ~black
        tr.count("score_list_notices", int((pending & ~self.pending_prev).sum()))
        tr.count("score_list_notices_ended_without_sanction", int(ended.sum()))
        tr.count("score_list_notices_ended_after_payment", int((ended & paid).sum()))
        self.pending_prev = pending
        # the counterfactual without false records
        n_false = np.zeros(self.n, np.int64)
        s = self.store
        live_false = s.false[:s.n] & ~s.voided[:s.n]
        if live_false.any():
            n_false = np.bincount(s.subj[:s.n][live_false], minlength=self.n)
        fcodes = np.flatnonzero(n_false > 0).astype(np.int64)
        cf = None
        wrong = np.zeros(self.n, np.bool_)
        if len(fcodes):
            got, sc_cf, tier_cf, bits_cf, _ = self.scorer.score_codes(fcodes, t,
                                                                       drop_false=True)
            cf = (got, sc_cf, tier_cf, bits_cf)
            wrong[got] = ((st.lists[got] & ~bits_cf) & plan.black_bits) != 0
        self.ever_wrongly_listed |= wrong
        tr.add("subjects_with_live_false_records", len(fcodes))
        tr.add("wrongly_listed", int(wrong.sum()))
        tr.count("wrongful_listings_ended", int((self.wrong_prev & ~wrong).sum()))
        self.wrong_prev = wrong
        # decisions and feedback
        for rule, a in zip(self.actions, sc.actions, strict=True):
            eff = effects(self.rb, rule, st.score, st.tier, st.lists)
            deny = eff == DENY
            asks = self.streams.uniform(m, f"ask:{a.action}") < a.rate
            tr.add(f"deny_rate:{a.action}", float(deny.mean()))
            tr.add(f"benefit_rate:{a.action}", float((eff == 1).mean()))
            tr.add(f"deny_by_group:{a.action}", _rate_by(deny, soc.group, gs))
            tr.add(f"deny_by_district:{a.action}", _rate_by(deny, soc.district, ds))
            tr.add(f"tpr_fpr_deny_by_group:{a.action}",
                   _tpr_fpr(deny, label, soc.group, ng) if rule.consequences else
                   _tpr_fpr(deny[:0], label[:0], soc.group[:0], ng))
            tr.count(f"requests:{a.action}", int(asks.sum()))
            tr.count(f"denied:{a.action}", int((asks & deny).sum()))
            if cf is not None:
                got, sc_cf, tier_cf, bits_cf = cf
                eff_cf = effects(self.rb, rule, sc_cf, tier_cf, bits_cf)
                changed = (eff[got] != eff_cf) & asks[got]
                tr.count("decisions_changed_by_false_records", int(changed.sum()))
                tr.count("denials_caused_by_false_records",
                         int((changed & (eff[got] == DENY)).sum()))
            if m == self.months - 1:
                tr.final[f"effect:{a.action}"] = eff
            for fi, f in enumerate(sc.feedback):
                if f.when.action != a.action:
                    continue
                hit = asks & (eff == EFFECTS.index(f.when.effect))
                tr.count(f"feedback:{fi}", int(hit.sum()))
                if f.propensity:
                    self.boost_until[fi, hit] = m + f.months
                if f.means_down > 0:
                    idx = np.flatnonzero(hit & (self.means > 0))
                    down = idx[self.streams.sparse(m, f"means-down:{fi}", idx) < f.means_down]
                    self.means[down] -= 1
                    tr.count("means_dropped", len(down))
        if sc.means.recovery > 0:
            below = np.flatnonzero(self.means < soc.means)
            up = below[self.streams.sparse(m, "means-recovery", below) < sc.means.recovery]
            self.means[up] += 1
        if m == self.months - 1:
            tr.final.update(score=st.score.copy(), tier=st.tier.copy(),
                            lists=st.lists.copy(), label=label, means=self.means.copy(),
                            ever_wrongly_listed=self.ever_wrongly_listed.copy())
        self.listed_prev = black

    # -- the run ------------------------------------------------------------------------

    def run(self, months: int) -> Trace:
        self.months = months
        if self.options.records_out is not None:
            import pyarrow.parquet as pq

            from socialcredit.ledger.parquet import RECORDS

            self.writer = pq.ParquetWriter(self.options.records_out, RECORDS)
        try:
            for m in range(months):
                self.step(m)
        finally:
            if self.writer is not None:
                self.writer.close()
                self.writer = None
        self.trace.months = months
        self.trace.counters["records_pruned"] = self.store.pruned
        return self.trace


def _rate_by(x: Bool, by: I8, sizes: I64) -> list[float | None]:
    hit = np.bincount(by[x], minlength=len(sizes))
    return [float(h / t) if t else None for h, t in zip(hit, sizes, strict=True)]


def _mean_by(x: F64, by: I8, k: int) -> list[float | None]:
    tot = np.bincount(by, minlength=k)
    s = np.bincount(by, weights=x, minlength=k)
    return [float(a / t) if t else None for a, t in zip(s, tot, strict=True)]


def _tpr_fpr(pred: Bool, label: Bool, by: I8, k: int) -> list[list[float | None]]:
    """[tpr, fpr] per group (None where a group has no positives or no negatives)."""
    key = by.astype(np.int64) * 4 + label * 2 + pred
    c = np.bincount(key, minlength=4 * k).reshape(k, 4)  # [neg&no, neg&yes, pos&no, pos&yes]
    out: list[list[float | None]] = []
    for g in range(k):
        npos, nneg = int(c[g, 2] + c[g, 3]), int(c[g, 0] + c[g, 1])
        out.append([float(c[g, 3] / npos) if npos else None,
                    float(c[g, 1] / nneg) if nneg else None])
    return out


def gini(x: F64) -> float | None:
    """Gini coefficient of non-negative values (None if any is negative or all are 0)."""
    if len(x) == 0 or x.min() < 0:
        return None
    s = np.sort(x)
    total = s.sum()
    if total <= 0:
        return None
    n = len(s)
    i = np.arange(1, n + 1)
    return float((2.0 * np.dot(i, s)) / (n * total) - (n + 1.0) / n)


def simulate(rb: Rulebook, sc: Scenario, society: Society, seed: int, months: int,
             options: LabOptions = LabOptions()) -> Trace:
    return Simulation(rb, sc, society, seed, options).run(months)


__all__ = ["MONTH_US", "LabOptions", "Simulation", "Trace", "gini", "simulate"]
