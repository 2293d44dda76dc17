"""The metrics' building blocks on inputs whose answers are known by hand."""

from __future__ import annotations

import numpy as np

from socialcredit.lab.metrics import kaplan_meier_median, spells
from socialcredit.lab.simulate import gini


def test_gini_known_values() -> None:
    assert gini(np.array([5.0, 5.0, 5.0, 5.0])) == 0.0
    assert abs((gini(np.array([0.0, 0.0, 0.0, 1.0])) or 0) - 0.75) < 1e-12
    assert gini(np.array([-1.0, 2.0])) is None
    assert gini(np.zeros(3)) is None


def test_spells_count_runs_and_censoring() -> None:
    # subject 0: listed months 1-2 and 4-5 (still running); subject 1: never; 2: month 0-3
    rows = [[0, 0, 1], [1, 0, 1], [1, 0, 1], [0, 0, 1], [1, 0, 0], [1, 0, 0]]
    listed = [np.array(r, bool) for r in rows]
    lengths, ended, months, starts = spells(listed)
    assert sorted(zip(lengths.tolist(), ended.tolist(), strict=True)) == [
        (2, False), (2, True), (4, True)]
    assert months.tolist() == [4, 0, 4]
    assert starts.tolist() == [2, 0, 1]


def test_kaplan_meier_median_with_censoring() -> None:
    # 4 spells ended at 1, 2, 3 months, 3 censored at 10: S(1)=6/7, S(2)=5/7, S(3)=4/7,
    # never ≤ 0.5 -> None; with one more ended at 4: S(4)=4/7*3/4=3/7 -> 4
    d = np.array([1, 2, 3, 10, 10, 10, 12])
    e = np.array([1, 1, 1, 0, 0, 0, 0], bool)
    assert kaplan_meier_median(d, e) is None
    d2 = np.array([1, 2, 3, 4, 10, 10, 10])
    e2 = np.array([1, 1, 1, 1, 0, 0, 0], bool)
    assert kaplan_meier_median(d2, e2) == 4.0
    # without censoring it is the plain median of the lengths
    assert kaplan_meier_median(np.array([1, 2, 3, 4, 5]), np.ones(5, bool)) == 3.0
