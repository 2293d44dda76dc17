"""The policy lab's Python API: run one rulebook on a scenario, or compare several on
the same society with common random numbers, across seeds.

    from socialcredit.lab import run, compare
    result = run("rongcheng", "poverty-feedback", population=20_000, months=60)
    result.data["findings"]            # plain words, each with its number
    result.write("out/")               # report.json + index.html

A rulebook the engine refuses (``baseline_violations``) is refused here too, unless
``study=True``: then the run goes ahead and every page and JSON document of its report
carries the banner "the engine will not operate this rulebook" with the violations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from socialcredit.lab import metrics
from socialcredit.lab.fairness import disparate_impact
from socialcredit.lab.scenario import Scenario, load_scenario
from socialcredit.lab.simulate import MONTH_US, LabOptions, Trace, simulate
from socialcredit.lab.society import make_society
from socialcredit.rulebook import Rulebook, baseline_violations, enforce_baseline
from socialcredit.rulebook.loader import source_name
from socialcredit.rulebook.shipped import load_named
from socialcredit.timeutil import format_instant

FORMAT = "socialcredit-lab/1"
BANNER = "THE ENGINE WILL NOT OPERATE THIS RULEBOOK"


def _rulebook(r: str | Path | Rulebook) -> Rulebook:
    return r if isinstance(r, Rulebook) else load_named(r)


def _scenario(s: str | Path | Scenario) -> Scenario:
    return s if isinstance(s, Scenario) else load_scenario(s)


def study_banner(rb: Rulebook, study: bool) -> dict[str, Any] | None:
    """None for an operable rulebook; the banner for one studied under --study; and a
    RefusedRulebook for one the engine refuses without --study."""
    found = baseline_violations(rb)
    if not found:
        return None
    if not study:
        enforce_baseline(rb)  # raises, naming every line crossed
    src = source_name(rb)
    return {"banner": BANNER,
            "rulebook": rb.rulebook,
            "explanation": f"{rb.rulebook} {rb.version} crosses {len(found)} line(s) the "
                           "system does not cross; it is simulated here for study only, "
                           "and `socialcredit` refuses to publish, ingest for or decide "
                           "with it.",
            "violations": [v.render(src) for v in found]}


def rulebook_info(rb: Rulebook) -> dict[str, Any]:
    return {"id": rb.rulebook, "version": rb.version, "title": rb.title,
            "sha256": rb.sha256}


def _series(tr: Trace) -> dict[str, Any]:
    """The monthly series a report charts (JSON-ready)."""
    mo = tr.monthly
    out: dict[str, Any] = {
        "month_end": [format_instant(tr.start + (m + 1) * MONTH_US)
                      for m in range(tr.months)],
        "tier_counts": mo["tier_counts"],
        "listed_share": [c / tr.n for c in mo["listed"]],
        "listed_by_group": mo["listed_by_group"],
        "listed_by_district": mo["listed_by_district"],
        "truth_by_group": mo["truth_by_group"],
        "gini": mo["gini"],
        "mean_score": mo["mean_score"],
        "mean_score_by_group": mo["mean_score_by_group"],
        "mean_score_by_district": mo["mean_score_by_district"],
        "means_by_group": mo["means_by_group"],
        "patrol_allocation": mo["patrol_allocation"],
        "records_by_district": mo["patrolled_records_by_district"],
        "wrongly_listed": mo["wrongly_listed"],
        "rescored": mo["rescored"],
        "dp_difference_listed_by_group": [_spread(v) for v in mo["listed_by_group"]],
        "eo_difference_listed_by_group": [_eo(v) for v in mo["tpr_fpr_listed_by_group"]],
    }
    for a in tr.actions:
        out[f"deny_rate:{a}"] = mo[f"deny_rate:{a}"]
        out[f"benefit_rate:{a}"] = mo[f"benefit_rate:{a}"]
        out[f"deny_by_group:{a}"] = mo[f"deny_by_group:{a}"]
    return out


def _spread(v: list[float | None]) -> float | None:
    xs = [x for x in v if x is not None]
    return max(xs) - min(xs) if len(xs) > 1 else None


def _eo(v: list[list[float | None]]) -> float | None:
    tpr = _spread([x[0] for x in v])
    fpr = _spread([x[1] for x in v])
    both = [x for x in (tpr, fpr) if x is not None]
    return max(both) if both else None


def fairness(tr: Trace, rb: Rulebook) -> dict[str, Any]:
    """Disparities of the outcomes this rulebook can produce: being blacklisted (if it
    has black lists) and being denied each scenario action it can deny."""
    f = tr.final
    outcomes: dict[str, Any] = {}
    if any(tr.black):
        outcomes["listed"] = (f["lists"] & _black_bits(tr)) != 0
    for a in tr.actions:
        if any(c.action == a and c.effect == "deny" and c.applies_to == "self"
               for c in rb.consequences):
            outcomes[f"denied:{a}"] = f[f"effect:{a}"] == 2
    return disparate_impact(outcomes, f["label"],
                            {"group": (tr.group, tr.groups),
                             "district": (tr.district, tr.districts)})


def _black_bits(tr: Trace) -> np.uint32:
    return np.uint32(sum(1 << i for i, b in enumerate(tr.black) if b))


@dataclass
class LabResult:
    """One run: `data` is the report's JSON; `trace` what the run observed."""

    data: dict[str, Any]
    trace: Trace = field(repr=False)

    def write(self, out: str | Path) -> Path:
        from socialcredit.lab.report import write_run

        return write_run(self.data, Path(out))


def run(rulebook: str | Path | Rulebook, scenario: str | Path | Scenario = "baseline", *,
        population: int | None = None, months: int | None = None, seed: int | None = None,
        study: bool = False, options: LabOptions = LabOptions()) -> LabResult:
    rb = _rulebook(rulebook)
    banner = study_banner(rb, study)
    sc = _scenario(scenario).with_overrides(population=population, months=months, seed=seed)
    society = make_society(sc, sc.population, sc.seed)
    tr = simulate(rb, sc, society, sc.seed, sc.months, options)
    return LabResult(build_data(rb, sc, tr, banner, options), tr)


def build_data(rb: Rulebook, sc: Scenario, tr: Trace, banner: dict[str, Any] | None,
               options: LabOptions) -> dict[str, Any]:
    from socialcredit.lab.report import findings

    summary = metrics.summary(tr)
    summary["disparate_impact"] = fairness(tr, rb)
    data: dict[str, Any] = {
        "format": FORMAT,
        "study_only": banner,
        "rulebook": rulebook_info(rb),
        "scenario": {"id": sc.scenario, "title": sc.title, "parameters": sc.model_dump(
            exclude={"population", "months", "seed"})},
        "run": {"population": sc.population, "months": sc.months, "seed": sc.seed,
                "start": sc.start, "score_tolerance": options.tolerance,
                "feedback": sc.has_feedback()},
        "summary": summary,
        "monthly": _series(tr),
        "notes": list(tr.notes),
    }
    data["findings"] = findings(data)
    return data


# -- compare ---------------------------------------------------------------------------------

def headline(data: dict[str, Any]) -> dict[str, float | None]:
    """The scalar metrics `lab compare` puts side by side."""
    s = data["summary"]
    u, mob = s["underclass"], s["mobility"]
    out: dict[str, float | None] = {
        "listed share (end)": s["listed"]["final_share"],
        "underclass share (listed ≥ half of last 24 months)":
            u["share_listed_half_of_window"],
        "median months listed (ever listed)": u["median_months_listed"],
        "mean months per listing spell": u["mean_months_per_spell"],
        "time to redemption, median months (Kaplan–Meier)": u["redemption_median_months"],
        "Gini of scores (end)": s["gini"]["final"],
        "mean score (end)": data["monthly"]["mean_score"][-1],
        "mean score gap between groups (max − min, end)": _spread(
            data["monthly"]["mean_score_by_group"][-1]),
        "mean score gap between districts (max − min, end)": _spread(
            data["monthly"]["mean_score_by_district"][-1]),
    }
    if mob.get("tiers"):
        bottom = mob["bottom_tier"]
        out[f"bottom tier ({bottom}) share (end)"] = (
            s["tiers"]["final_share"].get(bottom, 0.0)
            + s["tiers"]["final_share"].get("(none)", 0.0))
        out["left bottom tier within 12 months"] = mob["leave_bottom_12m_share"]
    for feat, outcomes in s["disparate_impact"].items():
        for name, d in outcomes.items():
            out[f"demographic parity difference, {name} by {feat}"] = (
                d["demographic_parity_difference"])
            out[f"equalized odds difference, {name} by {feat}"] = d["equalized_odds_difference"]
            out[f"four-fifths ratio (min), {name} by {feat}"] = d["four_fifths_min_ratio"]
    for a, d in s["decisions"].items():
        out[f"would be denied {a} (end)"] = d["would_be_denied_at_end"]
    e, n = s["errors"], s["notice"]
    out["subjects ever wrongly listed"] = float(e["subjects_ever_wrongly_listed"])
    out["denials caused by false records"] = float(e["denials_caused_by_false_records"])
    out["sanctions avoided by payment within notice"] = float(
        n["sanctions_avoided_by_payment"])
    if s["patrols"]["divergence"] is not None:
        out["records per head, district divergence (last 12 months)"] = (
            s["patrols"]["divergence"])
    return out


def confidence_interval(values: list[float]) -> tuple[float, float | None, float | None]:
    """Mean and a 95 % Student-t confidence interval (None with fewer than 2 values)."""
    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, None, None
    from scipy.stats import t as student_t

    sd = float(np.std(values, ddof=1))
    half = float(student_t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


@dataclass
class CompareResult:
    data: dict[str, Any]
    runs: dict[str, list[dict[str, Any]]] = field(repr=False)

    def write(self, out: str | Path) -> Path:
        from socialcredit.lab.report import write_compare

        return write_compare(self.data, Path(out))


def compare(rulebooks: Sequence[str | Path | Rulebook], scenario: str | Path | Scenario
            = "baseline", *, population: int | None = None, months: int | None = None,
            seeds: int | Sequence[int] = 3, study: bool = False,
            options: LabOptions = LabOptions()) -> CompareResult:
    """Every rulebook on the same societies (one per seed) with common random numbers;
    metrics side by side, and each rulebook's difference from the first with a 95 %
    confidence interval over seeds (paired by seed)."""
    if len(rulebooks) < 2:
        from socialcredit.errors import SocialCreditError

        raise SocialCreditError("lab compare needs at least two rulebooks")
    rbs = [_rulebook(r) for r in rulebooks]
    banners = {rb.rulebook: study_banner(rb, study) for rb in rbs}
    sc = _scenario(scenario).with_overrides(population=population, months=months)
    seed_list = (list(range(sc.seed, sc.seed + seeds)) if isinstance(seeds, int)
                 else list(seeds))
    names = _unique_names(rbs)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for seed in seed_list:
        society = make_society(sc, sc.population, seed)
        for name, rb in zip(names, rbs, strict=True):
            tr = simulate(rb, sc, society, seed, sc.months, options)
            runs[name].append(build_data(rb, sc.with_overrides(seed=seed), tr,
                                         banners[rb.rulebook], options))
    heads = {name: [headline(d) for d in runs[name]] for name in names}
    keys: list[str] = []
    for name in names:
        for h in heads[name]:
            keys.extend(k for k in h if k not in keys)
    table = []
    base = names[0]
    for key in keys:
        row: dict[str, Any] = {"metric": key, "rulebooks": {}, "difference_from": base,
                               "differences": {}}
        for name in names:
            vals = [h.get(key) for h in heads[name]]
            got = [v for v in vals if v is not None]
            row["rulebooks"][name] = _interval(got, len(vals))
        for name in names[1:]:
            pairs = [(a.get(key), b.get(key)) for a, b in zip(heads[base], heads[name],
                                                              strict=True)]
            diffs = [b - a for a, b in pairs if a is not None and b is not None]
            row["differences"][name] = _interval(diffs, len(pairs))
        table.append(row)
    data = {
        "format": FORMAT,
        "study_only": {k: v for k, v in banners.items() if v is not None} or None,
        "rulebooks": {name: rulebook_info(rb) for name, rb in zip(names, rbs, strict=True)},
        "scenario": {"id": sc.scenario, "title": sc.title},
        "run": {"population": sc.population, "months": sc.months, "seeds": seed_list,
                "common_random_numbers": True, "score_tolerance": options.tolerance},
        "metrics": table,
        "monthly_mean": {name: _mean_series(runs[name]) for name in names},
        "notes": sorted({n for name in names for d in runs[name] for n in d["notes"]}),
    }
    from socialcredit.lab.report import compare_findings

    data["findings"] = compare_findings(data)
    return CompareResult(data, runs)


def _interval(values: list[float], total: int) -> dict[str, Any]:
    if not values:
        return {"mean": None, "ci95": None, "n": 0, "of": total}
    mean, lo, hi = confidence_interval(values)
    return {"mean": mean, "ci95": None if lo is None else [lo, hi], "n": len(values),
            "of": total}


def _mean_series(runs: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    out: dict[str, list[float | None]] = {}
    for key in ("listed_share", "gini", "mean_score"):
        arrs = [r["monthly"][key] for r in runs]
        out[key] = [None if any(a[i] is None for a in arrs) else
                    float(np.mean([a[i] for a in arrs])) for i in range(len(arrs[0]))]
    return out


def _unique_names(rbs: list[Rulebook]) -> list[str]:
    names: list[str] = []
    for rb in rbs:
        name = rb.rulebook
        if name in names:
            name = f"{rb.rulebook}@{rb.version}"
        i = 2
        while name in names:
            name = f"{rb.rulebook}@{rb.version}#{i}"
            i += 1
        names.append(name)
    return names


__all__ = ["BANNER", "CompareResult", "LabResult", "compare", "confidence_interval",
           "headline", "run", "study_banner"]
