"""Each scenario mechanism does what docs/lab.md says: feedback, payments within notice,
false records and objections, common random numbers."""

from __future__ import annotations

import numpy as np

from socialcredit.lab.simulate import LabOptions, Simulation, Trace
from socialcredit.lab.society import make_society
from socialcredit.rulebook import parse_rulebook
from socialcredit.timeutil import days_to_us
from tests.lab.labkit import RULEBOOK, rulebook, scenario

N = 1500
MONTHS = 30


def _sim(rb_text: str | None = None, **changes: object) -> tuple[Trace, Simulation]:
    sc = scenario(population=N, months=MONTHS, **changes)
    rb = rulebook() if rb_text is None else parse_rulebook(rb_text, "variant.yaml")
    sim = Simulation(rb, sc, make_society(sc, N, 4), 4, LabOptions(prune=False))
    return sim.run(MONTHS), sim


def test_feedback_raises_arrears_and_lowers_means() -> None:
    with_fb, _ = _sim()
    without, _ = _sim(feedback=[])
    assert with_fb.counters["feedback:0"] > 0 and with_fb.counters["feedback:1"] > 0
    assert with_fb.counters["means_dropped"] > 0
    assert "means_dropped" not in without.counters
    # the same luck (common random numbers): denied loans -> more arrears, not fewer
    assert with_fb.counters["true_events"] > without.counters["true_events"]


def test_a_rulebook_change_that_cannot_move_behaviour_leaves_the_society_alike() -> None:
    # bike benefits feed back into nothing, so records, payments and voids are identical
    variant = RULEBOOK.replace("grant: {deposit_waived: true},\n     when: {tier_at_least: A}",
                               "grant: {deposit_waived: true},\n     when: {tier_at_least: C}")
    assert variant != RULEBOOK
    a, sa = _sim()
    b, sb = _sim(variant)
    n = sa.store.n
    assert n == sb.store.n
    for col in ("subj", "type", "occ", "rec", "ref", "false"):
        assert np.array_equal(sa.store.col(col), sb.store.col(col)), col
    assert a.final["effect:bike"].sum() != b.final["effect:bike"].sum()


def test_payments_within_notice_avoid_the_listing() -> None:
    tr, sim = _sim(errors={"rate": 0.0})
    st = sim.store
    n = st.n
    res = np.flatnonzero(st.kind_of_type[st.type[:n]] == 1)
    tgt = st.rows_of_serials(st.ref[:n][res])
    default = st.type_index["default"]
    mine = st.type[tgt] == default
    early = st.occ[res[mine]] < st.rec[tgt[mine]] + days_to_us(10)
    assert tr.counters["sanctions_avoided_by_payment"] == int(early.sum()) > 0
    # a subject whose every default was paid within notice is not on that list
    early_rows = set(tgt[mine][early].tolist())
    defaults = np.flatnonzero(st.type[:n] == default)
    unpaid = {int(st.subj[r]) for r in defaults.tolist() if r not in early_rows}
    paid_only = sorted({int(st.subj[r]) for r in early_rows} - unpaid)
    assert paid_only
    bit = 1 << sim.plan.list_ids.index("defaulters")
    assert all(int(tr.final["lists"][s]) & bit == 0 for s in paid_only)
    # while some of those who did not pay are
    assert any(int(tr.final["lists"][s]) & bit for s in unpaid)


def test_false_records_list_people_and_early_objections_prevent_it() -> None:
    errs = {"rate": 0.0, "by_behaviour": {"default": 0.01}}
    none, _ = _sim(errors=errs, objections={"share": 0.0})
    assert none.counters["false_records"] > 0
    assert int(none.final["ever_wrongly_listed"].sum()) > 0
    assert none.counters.get("denials_caused_by_false_records", 0) > 0
    # every wrongly recorded subject objects and the void comes before the 10-day notice
    quick, _ = _sim(errors=errs, objections={"share": 1.0, "upheld": 1.0,
                                                "review_delay": "3d"})
    assert quick.counters["false_records"] > 0
    assert quick.counters["wrongful_listings_prevented_by_objection"] == quick.counters[
        "voids"] > 0
    assert quick.counters.get("wrongful_listings_ended_by_objection", 0) == 0
