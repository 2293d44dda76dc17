"""The contract's standing semantics, clause by clause, on the reference engine."""

from __future__ import annotations

import math

import pytest

from socialcredit.scoring.reference import standing
from tests.helpers import base_rulebook, day, rec

RB = base_rulebook()


def st(records, t, k=None, kind="person", rb=RB):
    return standing(rb, "s1", kind, records, day(t), day(t if k is None else k))


def contrib(s):
    return {c.record_id: c.contribution for c in s.contributions}


def test_no_records_scores_base_plus_missing_attribute():
    s = st([], 10)
    assert s.score == 1000 - 3
    assert s.dimensions == {"money": -3, "civic": 0}
    assert s.tier == "B"
    assert s.contributions == [] and s.lists == []


def test_decay_halves_at_half_life():
    s = st([rec("a", "arrears", 0)], 100)
    assert math.isclose(contrib(s)["a"], -5.0, abs_tol=1e-9)
    s = st([rec("a", "arrears", 0)], 250)
    assert math.isclose(contrib(s)["a"], -10 * 0.5 ** 2.5, abs_tol=1e-9)


def test_age_is_fractional_days():
    s = st([rec("a", "arrears", 0)], 0.5)
    assert math.isclose(s.contributions[0].age_days, 0.5)
    assert math.isclose(contrib(s)["a"], -10 * 0.5 ** (0.5 / 100), abs_tol=1e-12)


def test_expiry_is_strict_at_the_boundary():
    before = st([rec("a", "arrears", 0)], 364.999)
    at = st([rec("a", "arrears", 0)], 365)
    assert "a" in contrib(before)
    assert "a" not in contrib(at)


def test_no_decay_without_half_life():
    s = st([rec("b", "bonus", 0)], 3000)
    assert contrib(s)["b"] == 30.0


def test_points_per_unit_times_value():
    s = st([rec("h", "hours", 0, value=7.0)], 1)
    assert contrib(s)["h"] == 3.5


def test_future_records_do_not_count_yet():
    s = st([rec("a", "arrears", 5, 0)], 4, k=10)
    assert s.contributions == []


def test_known_at_excludes_records_recorded_later():
    records = [rec("a", "arrears", 0, recorded=5)]
    assert st(records, 10, k=4).contributions == []
    assert len(st(records, 10, k=5).contributions) == 1


def test_void_known_at_k_withdraws_regardless_of_its_occurred_at():
    records = [rec("a", "arrears", 0),
               rec("v", "void", 50, recorded=20, kind="void", ref="a")]
    assert st(records, 10, k=19).contributions != []
    # void occurred_at (50) is after t (10), but it is known at k: the record is withdrawn
    assert st(records, 10, k=20).contributions == []


def test_max_count_keeps_latest_and_breaks_ties_by_larger_record_id():
    records = [rec("a1", "arrears", 1), rec("a2", "arrears", 2), rec("a3", "arrears", 3),
               rec("a4", "arrears", 3), rec("a0", "arrears", 4)]
    assert set(contrib(st(records, 10))) == {"a0", "a4", "a3"}
    tie = [rec("x", "arrears", 2), rec("y", "arrears", 2), rec("z", "arrears", 2),
           rec("Z", "arrears", 2)]
    # code-point order: "z" > "y" > "x" > "Z"
    assert set(contrib(st(tie, 10))) == {"z", "y", "x"}


def test_max_count_applies_after_voids_and_expiry():
    records = [rec("a1", "arrears", 1), rec("a2", "arrears", 2), rec("a3", "arrears", 3),
               rec("a4", "arrears", 4), rec("v", "void", 5, kind="void", ref="a4"),
               rec("old", "arrears", -400)]
    assert set(contrib(st(records, 10))) == {"a1", "a2", "a3"}


def test_resolved_points_replace_points_once_resolved():
    records = [rec("a", "arrears", 0), rec("r", "paid", 50, kind="resolution", ref="a")]
    assert math.isclose(contrib(st(records, 40))["a"], -10 * 0.5 ** 0.4)
    assert math.isclose(contrib(st(records, 60))["a"], -4 * 0.5 ** 0.6)
    # a resolution recorded after k does not count at k
    late = [rec("a", "arrears", 0), rec("r", "paid", 50, recorded=70, kind="resolution",
                                        ref="a")]
    assert math.isclose(contrib(st(late, 60, k=65))["a"], -10 * 0.5 ** 0.6)


def test_voided_resolution_does_not_resolve():
    records = [rec("a", "arrears", 0), rec("r", "paid", 1, kind="resolution", ref="a"),
               rec("v", "void", 2, kind="void", ref="r")]
    assert contrib(st(records, 10))["a"] == pytest.approx(-10 * 0.5 ** 0.1)


def test_dimension_clamps_and_scale_clamps():
    many = [rec(f"b{i}", "bonus", 0) for i in range(10)]
    s = st(many, 1)
    assert s.dimensions["civic"] == 300.0  # civic has no bounds
    rb = base_rulebook(**{"{id: civic}": "{id: civic, max: 50}"})
    s = st(many, 1, rb=rb)
    assert s.dimensions["civic"] == 50.0
    rb = base_rulebook(**{"{id: civic}": "{id: civic}", "max: 1200": "max: 1010"})
    assert st(many, 1, rb=rb).score == 1010.0
    arrears = [rec(f"a{i}", "arrears", 0) for i in range(3)]
    rb = base_rulebook(**{"min: -500, max: 100": "min: -15, max: 100"})
    assert st(arrears, 0, rb=rb).dimensions["money"] == -15.0


def test_scale_min_clamp():
    rb = base_rulebook(**{"points: -10, half_life": "points: -900, half_life",
                          "min: -500, max: 100": "max: 100"})
    s = st([rec("a", "arrears", 0), rec("b", "arrears", 0)], 0, rb=rb)
    assert s.score == 0.0
    assert s.tier == "C"


def test_tiers_first_whose_min_is_at_most_score():
    assert st([rec("b", "bonus", 0)], 1).tier == "A"      # 1027
    assert st([], 1).tier == "B"                          # 997
    rb = base_rulebook(**{"{id: B, min: 950}": "{id: B, min: 970}",
                          "{id: C, min: 0}": "{id: C, min: 968}"})
    s = st([rec(f"a{i}", "arrears", 0) for i in range(3)], 0, rb=rb)
    assert s.score == 967 and s.tier is None


def test_attribute_bins_in_order_and_latest_fact():
    def attr(records, t=100, k=None):
        return st(records, t, k).attributes[0]

    assert attr([rec("f", "history", 0, value=5.0)]).points == -20
    assert attr([rec("f", "history", 0, value=20.0)]).points == 5
    assert attr([rec("f", "history", 0, value=99.0)]).points == 7  # values bin before below
    assert attr([rec("f", "history", 0, value="abc")]).points == 7
    assert attr([rec("f", "history", 0, value="other")]).points == 10  # catch-all
    assert attr([rec("f", "history", 0, value=50.0)]).points == 10
    # latest by occurred_at, then recorded_at, then record_id
    facts = [rec("f1", "history", 5, value=5.0), rec("f2", "history", 4, value=50.0)]
    assert attr(facts).record_id == "f1"
    facts = [rec("f1", "history", 5, recorded=9, value=5.0),
             rec("f2", "history", 5, recorded=8, value=50.0)]
    assert attr(facts).record_id == "f1"
    facts = [rec("f1", "history", 5, value=5.0), rec("f2", "history", 5, value=50.0)]
    assert attr(facts).record_id == "f2"
    # a voided fact does not count, the earlier one is used
    facts = [rec("f1", "history", 1, value=5.0), rec("f2", "history", 2, value=50.0),
             rec("v", "void", 3, kind="void", ref="f2")]
    assert attr(facts).record_id == "f1"
    # a fact recorded after k is unknown: missing points
    assert attr([rec("f", "history", 0, recorded=50, value=5.0)], 100, 40).points == -3


def test_unplaced_value_scores_as_missing():
    rb = base_rulebook(**{"{points: 10}]": "{below: 40, points: 10}]"})
    s = st([rec("f", "history", 0, value=50.0)], 1, rb=rb)
    assert s.attributes[0].points == -3 and s.attributes[0].bin is None


def test_score_is_base_plus_clamped_dimensions():
    records = [rec("a", "arrears", 0), rec("b", "bonus", 0), rec("f", "history", 0, value=20.0)]
    s = st(records, 100)
    assert math.isclose(s.dimensions["money"], -5 + 5)
    assert math.isclose(s.score, 1000 + (-5 + 5) + 30)


def test_key_factors_are_the_four_most_negative():
    rb = base_rulebook(**{"max_count: 3,": "max_count: 10,"})
    records = [rec(f"a{i}", "arrears", i * 20) for i in range(6)]
    s = st(records, 120, rb=rb)
    assert [c.record_id for c in s.key_factors] == ["a5", "a4", "a3", "a2"]


def test_program_applies_only_to_its_subject_kinds():
    s = st([rec("a", "arrears", 0)], 1, kind="organization")
    assert not s.applies and s.contributions == [] and s.score == 997.0


# -- lists ------------------------------------------------------------------------------

def test_list_starts_after_notice_and_ends_at_max_duration():
    records = [rec("c", "ruling", 0, recorded=2)]
    assert st(records, 11.99).lists == []
    assert [e.list for e in st(records, 11.99).pending] == ["defaulters"]
    assert st(records, 12).lists == ["defaulters"]           # start inclusive
    assert st(records, 111.99).lists == ["defaulters"]
    assert st(records, 112).lists == []                       # end exclusive


def test_list_ends_at_first_resolution_occurred_at():
    records = [rec("c", "ruling", 0), rec("r1", "paid", 60, recorded=61, kind="resolution",
                                          ref="c"),
               rec("r2", "paid", 50, recorded=80, kind="resolution", ref="c")]
    assert st(records, 55, k=70).lists == ["defaulters"]     # r2 not yet known
    assert st(records, 55, k=90).lists == []                  # r2 known: ended at 50
    assert st(records, 61, k=70).lists == []
    # only a resolution that occurred by t ends the interval as seen at t
    e = st(records, 20, k=90).list_entries[0]
    assert e.ended_by == "max_duration"
    pending_end = st(records, 49, k=90).list_entries[0]
    assert pending_end.ended_by == "max_duration"
    assert st(records, 50, k=90).lists == []


def test_void_removes_listing_when_known():
    records = [rec("c", "ruling", 0), rec("v", "void", 30, kind="void", ref="c")]
    assert st(records, 20, k=20).lists == ["defaulters"]
    assert st(records, 20, k=30).lists == []


def test_list_trigger_must_have_occurred_by_t():
    records = [rec("c", "ruling", 15, recorded=0)]
    assert st(records, 12, k=12).lists == []
    # a record stated before its conduct (ingest refuses one beyond the clock skew; the
    # engine still never dates a listing before the conduct): notice runs from the
    # conduct, so the listing starts at 15 + 10 days
    s15 = st(records, 15, k=15)
    assert s15.lists == [] and [e.start for e in s15.pending] == [day(25)]
    assert st(records, 25, k=25).lists == ["defaulters"]


def test_several_intervals_any_contains_t():
    records = [rec("c1", "ruling", 0), rec("c2", "ruling", 200)]
    assert st(records, 50).lists == ["defaulters"]
    assert st(records, 150).lists == []
    assert st(records, 215).lists == ["defaulters"]


def test_score_list_needs_the_whole_notice_period():
    rb = base_rulebook(**{"enter_when: {record: ruling}": "enter_when: {score_below: 980}",
                          "    max_duration: 100d\n": ""})
    records = [rec("a1", "arrears", 0), rec("a2", "arrears", 0)]  # money -20 at t=0
    s = st(records, 5, rb=rb)  # below 980 now, but not 10 days ago
    assert s.lists == [] and [e.list for e in s.pending] == ["defaulters"]
    s = st(records, 10, rb=rb)
    assert s.score < 980 and s.lists == ["defaulters"]
    assert st(records, 400, rb=rb).lists == []  # recovered
