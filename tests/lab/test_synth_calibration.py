"""Synthetic populations are calibrated: a large population per shipped rulebook has the
rates docs/synth.md states, within tolerances computed from the generator's own
distributions (4 standard deviations), and the published orders of magnitude hold."""

from __future__ import annotations

import math
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from socialcredit.lab import synth
from socialcredit.lab import synth_calibration as cal
from socialcredit.lab.synth import population, synthesize_batches, synthesize_to_file
from socialcredit.lab.synth_parquet import rows_to_ledger
from socialcredit.rulebook.model import Rulebook
from socialcredit.rulebook.shipped import load_named, shipped_names
from socialcredit.scoring.batch import score_records
from socialcredit.timeutil import parse_instant
from tests.conftest import ROOT

N = 20_000
MONTHS = 36
YEARS = MONTHS / 12
SEED = 11
Z = 4.0
SHIPPED = shipped_names()
END = parse_instant(synth.DEFAULT_END)


@cache
def generated(name: str) -> tuple[Rulebook, pa.Table, pa.Table]:
    rb = load_named(name)
    pop = population(rb, subjects=N, seed=SEED)
    rows = pa.concat_tables(list(synthesize_batches(rb, subjects=N, months=MONTHS, seed=SEED,
                                                    backfill_times=True)))
    return rb, pop, rows


@cache
def standings(name: str) -> pa.Table:
    rb, _, rows = generated(name)
    records, subjects = rows_to_ledger(rb, rows)
    return score_records(rb, records, subjects, END)


def counts(rows: pa.Table, column: str = "type") -> Counter[str]:
    vc = pc.value_counts(rows.column(column).combine_chunks())
    return Counter({v["values"].as_py(): v["counts"].as_py() for v in vc})


def eligible(pop: pa.Table, kinds: frozenset[str]) -> pa.Table:
    return pop.filter(pc.is_in(pop.column("subject_kind"), pa.array(sorted(kinds))))


def variance_factor(pop: pa.Table, positive: bool) -> float:
    """Var(propensity × district factor) for the eligible subjects: how much more than
    Poisson the count per subject spreads."""
    if positive:
        return 1.0 / cal.POSITIVE_SHAPE
    north, south = cal.district_factors()
    d = np.where(np.asarray(pop.column("district").to_pylist()) == "south", south, north)
    return (1.0 + 1.0 / cal.NEGATIVE_SHAPE) * float(np.mean(d**2)) - 1.0


# -- the table is complete and the page states it -------------------------------------------

@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_type_and_fact_has_a_documented_rate(name: str) -> None:
    rb = load_named(name)
    plans, facts = synth._plans([rb], None)
    assert plans
    for plan in plans:
        assert plan.type.id in cal.RATES, plan.type.id
        assert plan.rate == pytest.approx(cal.RATES[plan.type.id].per_year / 12)
    for rb_, i in facts:
        assert rb_.attributes[i].record in cal.FACTS, rb_.attributes[i].record


def test_docs_state_every_rate_and_source() -> None:
    page = (ROOT / "docs" / "synth.md").read_text(encoding="utf-8")
    assert cal.rates_markdown() in page, "docs/synth.md: paste synth_calibration.rates_markdown()"
    assert cal.facts_markdown() in page, "docs/synth.md: paste synth_calibration.facts_markdown()"
    for tid, rate in cal.RATES.items():
        assert rate.mark in ("✔", "⚠", "✖") and rate.source, tid
    sourced = {t for t, r in cal.RATES.items() if r.mark != "✖"}
    assert sourced == {"court.refuses_to_perform", "finance.bank_arrears", "credit.bankruptcy"}
    for tid in sourced:  # a sourced rate names a publication and a date
        assert any(ch.isdigit() for ch in cal.RATES[tid].source), tid


# -- generated rates ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", SHIPPED)
def test_generated_rates_match_the_table(name: str) -> None:
    rb, pop, rows = generated(name)
    seen = counts(rows)
    plans, _ = synth._plans([rb], None)
    for plan in plans:
        subjects = eligible(pop, plan.kinds)
        n = subjects.num_rows
        mu = cal.RATES[plan.type.id].per_year * YEARS  # per subject over the history
        expected = n * mu
        sigma = math.sqrt(n * (mu + mu * mu * variance_factor(subjects, plan.positive)))
        got = seen[plan.type.id]
        assert abs(got - expected) <= Z * sigma, (plan.type.id, got, expected, sigma)


@pytest.mark.parametrize("name", SHIPPED)
def test_resolutions_follow_the_table(name: str) -> None:
    """The share of records resolved before the end of the history: the table's share,
    less those whose (exponential) delay runs past the end."""
    rb, _, rows = generated(name)
    plans, _ = synth._plans([rb], None)
    kinds = {t.id: t.kind for t in rb.record_types}
    base_type = dict(zip(rows.column("record_id").to_pylist(), rows.column("type").to_pylist(),
                         strict=True))
    resolved = Counter(base_type[r] for r, t in zip(rows.column("ref").to_pylist(),
                                                    rows.column("type").to_pylist(),
                                                    strict=True)
                       if r is not None and kinds.get(t) == "resolution")
    seen = counts(rows)
    span = MONTHS * 30.4375
    for plan in plans:
        if plan.resolution is None or seen[plan.type.id] < 30:
            continue
        tau = plan.resolve_days
        p = plan.resolved * (1 - tau / span * (1 - math.exp(-span / tau)))
        n = seen[plan.type.id]
        sigma = math.sqrt(n * p * (1 - p))
        assert abs(resolved[plan.type.id] - n * p) <= Z * sigma + 1, (plan.type.id,
                                                                       resolved[plan.type.id],
                                                                       n * p)


@pytest.mark.parametrize("name", SHIPPED)
def test_facts_have_the_documented_share_and_range(name: str) -> None:
    rb, pop, rows = generated(name)
    for a in rb.attributes:
        spec = cal.FACTS[a.record]
        n = eligible(pop, frozenset(rb.subjects)).num_rows
        mine = rows.filter(pc.equal(rows.column("type"), a.record))
        sigma = math.sqrt(n * spec.share * (1 - spec.share)) or 1.0
        assert abs(mine.num_rows - n * spec.share) <= Z * sigma, a.record
        values = mine.column("value").to_pylist()
        if spec.draw == "choice":
            assert set(values) <= set(spec.choices)
            assert len(set(values)) == len(spec.choices)  # every choice occurs
        else:
            x = np.array(values, dtype=float)
            assert spec.lo is None or x.min() >= spec.lo
            assert spec.hi is None or x.max() <= spec.hi
        occurred = pc.cast(mine.column("occurred_at"), pa.timestamp("us", tz="UTC"))
        assert pc.min(occurred).value >= END - synth.FACT_AGE_US  # a recent snapshot


@pytest.mark.parametrize("name", ["rongcheng", "corporate", "judgment-defaulters"])
def test_districts_differ_by_the_documented_factor(name: str) -> None:
    rb, pop, rows = generated(name)
    plans, _ = synth._plans([rb], None)
    negative = [p for p in plans if not p.positive]
    district = dict(zip(pop.column("subject").to_pylist(), pop.column("district").to_pylist(),
                        strict=True))
    wanted = {p.type.id for p in negative}
    per: Counter[str] = Counter(district[s] for s, t in zip(
        rows.column("subject").to_pylist(), rows.column("type").to_pylist(), strict=True)
        if t in wanted)
    sizes = Counter(district.values())
    rates = {d: per[d] / sizes[d] for d in ("north", "south")}
    # relative sd of each district's mean count: Poisson counts whose mean m carries the
    # personal propensity (variance 1/shape): var per subject m + m² / shape
    rel = {d: math.sqrt((m + m * m / cal.NEGATIVE_SHAPE) / sizes[d]) / m
           for d, m in rates.items()}
    ratio = rates["south"] / rates["north"]
    assert abs(ratio - cal.SOUTH_RATE) <= Z * ratio * math.hypot(rel["north"], rel["south"]), (
        ratio, rates)
    assert set(pop.column("district").to_pylist()) == {"north", "south"}


# -- the published orders of magnitude -------------------------------------------------------

def test_about_one_percent_are_on_the_defaulter_list() -> None:
    out = standings("judgment-defaulters")
    listed = sum(1 for lists in out.column("lists").to_pylist() if lists) / N
    p = 0.01
    assert abs(listed - p) <= Z * math.sqrt(p * (1 - p) / N), listed


def test_heroic_acts_are_rare_and_bankruptcies_low() -> None:
    _, pop, rows = generated("rongcheng")
    persons = eligible(pop, frozenset({"person"})).num_rows
    heroic = counts(rows)["civic.heroic_act"] / persons / YEARS
    assert heroic <= 0.001  # at most 0.1 % of persons a year
    _, pop, rows = generated("fico-like")
    filed = rows.filter(pc.equal(rows.column("type"), "credit.bankruptcy"))
    share = len(set(filed.column("subject").to_pylist())) / N
    assert 0.002 * YEARS / 2 <= share <= 0.003 * YEARS * 1.5  # ≈0.3 % a year, not 57 %
    traffic = counts(generated("rongcheng")[2])["traffic.ticket"] / persons / YEARS
    assert traffic >= 0.1  # common


@pytest.mark.parametrize("name", [n for n in SHIPPED if load_named(n).tiers])
def test_the_population_spreads_over_tiers(name: str) -> None:
    rb = load_named(name)
    out = standings(name)
    applies = [t for t, k in zip(out.column("tier").to_pylist(),
                                 out.column("subject_kind").to_pylist(), strict=True)
               if k in rb.subjects]
    tiers = Counter(applies)
    assert sum(1 for n in tiers.values() if n >= 0.001 * len(applies)) >= 2, tiers


def test_the_demo_population_in_docs_synth_md() -> None:
    """The before/after figures docs/synth.md gives for the demo's population."""
    rbs = [load_named(n) for n in ("rongcheng", "judgment-defaulters")]
    rows = pa.concat_tables(list(synthesize_batches(rbs, subjects=10_000, months=36, seed=7,
                                                    backfill_times=True)))
    persons = len(set(rows.filter(pc.equal(rows.column("subject_kind"), "person"))
                      .column("subject").to_pylist()))
    heroic = counts(rows)["civic.heroic_act"]
    records, subjects = rows_to_ledger(rbs, rows)
    listed = sum(1 for lists in score_records(rbs[1], records, subjects, END)
                 .column("lists").to_pylist() if lists) / 10_000
    page = " ".join((ROOT / "docs" / "synth.md").read_text(encoding="utf-8").split())
    assert (f"{heroic:,} heroic acts among {persons:,} persons and {listed:.2%}".replace(
        "%", " %") + " of its subjects on the defaulter list") in page
    assert heroic < 0.001 * persons * 3


# -- determinism -------------------------------------------------------------------------------

def test_same_seed_same_file_and_groups(tmp_path: Path) -> None:
    a = synthesize_to_file("corporate", tmp_path / "a.csv", subjects=400, months=12, seed=5)
    b = synthesize_to_file("corporate", tmp_path / "b.csv", subjects=400, months=12, seed=5)
    c = synthesize_to_file("corporate", tmp_path / "c.csv", subjects=400, months=12, seed=6)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    assert a.records == b.records and a.records != c.records
    groups = dict(line.split(",") for line in
                  (tmp_path / "a.groups.csv").read_text(encoding="utf-8").split()[1:])
    pop = population(load_named("corporate"), subjects=400, seed=5)
    truth = dict(zip(pop.column("subject").to_pylist(), pop.column("district").to_pylist(),
                     strict=True))
    assert groups and all(truth[s] == d for s, d in groups.items())
