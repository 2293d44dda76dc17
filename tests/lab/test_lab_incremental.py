"""Incremental scoring (rescore only the subjects the rule in lab/incremental.py names)
gives the same simulation as rescoring every subject every month: same tiers, lists,
decisions and therefore the same feedback, records and counters; scores exactly equal
with tolerance 0 and within the tolerance otherwise. Pruning dead records changes
nothing either."""

from __future__ import annotations

import numpy as np

from socialcredit.lab.simulate import LabOptions, Simulation, Trace
from socialcredit.lab.society import make_society
from tests.lab.labkit import rulebook, scenario

N = 1500
MONTHS = 36


def _run(**options: object) -> tuple[Trace, Simulation]:
    sc = scenario(population=N)
    society = make_society(sc, N, 9)
    sim = Simulation(rulebook(), sc, society, 9, LabOptions(keep_standings=True,
                                                            **options))  # type: ignore[arg-type]
    return sim.run(MONTHS), sim


def _same_outcomes(a: Trace, b: Trace) -> None:
    for m in range(MONTHS):
        assert np.array_equal(a.tiers[m], b.tiers[m]), m
        assert np.array_equal(a.listed[m], b.listed[m]), m
    assert np.array_equal(a.final["lists"], b.final["lists"])
    for act in a.actions:
        assert np.array_equal(a.final[f"effect:{act}"], b.final[f"effect:{act}"])
    skip = {"records_pruned"}
    assert {k: v for k, v in a.counters.items() if k not in skip} == {
        k: v for k, v in b.counters.items() if k not in skip}


def test_incremental_equals_full_rescoring() -> None:
    full, _ = _run(full_rescore=True, tolerance=0.0)
    exact, _ = _run(tolerance=0.0)
    loose, _ = _run(tolerance=1.0)
    # so loose that only the threshold rule keeps tiers, lists and decisions exact
    lax, _ = _run(tolerance=25.0)
    _same_outcomes(full, exact)
    _same_outcomes(full, loose)
    _same_outcomes(full, lax)
    for m in range(MONTHS):
        assert np.allclose(full.scores[m], exact.scores[m], rtol=0, atol=1e-9), m
        assert np.abs(full.scores[m] - loose.scores[m]).max() <= 1.0 + 1e-9, m
        assert np.abs(full.scores[m] - lax.scores[m]).max() <= 25.0 + 1e-9, m
    # and the rule really skips work
    assert np.mean(full.monthly["rescored"]) == N
    assert np.mean(exact.monthly["rescored"]) < 0.8 * N
    assert np.mean(loose.monthly["rescored"]) < np.mean(exact.monthly["rescored"])
    assert np.mean(lax.monthly["rescored"]) < np.mean(loose.monthly["rescored"])


def test_pruning_changes_nothing() -> None:
    kept, sim_kept = _run(prune=False)
    pruned, sim_pruned = _run(prune=True)
    _same_outcomes(kept, pruned)
    for m in range(MONTHS):
        assert np.array_equal(kept.scores[m], pruned.scores[m])
    assert sim_pruned.store.n < sim_kept.store.n
