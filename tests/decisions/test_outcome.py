"""The fast path of a decision: its effect and grant without its reasons (`outcome`),
reasons built when asked for, pooled decision ids — each the same as the slow path."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from socialcredit.decisions.evaluate import evaluate, outcome
from socialcredit.rulebook.model import Rulebook
from socialcredit.rulebook.shipped import load_named, shipped_names
from socialcredit.scoring.standing import RulebookRef, Standing
from socialcredit.service.decisions import new_decision_id

RULEBOOKS: list[Rulebook] = [load_named(n) for n in shipped_names()]


def standing(rb: Rulebook, score: float, tier: str | None, lists: list[str]) -> Standing:
    return Standing(subject="s", subject_kind=None, program=rb.rulebook, at=0, known_at=0,
                    applies=True, score=score, tier=tier, dimensions={}, lists=lists,
                    list_entries=[], pending=[], contributions=[], attributes=[],
                    key_factors=[], rulebook=RulebookRef(rb.rulebook, rb.version, rb.sha256))


@st.composite
def cases(draw: Any) -> tuple[Rulebook, Standing, str]:
    rb = draw(st.sampled_from(RULEBOOKS))
    tiers = [t.id for t in rb.tiers]
    lists = [x.id for x in rb.lists]
    actions = [*sorted({c.action for c in rb.consequences}), "nothing.declared"]
    score = draw(st.floats(rb.scale.min - 10, rb.scale.max + 10, allow_nan=False))
    tier = draw(st.sampled_from([*tiers, None, "retired-tier"]))
    on = draw(st.lists(st.sampled_from(lists), unique=True)) if lists else []
    return rb, standing(rb, score, tier, on), draw(st.sampled_from(actions))


@settings(max_examples=400, deadline=None)
@given(cases())
def test_outcome_is_evaluates_effect_and_grant(case: tuple[Rulebook, Standing, str]) -> None:
    rb, s, action = case
    effect, grant, _ = evaluate(rb, s, action)
    assert outcome(rb, s, action) == (effect, grant)


def test_an_unlogged_decision_builds_its_reasons_when_asked(make_ledger: Any) -> None:
    from tests.helpers import BASE

    svc = make_ledger(BASE, {"bank-1": "bank", "court-1": "court"})
    svc.records.ingest_text(
        "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
        "bank-1:b1,bank-1,alice,person,bonus,2025-12-01,,,\n")
    d = svc.decisions.decide("alice", "bike", record=False)
    assert callable(d._reasons)  # nothing built yet
    rb = svc.ledger.program_versions()[0].rulebook
    assert d.reasons == evaluate(rb, d.standing, "bike")[2]
    assert d.reasons is d.reasons and d.body()["reasons"] == d.reasons
    logged = svc.decisions.decide("alice", "bike")
    assert svc.decisions.log("alice", 1)[0]["reasons"] == logged.reasons == d.reasons


def test_pooled_decision_ids_are_random_uuid4s() -> None:
    ids = [new_decision_id() for _ in range(3000)]
    assert len(set(ids)) == len(ids)
    for i in ids:
        u = uuid.UUID(i)
        assert str(u) == i and u.version == 4 and u.variant == uuid.RFC_4122
