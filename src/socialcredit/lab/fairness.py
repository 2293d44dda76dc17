"""Disparate impact by group and district, with Fairlearn's MetricFrame.

The prediction is an adverse outcome the rulebook produces — being on a blacklist, or
being denied an action (evaluated for every subject, not only those who asked) — and
the label is the scenario's ground truth: the subject truly engaged in adverse conduct
in the last ``truth_window`` months. Reported per sensitive feature:

* selection rates (the share with the adverse outcome) per group, their ratio, and the
  four-fifths rule on the *favourable* rate (US employment guidance: a group whose
  favourable rate is below 80 % of the highest group's signals adverse impact);
* the demographic-parity difference (largest gap in selection rates) and the
  equalized-odds difference (the larger of the gaps in true- and false-positive
  rates), as Fairlearn defines them.

MetricFrame is given the data as frequency-weighted unique rows (label, prediction,
feature) — at most eight per group — rather than a million rows: the metrics are
weighted means of indicators, so the result is exactly the same (a test checks it
against the unweighted frame) and takes milliseconds instead of seconds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

Bool = npt.NDArray[np.bool_]
I8 = npt.NDArray[np.int8]

FOUR_FIFTHS = 0.8


def _weighted_count(y_true: Any, y_pred: Any, sample_weight: Any) -> float:
    return float(np.sum(sample_weight))


def compress(label: Bool, pred: Bool, feature: I8) -> tuple[Bool, Bool, I8, npt.NDArray[
        np.float64]]:
    """Unique (label, pred, feature) rows and how many subjects each stands for."""
    key = (feature.astype(np.int64) * 4 + label.astype(np.int64) * 2 + pred.astype(np.int64))
    counts = np.bincount(key)
    keys = np.flatnonzero(counts)
    return ((keys >> 1) & 1).astype(bool), (keys & 1).astype(bool), (keys >> 2).astype(
        np.int8), counts[keys].astype(np.float64)


def metric_frame(label: Bool, pred: Bool, feature: I8, names: list[str],
                 weighted: bool = True) -> Any:
    """A Fairlearn MetricFrame of selection rate, TPR, FPR and count by feature."""
    import warnings

    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    if weighted:
        y, p, f, w = compress(label, pred, feature)
        params = {"sample_weight": w}
        metrics = {"selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
                   "false_positive_rate": false_positive_rate, "count": _weighted_count}
        sample_params = {k: params for k in metrics}
    else:
        y, p, f = label, pred, feature
        metrics = {"selection_rate": selection_rate, "true_positive_rate": true_positive_rate,
                   "false_positive_rate": false_positive_rate,
                   "count": lambda yt, yp: float(len(yt))}
        sample_params = None
    import pandas as pd

    # a Series, not an array: MetricFrame rejects a one-element NumPy feature array
    # (which the weighted form produces when every subject is alike)
    sensitive = pd.Series(np.array(names, dtype=object)[f], name="sensitive_feature_0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TPR/FPR of a group without positives/negatives
        return MetricFrame(metrics=metrics, y_true=y, y_pred=p,
                           sensitive_features=sensitive, sample_params=sample_params)


def _num(x: Any) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


def disparity(label: Bool, pred: Bool, feature: I8, names: list[str]) -> dict[str, Any]:
    """One outcome, one sensitive feature: rates by group and the summary differences."""
    present = sorted(set(np.unique(feature).tolist()))
    mf = metric_frame(label, pred, feature, names)
    by = mf.by_group
    groups: dict[str, dict[str, float | None]] = {}
    for gi in present:
        name = names[gi]
        row = by.loc[name]
        groups[name] = {"selection_rate": _num(row["selection_rate"]),
                        "true_positive_rate": _num(row["true_positive_rate"]),
                        "false_positive_rate": _num(row["false_positive_rate"]),
                        "count": _num(row["count"])}
    diff = mf.difference(method="between_groups")
    dp = _num(diff["selection_rate"])
    tpr_d, fpr_d = _num(diff["true_positive_rate"]), _num(diff["false_positive_rate"])
    eo = None if tpr_d is None and fpr_d is None else max(x for x in (tpr_d, fpr_d)
                                                          if x is not None)
    fav = {g: 1.0 - v["selection_rate"] for g, v in groups.items()
           if v["selection_rate"] is not None}
    best = max(fav.values(), default=0.0)
    ratios = {g: (f / best if best > 0 else None) for g, f in fav.items()}
    worst = min((r for r in ratios.values() if r is not None), default=None)
    sel = [v["selection_rate"] for v in groups.values() if v["selection_rate"] is not None]
    lo_sel = min(sel, default=0.0)
    return {
        "by_group": groups,
        "demographic_parity_difference": dp,
        "equalized_odds_difference": eo,
        "favourable_rate_ratio": ratios,
        "four_fifths_min_ratio": worst,
        "four_fifths_fails": [g for g, r in ratios.items() if r is not None
                              and r < FOUR_FIFTHS],
        "adverse_rate_ratio": (max(sel) / lo_sel) if sel and lo_sel > 0 else None,
    }


def disparate_impact(outcomes: dict[str, Bool], label: Bool,
                     features: dict[str, tuple[I8, list[str]]]) -> dict[str, Any]:
    """{feature: {outcome: disparity}} for every outcome and sensitive feature with more
    than one group."""
    out: dict[str, Any] = {}
    for fname, (values, names) in features.items():
        if len(names) < 2:
            continue
        out[fname] = {o: disparity(label, pred, values, names) for o, pred in outcomes.items()}
    return out


__all__ = ["FOUR_FIFTHS", "compress", "disparate_impact", "disparity", "metric_frame"]
