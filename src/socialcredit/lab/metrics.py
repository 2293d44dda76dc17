"""What a run shows that no single standing does: distributions, mobility, the
underclass, errors and the notice effect, from the months a simulation observed.

Definitions (docs/lab.md repeats them for readers of a report):

* **listed** — on any black list at a month end (red lists are rewards).
* **underclass** — listed at ≥ half of the last 24 month ends (or of every month, for
  shorter runs).
* **months listed** — per subject ever listed, the number of month ends it was listed.
* **spell** — a run of consecutive listed month ends. *Mean months per spell* is the
  renewal estimator ``listed subject-months ÷ spells begun``; *time to redemption* is
  the Kaplan–Meier median of spell lengths, spells still running at the end being
  censored rather than dropped (dropping them would make redemption look quick).
* **bottom tier** — the lowest tier the rulebook defines (or no tier at all, below
  it). *Leaving it within 12 months*: of the subjects who entered it at some month
  (with 12 observed months after), the share in a higher tier at any of the next 12
  month ends.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from socialcredit.lab.simulate import Trace

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bool = npt.NDArray[np.bool_]

UNDERCLASS_WINDOW = 24


def kaplan_meier_median(durations: I64, ended: Bool) -> float | None:
    """Median of durations with right-censoring (None: more than half never ended)."""
    if len(durations) == 0:
        return None
    times = np.unique(durations[ended])
    surv = 1.0
    for t in times:
        at_risk = int((durations >= t).sum())
        deaths = int(((durations == t) & ended).sum())
        if at_risk:
            surv *= 1.0 - deaths / at_risk
        if surv <= 0.5:
            return float(t)
    return None


def spells(listed: list[Bool]) -> tuple[I64, Bool, I64, I64]:
    """Listing spells: (lengths, ended?) over every spell, and per subject (months
    listed, spells begun)."""
    if not listed:
        e = np.empty(0, np.int64)
        return e, np.empty(0, np.bool_), e, e
    n = len(listed[0])
    run = np.zeros(n, np.int64)
    months = np.zeros(n, np.int64)
    starts = np.zeros(n, np.int64)
    done: list[I64] = []
    prev = np.zeros(n, np.bool_)
    for cur in listed:
        ending = prev & ~cur
        if ending.any():
            done.append(run[ending].copy())
            run[ending] = 0
        starts += cur & ~prev
        run[cur] += 1
        months += cur
        prev = cur
    open_ = run[prev]
    lengths = np.concatenate([*done, open_]) if done else open_.copy()
    ended = np.r_[np.ones(sum(len(d) for d in done), np.bool_), np.zeros(len(open_), np.bool_)]
    return lengths.astype(np.int64), ended, months, starts


def underclass(tr: Trace) -> dict[str, Any]:
    window = min(UNDERCLASS_WINDOW, tr.months)
    recent = np.sum(tr.listed[-window:], axis=0) if window else np.zeros(tr.n)
    share = float((recent * 2 >= window).mean()) if window else 0.0
    lengths, ended, months, starts = spells(tr.listed)
    ever = months > 0
    return {
        "window_months": window,
        "share_listed_half_of_window": share,
        "subjects": int((recent * 2 >= window).sum()) if window else 0,
        "ever_listed": int(ever.sum()),
        "median_months_listed": float(np.median(months[ever])) if ever.any() else None,
        "mean_months_per_spell": (float(months.sum() / starts.sum()) if starts.sum()
                                  else None),
        "spells": len(lengths),
        "spells_still_running": int((~ended).sum()),
        "redemption_median_months": kaplan_meier_median(lengths, ended),
        "by_group": _share_by(recent * 2 >= window, tr.group, tr.groups) if window else {},
    }


def _share_by(x: Bool, by: npt.NDArray[np.int8], names: list[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for i, name in enumerate(names):
        mine = by == i
        out[name] = float(x[mine].mean()) if mine.any() else None
    return out


def tier_names(tr: Trace) -> list[str]:
    return [*tr.tier_ids, "(none)"]


def mobility(tr: Trace) -> dict[str, Any]:
    """Transition matrices (counts; month to month summed over the run, and over the
    last 12 months) and the chance of leaving the bottom tier within 12 months."""
    if not tr.tier_ids:
        return {"tiers": [], "note": "the rulebook defines no tiers"}
    k = len(tr.tier_ids) + 1
    monthly = np.zeros(k * k, np.int64)
    for prev, cur in zip(tr.tiers, tr.tiers[1:], strict=False):
        monthly += np.bincount(prev.astype(np.int64) * k + cur, minlength=k * k)
    yearly = None
    if tr.months > 12:
        a, b = tr.tiers[-13], tr.tiers[-1]
        yearly = np.bincount(a.astype(np.int64) * k + b, minlength=k * k).reshape(k, k)
    bottom = len(tr.tier_ids) - 1
    entries = left = 0
    for m in range(0, tr.months - 12):
        at_bottom = tr.tiers[m] >= bottom
        entered = at_bottom if m == 0 else at_bottom & (tr.tiers[m - 1] < bottom)
        idx = np.flatnonzero(entered)
        if not len(idx):
            continue
        entries += len(idx)
        out = np.zeros(len(idx), np.bool_)
        for j in range(1, 13):
            out |= tr.tiers[m + j][idx] < bottom
        left += int(out.sum())
    return {
        "tiers": tier_names(tr),
        "monthly_transitions": monthly.reshape(k, k).tolist(),
        "transitions_last_12_months": None if yearly is None else yearly.tolist(),
        "bottom_tier": tr.tier_ids[bottom],
        "bottom_entries": entries,
        "left_bottom_within_12_months": left,
        "leave_bottom_12m_share": (left / entries) if entries else None,
    }


def tiers_final(tr: Trace) -> dict[str, float]:
    counts = tr.monthly["tier_counts"][-1]
    return {name: c / tr.n for name, c in zip(tier_names(tr), counts, strict=True)
            if c or name != "(none)"}


def errors(tr: Trace) -> dict[str, Any]:
    c = tr.counters
    return {
        "false_records": c.get("false_records", 0),
        "objections": c.get("objections", 0),
        "voided_by_review": c.get("voids", 0),
        "subjects_ever_wrongly_listed": int(tr.final["ever_wrongly_listed"].sum()),
        "wrongly_listed_at_end": tr.monthly["wrongly_listed"][-1],
        "wrongful_listings_prevented_by_objection":
            c.get("wrongful_listings_prevented_by_objection", 0),
        "wrongful_listings_ended_by_objection":
            c.get("wrongful_listings_ended_by_objection", 0),
        "decisions_changed_by_false_records": c.get("decisions_changed_by_false_records", 0),
        "denials_caused_by_false_records": c.get("denials_caused_by_false_records", 0),
    }


def notice(tr: Trace) -> dict[str, Any]:
    c = tr.counters
    return {
        "payments": c.get("payments", 0),
        "sanctions_avoided_by_payment": c.get("sanctions_avoided_by_payment", 0),
        "listings_ended_by_payment": c.get("listings_ended_by_payment", 0),
        "score_list_notices": c.get("score_list_notices", 0),
        "score_list_notices_ended_without_sanction":
            c.get("score_list_notices_ended_without_sanction", 0),
        "score_list_notices_ended_after_payment":
            c.get("score_list_notices_ended_after_payment", 0),
    }


def decisions(tr: Trace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in tr.actions:
        req = tr.counters.get(f"requests:{a}", 0)
        den = tr.counters.get(f"denied:{a}", 0)
        out[a] = {"requests": req, "denied": den,
                  "denied_share_of_requests": den / req if req else None,
                  "would_be_denied_at_end": tr.monthly[f"deny_rate:{a}"][-1],
                  "would_benefit_at_end": tr.monthly[f"benefit_rate:{a}"][-1]}
    return out


def patrols(tr: Trace) -> dict[str, Any]:
    alloc = np.array(tr.monthly["patrol_allocation"])
    return {"districts": tr.districts, "start": alloc[0].tolist(), "end": alloc[-1].tolist(),
            "divergence": divergence(tr)}


def divergence(tr: Trace, last: int = 12) -> float | None:
    """How far districts' records per head drifted apart: (max − min) / mean of records
    per head over the last `last` months, for the behaviours patrols detect. 0: equal;
    2 with two districts: one district has every record."""
    series = tr.monthly.get("patrolled_records_by_district")
    if not series:
        return None
    recent = np.sum(series[-last:], axis=0)
    per_head = recent / np.maximum(np.bincount(tr.district, minlength=len(tr.districts)), 1)
    mean = per_head.mean()
    return float((per_head.max() - per_head.min()) / mean) if mean > 0 else None


def summary(tr: Trace) -> dict[str, Any]:
    """Every end-of-run metric, JSON-ready (fairness comes from fairness.py)."""
    final_gini = tr.monthly["gini"][-1]
    return {
        "tiers": {"final_share": tiers_final(tr) if tr.tier_ids else {},
                  "names": tier_names(tr)},
        "gini": {"final": final_gini,
                 "note": None if final_gini is not None else
                 "undefined: some scores are negative or every score is 0"},
        "mobility": mobility(tr),
        "listed": {"final_share": tr.monthly["listed"][-1] / tr.n,
                   "final_count": tr.monthly["listed"][-1],
                   "by_list_final": dict(zip(tr.list_ids, tr.monthly["list_counts"][-1],
                                             strict=True)),
                   "by_group_final": dict(zip(tr.groups, tr.monthly["listed_by_group"][-1],
                                              strict=True)),
                   "by_district_final": dict(zip(tr.districts,
                                                 tr.monthly["listed_by_district"][-1],
                                                 strict=True))},
        "underclass": underclass(tr),
        "errors": errors(tr),
        "notice": notice(tr),
        "decisions": decisions(tr),
        "patrols": patrols(tr),
        "means": {"by_group_start": tr.monthly["means_by_group"][0],
                  "by_group_end": tr.monthly["means_by_group"][-1],
                  "dropped": tr.counters.get("means_dropped", 0)},
        "engine": {"rescored_per_month": tr.monthly["rescored"],
                   "mean_rescored_share": float(np.mean(tr.monthly["rescored"]) / tr.n),
                   "records_pruned": tr.counters.get("records_pruned", 0)},
    }


def finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x


__all__ = ["divergence", "kaplan_meier_median", "mobility", "spells", "summary",
           "underclass"]
