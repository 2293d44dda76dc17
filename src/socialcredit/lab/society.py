"""The synthetic society: who lives where, with what means and propensities, and the
random numbers every month draws from.

Two rulebooks are compared on *the same society under the same luck*: the population
comes from one seeded ``numpy.random.Generator``, and every monthly draw uses common
random numbers — one uniform per subject per (month, purpose), taken from a stream
keyed by (seed, month, purpose) and indexed by subject. A subject therefore meets the
same luck under every rulebook, so outcomes differ only where the rulebook (and the
feedback it causes) makes them differ, and differences between rulebooks have much
smaller variance than two independent runs would (the classic variance-reduction
argument for common random numbers). Counts are drawn by inverting the Poisson CDF at
that uniform, which keeps them monotone in the rate: a subject whose propensity a
rulebook raised never draws fewer events than under a rulebook that did not.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from socialcredit.lab.scenario import Scenario

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I8 = npt.NDArray[np.int8]


@dataclass(frozen=True)
class Society:
    """Per-subject ground truth, as dense arrays indexed by subject code 0..n-1."""

    n: int
    group: I8  # index into scenario.groups
    district: I8  # index into scenario.districts
    means: I8  # starting income band (index into scenario.means.bands, lowest first)
    propensity: F64  # individual multiplier of every behaviour's rate (mean 1)
    kind: str

    def district_population(self, n_districts: int) -> F64:
        counts: F64 = np.bincount(self.district, minlength=n_districts).astype(np.float64)
        return counts


def _choice(rng: np.random.Generator, n: int, probs: list[float]) -> I8:
    p = np.asarray(probs, np.float64)
    idx = np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right")
    out: I8 = np.minimum(idx, len(p) - 1).astype(np.int8)
    return out


def make_society(sc: Scenario, n: int, seed: int) -> Society:
    """The population, from one Generator seeded with `seed`: the same (scenario, n,
    seed) always gives the same society, whatever rulebook later scores it."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x50C1E7]))
    group = _choice(rng, n, [g.share for g in sc.groups])
    districts, bands = sc.district_ids(), list(sc.means.bands)
    default_d = [d.share for d in sc.districts]
    default_m = sc.means_shares()
    district = np.zeros(n, np.int8)
    means = np.zeros(n, np.int8)
    u_d, u_m = rng.random(n), rng.random(n)
    for gi, g in enumerate(sc.groups):
        mine = group == gi
        pd = [g.districts.get(d, 0.0) for d in districts] if g.districts else default_d
        pm = [(g.means or default_m).get(b, 0.0) for b in bands]
        district[mine] = _inverse(u_d[mine], pd)
        means[mine] = _inverse(u_m[mine], pm)
    if sc.heterogeneity is None:
        propensity = np.ones(n)
    else:
        k = sc.heterogeneity
        propensity = rng.gamma(k, 1.0 / k, n)
    return Society(n, group, district, means, propensity, sc.subject_kind)


def _inverse(u: F64, probs: list[float]) -> I8:
    p = np.asarray(probs, np.float64)
    c = np.cumsum(p / p.sum())
    out: I8 = np.minimum(np.searchsorted(c, u, side="right"), len(p) - 1).astype(np.int8)
    return out


def _purpose_code(purpose: str) -> int:
    return zlib.crc32(purpose.encode("utf-8"))


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


class Streams:
    """Common random numbers: every draw is a function of (seed, month, purpose, j,
    subject), never of what happened before, so a subject meets the same luck in every
    run with this seed.

    Dense draws (one per subject, for every subject) come from a PCG64 stream keyed by
    (seed, month, purpose, j) and indexed by subject. Sparse draws (only for the
    subjects with an event: its time, its reporting delay, whether the subject pays or
    objects) come from SplitMix64, a counter-based hash of (key, subject), so they cost
    nothing for the subjects without events and stay coupled subject by subject."""

    def __init__(self, seed: int, n: int) -> None:
        self.seed = seed
        self.n = n

    def _seq(self, month: int, purpose: str, j: int) -> np.random.SeedSequence:
        return np.random.SeedSequence([self.seed, month, _purpose_code(purpose), j])

    def generator(self, month: int, purpose: str, j: int = 0) -> np.random.Generator:
        return np.random.Generator(np.random.PCG64(self._seq(month, purpose, j)))

    def uniform(self, month: int, purpose: str, j: int = 0) -> F64:
        out: F64 = self.generator(month, purpose, j).random(self.n)
        return out

    def exponential(self, month: int, purpose: str, j: int = 0) -> F64:
        """Exp(1) per subject: e^(−E) is the subject's uniform (see poisson_counts).
        Single precision: it halves the cost of the largest draws, and 2^-24 of
        resolution is far below any rate a scenario states."""
        out: F64 = self.generator(month, purpose, j).standard_exponential(
            self.n, dtype=np.float32).astype(np.float64)
        return out

    def sparse(self, month: int, purpose: str, subjects: npt.NDArray[np.integer],
               j: int = 0) -> F64:
        """Uniforms in [0, 1) for the given subjects only."""
        key = self._seq(month, purpose, j).generate_state(1, np.uint64)[0]
        z = subjects.astype(np.uint64) * _GOLDEN + key
        z ^= z >> np.uint64(30)
        z *= _MIX1
        z ^= z >> np.uint64(27)
        z *= _MIX2
        z ^= z >> np.uint64(31)
        out: F64 = (z >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))
        return out


def poisson_icdf(u: F64, lam: F64) -> I64:
    """The Poisson(lam) count at quantile u, elementwise (monotone in lam for a fixed u,
    which is what makes common random numbers couple two runs)."""
    k = np.zeros(len(u), np.int64)
    p = np.exp(-lam)
    c = p.copy()
    idx = np.flatnonzero(u >= c)
    while idx.size:
        k[idx] += 1
        p[idx] *= lam[idx] / k[idx]
        c[idx] += p[idx]
        idx = idx[(u[idx] >= c[idx]) & (p[idx] > 0)]
    return k


def poisson_counts(e: F64, lam: F64) -> I64:
    """poisson_icdf at u = e^(−e) for an Exp(1) variate e, without an exp per subject:
    the count is at least 1 exactly when e ≤ lam, which is rare, and only those few
    subjects continue the inversion."""
    k = np.zeros(len(e), np.int64)
    some = np.flatnonzero(e <= lam)
    if some.size:
        k[some] = poisson_icdf(np.exp(-e[some]), lam[some])
    return k


__all__ = ["Society", "Streams", "make_society", "poisson_counts", "poisson_icdf"]
