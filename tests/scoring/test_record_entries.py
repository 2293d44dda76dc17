"""`reference.record_entries` — what a record's notice reads of a standing (its record
listings, pending and in force) — equals those entries of the whole standing, for random
rulebooks and ledgers (tests/scoring/test_batch_engine.py's strategies): ingest computes
only them for a new record's notice."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.ledger import Record
from socialcredit.rulebook import Rulebook
from socialcredit.scoring import reference
from socialcredit.timeutil import US_PER_DAY
from tests.scoring.test_batch_engine import SUBJECTS, T0, ledgers, rulebooks, times


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rb=rulebooks(), records=ledgers(), t=times, dk=st.integers(-6, 6))
def test_record_entries_are_the_standings(rb: Rulebook, records: list[Record], t: int,
                                          dk: int) -> None:
    k = t + dk * US_PER_DAY // 2
    for subject, kind in SUBJECTS:
        mine = [r for r in records if r.subject == subject]
        st_ = reference.standing(rb, subject, kind, mine, t, k)
        pending, in_force = reference.record_entries(rb, kind, mine, t, k)
        assert pending == [e for e in st_.pending if e.record_id is not None]
        assert in_force == [e for e in st_.list_entries if e.record_id is not None]


def test_a_listing_resolved_before_it_starts_is_neither() -> None:
    """The rare corner random ledgers seldom reach: notified, then resolved before the
    listing would start (and one neither resolved nor started: pending)."""
    rb = Rulebook.model_validate({
        "rulebook": "prop", "version": "1", "subjects": ["person"], "scale": {"base": 100.0},
        "dimensions": [{"id": "d0"}],
        "record_types": [{"id": "c0", "kind": "conduct"}, {"id": "res", "kind": "resolution"}],
        "rules": [{"record": "c0", "dimension": "d0", "points": -3.5}],
        "lists": [{"id": "l0", "kind": "black", "notice": 2, "enter_when": {"record": "c0"}}]})
    day = US_PER_DAY
    records = [Record("r0", "p", "s1", "c0", "conduct", T0, T0, None, None, None, None),
               Record("r1", "p", "s1", "res", "resolution", T0 + day, T0 + day, None, None,
                      None, "r0"),
               Record("r2", "p", "s1", "c0", "conduct", T0, T0, None, None, None, None)]
    t = T0 + 3 * day // 2
    st_ = reference.standing(rb, "s1", "person", records, t, t)
    assert [e.record_id for e in st_.pending] == ["r2"]
    assert reference.record_entries(rb, "person", records, t, t) == (st_.pending, [])
