"""The due-process overlay is bitemporal like the ledger: a standing at (t, k) never
changes when due-process facts that became known after k arrive (property-tested), and
each kind of effect does exactly what docs/semantics.md says."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from socialcredit.dueprocess.effects import Effect
from socialcredit.service.standings import compute
from tests.helpers import base_rulebook, day, rec

RB = base_rulebook()
RECORDS = [rec("r1", "ruling", 0, 1), rec("a1", "arrears", 2, 3, value=None),
           rec("r2", "ruling", 20, 21), rec("p1", "paid", 40, 41, kind="resolution", ref="r2")]
IDS = ["r1", "a1", "r2"]


def standing(fx: list[Effect], t: float, k: float) -> dict[str, object]:
    s = compute(RB, "test", "s1", "person", RECORDS, fx, day(t), day(k), day(200))
    return s.as_dict()


effects = st.builds(
    lambda kind, rid, start, length, lst: Effect(
        "s1", rid, kind, day(start), None if length is None else day(start + length),
        None, lst, case_id="c", notice_id="n"),
    st.sampled_from(["withdraw", "repair", "suspend", "delay", "erased"]),
    st.sampled_from(IDS), st.floats(0, 120), st.none() | st.floats(0, 60),
    st.none() | st.just("defaulters"))


@settings(max_examples=300, deadline=None)
@given(st.lists(effects, max_size=5), st.lists(effects, max_size=3), st.floats(0, 150),
       st.floats(0, 150))
def test_facts_known_after_k_change_nothing(known: list[Effect], later: list[Effect],
                                            t: float, k: float) -> None:
    known = [e for e in known if e.start_at <= day(k)]
    later = [dataclasses.replace(e, start_at=day(k) + 1 + e.start_at) for e in later]
    assert standing(known + later, t, k) == standing(known, t, k)
    # an end not yet known at k is no end
    unknown_end = [dataclasses.replace(e, end_at=day(k) + 1) if e.kind != "erased" else e
                   for e in known]
    open_ = [dataclasses.replace(e, end_at=None) if e.kind != "erased" else e for e in known]
    assert standing(unknown_end, t, k) == standing(open_, t, k)


def test_each_effect() -> None:
    at = 15.0  # r1 listed from day 11 (recorded day 1 + 10 days' notice)
    assert standing([], at, at)["lists"] == ["defaulters"]
    suspend = Effect("s1", "r1", "suspend", day(5), day(12), case_id="c")
    assert standing([suspend], 11.5, 20)["lists"] == []  # suspended then
    assert standing([suspend], at, 20)["lists"] == ["defaulters"]  # resumed, same end
    assert standing([suspend], 11.5, 11.5)["suspended_lists"][0]["reason"] == "objection"
    lapse = Effect("s1", "r1", "withdraw", day(14))
    assert standing([lapse], at, at)["lists"] == []  # like a void known from day 14
    assert standing([lapse], at, 13)["lists"] == ["defaulters"]
    repair = Effect("s1", "r1", "repair", day(14))
    assert standing([repair], at, at)["lists"] == []
    assert standing([repair], 13, at)["lists"] == ["defaulters"]  # the past stays
    delay = Effect("s1", "r1", "delay", day(1), day(3), notice_id="n")
    assert standing([delay], 12.5, at)["lists"] == []  # delivered day 3: from day 13
    assert standing([delay], 13, at)["lists"] == ["defaulters"]
    erased = Effect("s1", "zz", "erased", day(0), day(9))
    assert standing([erased], 8, at)["erased"] is True
    assert "erased" not in standing([erased], 9, at)
