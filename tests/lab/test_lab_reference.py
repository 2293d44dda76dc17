"""The lab's standings for a simulated month equal the reference engine's (the oracle
of docs/semantics.md) on a sample of subjects, computed from the records the lab
produced for them."""

from __future__ import annotations

import numpy as np
import pytest

from socialcredit.lab.simulate import MONTH_US, LabOptions, Simulation
from socialcredit.lab.society import make_society
from socialcredit.rulebook import Rulebook
from socialcredit.rulebook.shipped import load_named
from socialcredit.scoring import reference
from tests.lab.labkit import rulebook as labtest
from tests.lab.labkit import scenario

MONTHS = 30


def _check(rb: Rulebook, tolerance: float, shipped_scenario: str | None = None) -> int:
    from socialcredit.lab.scenario import load_scenario

    sc = (scenario(population=1500) if shipped_scenario is None
          else load_scenario(shipped_scenario).with_overrides(population=1500))
    society = make_society(sc, sc.population, 5)
    sim = Simulation(rb, sc, society, 5, LabOptions(tolerance=tolerance))
    tr = sim.run(MONTHS)
    t = sc.start_us + MONTHS * MONTH_US
    st = sim.scorer.state
    rng = np.random.default_rng(0)
    store = sim.store
    has_records = np.unique(store.subj[:store.n])
    listed = np.flatnonzero(tr.listed[-1])
    sample = np.unique(np.r_[rng.choice(has_records, 120, replace=False),
                             listed[:40], rng.integers(0, sc.population, 20)])
    flag = np.zeros(sc.population, bool)
    for code in sample.tolist():
        flag[:] = False
        flag[code] = True
        records = store.records(store.rows_of(flag))
        want = reference.standing(rb, str(code), sc.subject_kind, records, t, t)
        assert abs(st.score[code] - want.score) <= tolerance + 1e-6, (code, want.score)
        tier = rb.tiers[st.tier[code]].id if st.tier[code] < len(rb.tiers) else None
        assert tier == want.tier, code
        lists = [x.id for i, x in enumerate(rb.lists) if int(st.lists[code]) >> i & 1]
        assert lists == want.lists, code
    return len(sample)


def test_month_standings_equal_the_reference_engine_exactly() -> None:
    assert _check(labtest(), tolerance=0.0) > 100


def test_with_a_score_tolerance_tiers_and_lists_stay_exact() -> None:
    assert _check(labtest(), tolerance=1.0) > 100


@pytest.mark.parametrize("name", ["rongcheng", "judgment-defaulters"])
def test_shipped_rulebooks_on_a_shipped_scenario(name: str) -> None:
    assert _check(load_named(name), tolerance=0.0,
                  shipped_scenario="errors-and-objections") > 100


def test_exported_records_are_a_ledger_the_engine_scores_alike(tmp_path: object) -> None:
    """--records writes the simulated ledger in the ledger's Parquet record schema;
    the batch engine scoring that file gives the lab's standings."""
    from pathlib import Path

    import pyarrow.parquet as pq

    from socialcredit.ledger.parquet import RECORDS
    from socialcredit.scoring.batch import score_records, subjects_to_table

    out = Path(str(tmp_path)) / "records.parquet"
    sc = scenario(population=800)
    rb = labtest()
    sim = Simulation(rb, sc, make_society(sc, 800, 2), 2,
                     LabOptions(tolerance=0.0, records_out=str(out)))
    tr = sim.run(20)
    table = pq.read_table(out)
    assert table.schema.equals(RECORDS)
    # everything that joined the ledger (records still pending at the end have not)
    assert table.num_rows == sim.store.next_serial > 0
    assert table.num_rows <= sum(tr.counters.get(k, 0) for k in (
        "true_records", "false_records", "payments", "voids"))
    assert table.column("evidence").null_count < table.num_rows
    assert set(table.column("provider").to_pylist()) <= {
        "bank-01", "court-01", "civil-01", "reviewer-01"}
    t = sc.start_us + 20 * MONTH_US
    subjects = subjects_to_table([(str(i), "person") for i in range(800)])
    got = score_records(rb, table, subjects, t)
    st = sim.scorer.state
    assert np.allclose(got.column("score").to_numpy(), st.score, atol=1e-9)
    tiers = [rb.tiers[i].id if i < len(rb.tiers) else None for i in st.tier.tolist()]
    assert got.column("tier").to_pylist() == tiers


def test_exported_records_are_ingested_by_a_ledger_as_they_are(tmp_path: object) -> None:
    """--records' ids are in their provider's namespace, as the ledger requires (a
    resolution or void names its target in the target's provider's namespace, even
    when the target was pruned from the lab's memory), so the file goes into a real
    ledger whole: nothing refused, and the ledger scores every subject as the lab did."""
    import csv
    from pathlib import Path

    import pyarrow.parquet as pq

    from socialcredit.lab.scenario import load_scenario
    from socialcredit.lab.synth import providers_for
    from socialcredit.service import Service
    from socialcredit.timeutil import format_instant
    from tests.conftest import Clock

    d = Path(str(tmp_path))
    out = d / "records.parquet"
    sc = load_scenario("errors-and-objections").with_overrides(population=300)
    rb = load_named("rongcheng")
    sim = Simulation(rb, sc, make_society(sc, 300, 3), 3,
                     LabOptions(tolerance=0.0, records_out=str(out), prune=True))
    sim.run(26)  # pruned at months 12 and 24: follow-ups may outlive their targets
    assert sim.store.pruned > 0
    rows = pq.read_table(out).to_pylist()
    ids = {r["record_id"] for r in rows}
    assert all(r["record_id"].startswith(r["provider"] + ":") for r in rows)
    refs = [r["ref"] for r in rows if r["ref"] is not None]
    assert refs and set(refs) <= ids
    with (d / "records.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["record_id", "provider", "subject", "subject_kind", "type",
                    "occurred_at", "value", "evidence", "ref"])
        for r in rows:
            v = r["value_num"]
            w.writerow([r["record_id"], r["provider"], r["subject"], sc.subject_kind, r["type"],
                        format_instant(r["occurred_at"]), "" if v is None else repr(v),
                        r["evidence"] or "", r["ref"] or ""])
    clock = Clock("2026-12-01T00:00:00Z")
    svc = Service.create(rb, str(d / "ledger.db"), clock=clock)
    for p, role in providers_for([rb]):
        svc.providers.add(p, role)
    clock.now = max(r["recorded_at"] for r in rows) + 1_000_000
    report = svc.records.ingest_file(d / "records.csv", backfill=True)
    assert report.accepted == len(rows), report
    t = sc.start_us + 26 * MONTH_US
    clock.now = t + 1_000_000
    st = sim.scorer.state
    for code in range(0, 300, 7):
        got = svc.standings.of(str(code), at=t)
        assert abs(got.score - st.score[code]) <= 1e-6, code
