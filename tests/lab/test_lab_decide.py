"""The vectorised decisions equal socialcredit.decisions.evaluate on sampled standings."""

from __future__ import annotations

import numpy as np
import pytest

from socialcredit.decisions import evaluate
from socialcredit.lab.decide import EFFECTS, action_rules, effects
from socialcredit.rulebook import Rulebook
from socialcredit.rulebook.shipped import load_named, shipped_names
from socialcredit.scoring.standing import RulebookRef, Standing
from tests.lab.labkit import rulebook as labtest


def _standing(rb: Rulebook, score: float, tier: int, bits: int) -> Standing:
    tier_id = rb.tiers[tier].id if tier < len(rb.tiers) else None
    lists = [x.id for i, x in enumerate(rb.lists) if bits >> i & 1]
    return Standing("s", "person", rb.rulebook, 0, 0, True, score, tier_id, {}, lists, [], [],
                    [], [], [], RulebookRef(rb.rulebook, rb.version, rb.sha256))


@pytest.mark.parametrize("name", [*shipped_names(), "labtest"])
def test_effects_match_evaluate(name: str) -> None:
    rb = labtest() if name == "labtest" else load_named(name)
    rng = np.random.default_rng(11)
    n = 300
    # scores around every threshold the rulebook names, tiers and lists at random
    marks = [t.min for t in rb.tiers] + [v for c in rb.consequences
                                         for v in (c.when.score_at_least, c.when.score_below)
                                         if v is not None] or [0.0]
    score = rng.choice(np.array(marks, float), n) + rng.choice([-1.0, -1e-9, 0.0, 0.5], n)
    tier = rng.integers(0, len(rb.tiers) + 1, n).astype(np.int8)
    bits = rng.integers(0, 1 << max(len(rb.lists), 1), n).astype(np.uint32)
    actions = sorted({c.action for c in rb.consequences if c.applies_to == "self"}
                     | {"unknown.action"})
    checked = 0
    for action in actions:
        got = effects(rb, action_rules(rb, action), score, tier, bits)
        for i in range(n):
            want, _, _ = evaluate(rb, _standing(rb, float(score[i]), int(tier[i]),
                                                int(bits[i])), action)
            assert EFFECTS[got[i]] == want, (action, score[i], tier[i], bits[i])
            checked += 1
    assert checked >= n
