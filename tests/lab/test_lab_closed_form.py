"""Without feedback, the simulated listed share and mean time listed match their closed
form for the scenario's rates, within the sampling error this test computes.

Rulebook: the shipped judgment-defaulters list — a subject is listed from a record's
``recorded_at + notice`` for ``max_duration`` = 730 days = exactly W = 24 lab months,
nothing resolves it here. Records arrive as a Poisson process of rate λ·X per month
for a subject with propensity X ~ Gamma(k, 1/k) (mean 1); occurring uniformly within
months and recorded after i.i.d. delays, they are still a homogeneous Poisson process
(the displacement theorem). Sampled at month ends t:

* listed at t  ⇔ some record has recorded_at + notice in (t − W, t], so
  P1 = 1 − E[e^(−λXW)] = 1 − g(W), with g(s) = E[e^(−λXs)] = (1 + λs/k)^(−k);
* a spell begins at t (listed at t, not at t − 1) ⇔ no arrival in (t − 1 − W, t − 1]
  and one in (t − 1, t]: P01 = E[e^(−λXW)(1 − e^(−λX))] = g(W) − g(W + 1).

The listed share is P1; the mean months listed per spell (listed subject-months ÷
spells begun, the renewal estimator the report uses) tends to P1 / P01. Subjects are
independent, so the standard errors come from per-subject totals (the delta method for
the ratio), and the test allows four of them.
"""

from __future__ import annotations

import math

import numpy as np

from socialcredit.lab.api import run
from socialcredit.lab.scenario import parse_scenario
from socialcredit.rulebook.shipped import load_named

LAM = 0.012  # records per subject-month
K = 2.0  # gamma shape of propensities
W = 24  # months of max_duration
BURN_IN = 27  # months before the process is stationary (W + notice + delays)
MONTHS = 75
N = 20_000


def g(s: float) -> float:
    return (1.0 + LAM * s / K) ** (-K)


def test_listed_share_and_mean_spell_match_the_closed_form() -> None:
    sc = parse_scenario(f"""
scenario: closed-form
population: {N}
months: {MONTHS}
seed: 3
heterogeneity: {K}
behaviours:
  - {{id: default, records: [court.refuses_to_perform], rate: {LAM}, payable: true}}
detection: {{rate: 1.0, reporting_delay: 5d}}
""", "closed-form.yaml")
    assert not sc.has_feedback()
    res = run(load_named("judgment-defaulters"), sc)
    listed = np.array(res.trace.listed[BURN_IN - 1:], dtype=np.int64)  # month BURN_IN-1 ..
    cur, prev = listed[1:], listed[:-1]
    months = cur.shape[0]
    per_subject_listed = cur.sum(axis=0).astype(float)
    per_subject_starts = ((cur == 1) & (prev == 0)).sum(axis=0).astype(float)

    p1 = 1 - g(W)
    p01 = g(W) - g(W + 1)
    share = per_subject_listed.mean() / months
    share_se = per_subject_listed.std(ddof=1) / months / math.sqrt(N)
    assert abs(share - p1) < 4 * share_se, (share, p1, share_se)

    ratio = per_subject_listed.sum() / per_subject_starts.sum()
    resid = per_subject_listed - ratio * per_subject_starts
    ratio_se = resid.std(ddof=1) / math.sqrt(N) / per_subject_starts.mean()
    assert abs(ratio - p1 / p01) < 4 * ratio_se, (ratio, p1 / p01, ratio_se)
    # the test has teeth: the errors are small next to the quantities
    assert share_se < 0.02 * p1 and ratio_se < 0.05 * (p1 / p01)
    # and the report states the same simulated share at the end
    assert res.data["summary"]["listed"]["final_share"] == listed[-1].mean()
