"""Disparities: Fairlearn's MetricFrame on frequency-weighted rows is the unweighted
frame, and the four-fifths rule and differences read as defined."""

from __future__ import annotations

import numpy as np
from fairlearn.metrics import demographic_parity_difference, equalized_odds_difference

from socialcredit.lab.fairness import disparity, metric_frame


def test_weighted_frame_equals_the_unweighted_one() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    label = rng.random(n) < 0.3
    feature = rng.integers(0, 3, n).astype(np.int8)
    pred = rng.random(n) < (0.05 + 0.1 * (feature == 2) + 0.1 * label)
    names = ["x", "y", "z"]
    a = metric_frame(label, pred, feature, names)
    b = metric_frame(label, pred, feature, names, weighted=False)
    assert np.allclose(a.by_group.to_numpy(float), b.by_group.to_numpy(float))
    d = disparity(label, pred, feature, names)
    sens = np.array(names, dtype=object)[feature]
    assert abs(d["demographic_parity_difference"]
               - demographic_parity_difference(label, pred, sensitive_features=sens)) < 1e-12
    assert abs(d["equalized_odds_difference"]
               - equalized_odds_difference(label, pred, sensitive_features=sens)) < 1e-12


def test_four_fifths_rule_on_a_constructed_population() -> None:
    # group a: 10 of 100 adverse (favourable 0.9); group b: 30 of 100 (favourable 0.7)
    feature = np.r_[np.zeros(100), np.ones(100)].astype(np.int8)
    pred = np.r_[np.arange(100) < 10, np.arange(100) < 30]
    label = np.r_[np.arange(100) < 20, np.arange(100) < 20]
    d = disparity(label, pred, feature, ["a", "b"])
    assert abs(d["favourable_rate_ratio"]["b"] - 0.7 / 0.9) < 1e-12
    assert d["four_fifths_fails"] == ["b"]
    assert abs(d["demographic_parity_difference"] - 0.2) < 1e-12
    assert abs(d["adverse_rate_ratio"] - 3.0) < 1e-12
    # TPR: a 10/20 = .5, b 20/20 = 1; FPR: a 0/80, b 10/80
    assert abs(d["equalized_odds_difference"] - 0.5) < 1e-12


def test_a_population_of_identical_subjects() -> None:
    # every subject alike: one weighted row (Fairlearn rejects a one-element array)
    n = 7
    d = disparity(np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, np.int8), ["a", "b"])
    assert d["by_group"]["a"]["selection_rate"] == 0.0
    assert d["by_group"]["a"]["count"] == n
    assert "b" not in d["by_group"]


def test_a_one_subject_one_month_run() -> None:
    from socialcredit.lab.api import run
    from tests.lab.labkit import rulebook, scenario

    res = run(rulebook(), scenario(population=1, months=1))
    assert res.data["summary"]["listed"]["final_count"] in (0, 1)
