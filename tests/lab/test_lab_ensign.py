"""The runaway feedback loop of Ensign, Friedler, Neville, Scheidegger and
Venkatasubramanian, "Runaway Feedback Loops in Predictive Policing" (FAT* 2018),
reproduced qualitatively: two districts with equal true rates and equal populations,
where only patrolled offences are recorded. When patrols follow past records, the
districts' recorded offences per head diverge (one district ends up with nearly all
patrols and records); when detection is independent of past records, they do not.

Divergence = (max − min) / mean of records per head over the last 12 months (0: equal;
2: one district has every record). Under independence the test derives its tolerance
from the sampling error of the two districts' totals (the per-subject counts' variance).
"""

from __future__ import annotations

import math

import numpy as np

from socialcredit.lab.metrics import divergence
from socialcredit.lab.scenario import parse_scenario
from socialcredit.lab.simulate import MONTH_US, LabOptions, Simulation
from socialcredit.lab.society import make_society
from tests.lab.labkit import rulebook

N = 4000
MONTHS = 48


def _run(follow: float) -> tuple[float, float, list[float]]:
    sc = parse_scenario(f"""
scenario: ensign
population: {N}
months: {MONTHS}
seed: 11
heterogeneity: 2.0
districts: [{{id: a, share: 0.5}}, {{id: b, share: 0.5}}]
behaviours:
  - {{id: offence, records: [default], rate: 0.05}}
detection:
  rate: 0.5
  patrols: {{follow: {follow}, sharpness: 2.0, memory: 3}}
""", "ensign.yaml")
    society = make_society(sc, N, sc.seed)
    sim = Simulation(rulebook(), sc, society, sc.seed, LabOptions(prune=False))
    tr = sim.run(MONTHS)
    div = divergence(tr)
    assert div is not None
    # the sampling error of the divergence if both districts had one rate
    st = sim.store
    since = sc.start_us + (MONTHS - 12) * MONTH_US
    rows = np.flatnonzero((st.occ[:st.n] >= since) & (st.behaviour[:st.n] == 0))
    counts = np.bincount(st.subj[rows], minlength=N).astype(float)
    n_d = [int((society.district == d).sum()) for d in (0, 1)]
    mean = counts.mean()
    se = math.sqrt(counts.var(ddof=1) * (1 / n_d[0] + 1 / n_d[1])) / mean
    return div, se, tr.monthly["patrol_allocation"][-1]


def test_detection_following_records_runs_away() -> None:
    div, se, alloc = _run(follow=1.0)
    assert div > 1.5, div  # near 2: one district has (almost) every record
    assert div > 10 * se
    assert max(alloc) > 0.95  # and (almost) every patrol


def test_detection_independent_of_records_does_not() -> None:
    div, se, alloc = _run(follow=0.0)
    assert div < 4 * se, (div, se)
    assert alloc == [0.5, 0.5] or np.allclose(alloc, [0.5, 0.5], atol=0.02)
