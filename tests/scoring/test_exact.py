"""Materialized standings exact at any time (scoring/exact.py): a row built at (t0, k0)
gives, at every t in [t0, until), the reference engine's standing at (t, k) for any
k ≥ k0 — scores and dimensions to 1e-9, tiers and lists exactly — and `until` is never
later than the first instant the standing changes otherwise than by decay."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.ledger import Record
from socialcredit.ledger.model import ProgramVersion
from socialcredit.ledger.versions import version_at
from socialcredit.rulebook import Rulebook
from socialcredit.scoring import reference
from socialcredit.scoring.exact import Terms, build, evaluate
from socialcredit.timeutil import US_PER_DAY
from tests.scoring.test_batch_engine import SUBJECTS, T0, histories, ledgers, rulebooks

TOL = 1e-9
times = st.integers(-2, 26).map(lambda h: T0 + h * US_PER_DAY // 2)
# offsets after t0, from a microsecond to a month, at awkward grains
offsets = st.one_of(st.integers(0, 3), st.integers(0, 40 * US_PER_DAY),
                    st.integers(0, 80).map(lambda h: h * US_PER_DAY // 4))
# the drawn arguments of the property tests: one version, and a two-version history
ONE_VERSION = {"rb": rulebooks(), "records": ledgers(), "t0": times,
               "offs": st.lists(offsets, max_size=6), "lag": st.integers(0, 4 * US_PER_DAY),
               "extra_k": st.integers(0, 5 * US_PER_DAY)}
SEVERAL_VERSIONS = {"history": histories(), "records": ledgers(), "t0": times,
                    "offs": st.lists(offsets, max_size=6),
                    "extra_k": st.integers(0, 5 * US_PER_DAY)}


def check(rb: Rulebook, records: Sequence[Record], t0: int, k0: int, offs: list[int],
          extra_k: int, history: Sequence[ProgramVersion] | None = None) -> None:
    for subject, kind in SUBJECTS:
        mine = [r for r in records if r.subject == subject and r.recorded_at <= k0]
        st0, terms = build(rb, subject, kind, mine, t0, k0, history=history)
        at_t0 = evaluate(rb, terms, t0)
        assert math.isclose(at_t0.score, st0.score, abs_tol=TOL)
        assert at_t0.lists == st0.lists and at_t0.tier == st0.tier
        # the row round-trips through its stored form
        again = Terms.loads(terms.dumps(), terms.at, terms.until)
        assert again == terms
        for off in offs:
            t = t0 + off
            if terms.until is not None and t >= terms.until:
                t = terms.until - 1
            if t < t0:
                continue
            k = max(k0, min(t, k0 + extra_k))  # later knowledge: nothing more recorded
            if any(k0 < pv.published_at <= k for pv in history or ()):
                continue  # a version published since the row: a reader recomputes it
            rb_t = rb if history is None else version_at(history, t, k)
            if rb_t is None:
                continue
            live = reference.standing(rb_t.rulebook if isinstance(rb_t, ProgramVersion)
                                      else rb_t, subject, kind, mine, t, k, history=history)
            got = evaluate(rb_t.rulebook if isinstance(rb_t, ProgramVersion) else rb_t,
                           terms, t)
            where = (subject, t0, t, k, terms.until)
            assert math.isclose(got.score, live.score, rel_tol=TOL, abs_tol=TOL), where
            for d, v in live.dimensions.items():
                assert math.isclose(got.dimensions[d], v, rel_tol=TOL, abs_tol=TOL), where
            assert got.tier == live.tier, where
            assert got.lists == live.lists, where


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**ONE_VERSION)
def test_a_row_is_exact_until_its_next_change(rb: Rulebook, records: list[Record], t0: int,
                                               offs: list[int], lag: int,
                                               extra_k: int) -> None:
    check(rb, records, t0, max(t0 - lag, T0 - US_PER_DAY), [0, *offs], extra_k)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**SEVERAL_VERSIONS)
def test_a_row_is_exact_under_several_versions(history: list[ProgramVersion],
                                                records: list[Record], t0: int,
                                                offs: list[int], extra_k: int) -> None:
    """Lex mitior: a record scored under the milder of two rules whose decays differ
    switches rule at a crossing; a version takes effect at its own instant."""
    k0 = t0
    pv = version_at(history, t0, k0)
    if pv is None:
        return
    check(pv.rulebook, records, t0, k0, [0, *offs], extra_k, history)


def test_until_is_the_first_expiry() -> None:
    rb = Rulebook.model_validate({
        "rulebook": "x", "version": "1", "subjects": ["person"], "scale": {"base": 100},
        "dimensions": [{"id": "d"}], "record_types": [{"id": "c", "kind": "conduct"}],
        "rules": [{"record": "c", "dimension": "d", "points": -10, "half_life": 10,
                   "expires": 30}],
        "tiers": [{"id": "A", "min": 95}, {"id": "B", "min": 0}]})
    r = Record("r1", "p", "s", "c", "conduct", T0, T0)
    st0, terms = build(rb, "s", "person", [r], T0 + US_PER_DAY, T0 + US_PER_DAY)
    expiry = T0 + 30 * US_PER_DAY
    assert terms.until is not None and expiry - 10 <= terms.until <= expiry
    # decay alone carries the score across the tier boundary: no refresh needed for that
    before = evaluate(rb, terms, T0 + 2 * US_PER_DAY)
    later = evaluate(rb, terms, terms.until - 1)
    assert (before.tier, later.tier) == ("B", "A")
    assert st0.score == evaluate(rb, terms, T0 + US_PER_DAY).score


def test_two_attributes_on_one_type_each_bring_their_expiry() -> None:
    """Found by the property test: with two attributes reading one fact type, the row
    kept only the last one's expiry and scored the first past its end."""
    rb = Rulebook.model_validate({
        "rulebook": "x", "version": "1", "subjects": ["person"], "scale": {"base": 100},
        "dimensions": [{"id": "d"}], "record_types": [{"id": "f", "kind": "fact"}],
        "attributes": [{"record": "f", "dimension": "d", "expires": 2,
                        "bins": [{"below": 2, "points": -5}]},
                       {"record": "f", "dimension": "d", "expires": 6, "bins": []}]})
    r = Record("r1", "p", "s", "f", "fact", T0, T0, value_num=0.0)
    st0, terms = build(rb, "s", "person", [r], T0 + US_PER_DAY, T0 + US_PER_DAY)
    assert st0.score == 95.0
    expiry = T0 + 2 * US_PER_DAY
    assert terms.until is not None and expiry - 10 <= terms.until <= expiry
    live = reference.standing(rb, "s", "person", [r], expiry, T0 + US_PER_DAY)
    assert live.score == 100.0
