"""Common random numbers: counts have the right distribution, are monotone in the rate
for the same luck, and every draw depends only on (seed, month, purpose, subject)."""

from __future__ import annotations

import math

import numpy as np

from socialcredit.lab.api import confidence_interval
from socialcredit.lab.society import Streams, poisson_counts, poisson_icdf


def test_poisson_counts_have_the_poisson_distribution() -> None:
    n = 400_000
    st = Streams(1, n)
    for lam in (0.01, 0.3, 2.5):
        k = poisson_counts(st.exponential(0, f"t{lam}"), np.full(n, lam))
        se = math.sqrt(lam / n)
        assert abs(k.mean() - lam) < 4 * se, (lam, k.mean())
        assert abs((k == 0).mean() - math.exp(-lam)) < 4 * math.sqrt(
            math.exp(-lam) * (1 - math.exp(-lam)) / n)


def test_same_luck_higher_rate_never_fewer_events() -> None:
    n = 100_000
    e = Streams(2, n).exponential(3, "x")
    lo = poisson_counts(e, np.full(n, 0.2))
    hi = poisson_counts(e, np.full(n, 0.5))
    assert (hi >= lo).all() and (hi > lo).any()
    u = np.exp(-e)
    assert np.array_equal(poisson_icdf(u, np.full(n, 0.2)), lo)


def test_draws_depend_only_on_their_key() -> None:
    a, b = Streams(5, 1000), Streams(5, 1000)
    assert np.array_equal(a.uniform(4, "ask"), b.uniform(4, "ask"))
    assert not np.array_equal(a.uniform(4, "ask"), a.uniform(5, "ask"))
    subjects = np.array([3, 999, 10])
    full = a.sparse(7, "time", np.arange(1000))
    assert np.array_equal(a.sparse(7, "time", subjects), full[subjects])
    assert ((full >= 0) & (full < 1)).all()
    assert abs(full.mean() - 0.5) < 4 * math.sqrt(1 / 12 / 1000)
    assert not np.array_equal(a.sparse(7, "time", subjects, 1), full[subjects])


def test_student_t_interval() -> None:
    mean, lo, hi = confidence_interval([1.0, 2.0, 3.0])
    half = 4.302652729911275 / math.sqrt(3)  # t(0.975, 2) × sd 1 / √3
    assert mean == 2.0 and lo is not None and hi is not None
    assert abs(lo - (2 - half)) < 1e-9 and abs(hi - (2 + half)) < 1e-9
    assert confidence_interval([4.0]) == (4.0, None, None)
