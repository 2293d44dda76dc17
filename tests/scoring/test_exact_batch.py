"""Exact rows from the batch engine (scoring/exact_batch.py): the terms `score --all`
writes give, at every t in [t0, until), the live standing (reference engine, 1e-9,
tiers and lists exactly), and they are the terms the reference path writes
(exact.build): the same `until`, the same record lists, and sums that evaluate alike."""

from __future__ import annotations

import math
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings

from socialcredit.ledger import Record
from socialcredit.ledger.model import ProgramVersion
from socialcredit.ledger.versions import version_at
from socialcredit.rulebook import Rulebook
from socialcredit.scoring import reference
from socialcredit.scoring.batch import dimension_column, score_records
from socialcredit.scoring.exact import Terms, build, evaluate
from socialcredit.timeutil import US_PER_DAY
from tests.scoring.test_batch_engine import SUBJECTS, T0
from tests.scoring.test_exact import ONE_VERSION, SEVERAL_VERSIONS

TOL = 1e-9


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=TOL, abs_tol=TOL)


def check(rb: Rulebook, records: Sequence[Record], t0: int, k0: int, offs: list[int],
          extra_k: int, history: Sequence[ProgramVersion] | None = None) -> None:
    known = [r for r in records if r.recorded_at <= k0]
    table = score_records(rb, known, SUBJECTS, t0, k0, history=history, terms=True)
    rows = {r["subject"]: r for r in table.to_pylist()}
    assert set(rows) == {s for s, _ in SUBJECTS}
    for subject, kind in SUBJECTS:
        mine = [r for r in known if r.subject == subject]
        row = rows[subject]
        assert row["terms"] is not None
        got = Terms.loads(row["terms"], t0, row["valid_until"])
        st0, ref = build(rb, subject, kind, mine, t0, k0, history=history)
        # the reference path's row: the same next change, lists, applicability
        assert got.until == ref.until, (subject, got.until, ref.until)
        assert got.record_lists == ref.record_lists, subject
        assert got.applies == ref.applies
        if ref.applies:
            assert set(got.lagged) == set(ref.lagged)
        # the row's own columns are its terms read at t0
        at_t0 = evaluate(rb, got, t0)
        assert close(at_t0.score, row["score"]) and close(at_t0.score, st0.score)
        for d in rb.dimensions:
            assert close(at_t0.dimensions[d.id], row[dimension_column(d.id)])
        for off in offs:
            t = t0 + off
            if got.until is not None and t >= got.until:
                t = got.until - 1
            k = max(k0, min(t, k0 + extra_k))  # later knowledge: nothing more recorded
            if any(k0 < pv.published_at <= k for pv in history or ()):
                continue  # a version published since the row: a reader recomputes it
            pv = version_at(history, t, k) if history is not None else None
            rb_t = pv.rulebook if pv is not None else rb
            if history is not None and pv is None:
                continue
            live = reference.standing(rb_t, subject, kind, mine, t, k, history=history)
            mine_t, theirs_t = evaluate(rb_t, got, t), evaluate(rb_t, ref, t)
            where = (subject, t0, t, k, got.until)
            for ev in (mine_t, theirs_t):
                assert close(ev.score, live.score), where
                for d, v in live.dimensions.items():
                    assert close(ev.dimensions[d], v), where
                assert ev.tier == live.tier, where
                assert ev.lists == live.lists, where


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**ONE_VERSION)
def test_batch_rows_are_exact_and_equal_the_reference_rows(
        rb: Rulebook, records: list[Record], t0: int, offs: list[int], lag: int,
        extra_k: int) -> None:
    check(rb, records, t0, max(t0 - lag, T0 - US_PER_DAY), [0, *offs], extra_k)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(**SEVERAL_VERSIONS)
def test_batch_rows_are_exact_under_several_versions(history: list[ProgramVersion],
                                                      records: list[Record], t0: int,
                                                      offs: list[int],
                                                      extra_k: int) -> None:
    """Lex mitior: the older rule's half-life when it wins, the crossing of two decays
    and the older rule's expiry as changes, a version taking effect."""
    pv = version_at(history, t0, t0)
    if pv is None:
        return
    check(pv.rulebook, records, t0, t0, [0, *offs], extra_k, history)
