"""The unlogged decision read from the materialized table, made at once (no unit to
commit), with its standing and decision assembled without their __init__ and its outcome
kept per version: each the same as the plain path — `prepare`, then its unit — and as
`evaluate`, across rulebooks, tiers, lists, instants around a row's `valid_until`,
consent-requiring actions and relying parties."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcredit.decisions.evaluate import Decision, evaluate, outcome
from socialcredit.errors import SocialCreditError
from socialcredit.rulebook.model import Rulebook
from socialcredit.rulebook.shipped import load_named, shipped_names
from socialcredit.scoring.materialized import read_standing, score_all
from socialcredit.scoring.standing import RulebookRef, Standing, assemble
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.conftest import Clock
from tests.decisions.test_outcome import standing

RULEBOOKS: list[Rulebook] = [load_named(n) for n in shipped_names()]

# decaying points (a score that crosses tiers and a score-entered list with notice as time
# passes), an expiring record (a row's valid_until), a record-entered public list, and
# consequences on every kind of condition: public lists only, tiers, scores
RB = """
rulebook: town
version: "1"
subjects: [person]
scale: {base: 1000, min: 0, max: 1200}
catalogue: {id: test-catalogue, version: "t1"}
dimensions: [{id: law, min: -800, max: 150}, {id: civic}]
record_types:
  - {id: court.finding, kind: conduct, providers: [court], evidence: required,
     legal_basis: "test", category: court_judgment, context: judicial, item: judicial}
  - {id: late.fee, kind: conduct, providers: [court], evidence: required,
     legal_basis: "test", category: financial_obligation, context: finance, item: finance}
  - {id: volunteer, kind: conduct, providers: [bank], evidence: optional, category: civic_merit,
     context: civic, item: civic}
rules:
  - {record: court.finding, dimension: law, points: -300, half_life: 60d, expires: 1y}
  - {record: late.fee, dimension: law, points: -40, expires: 90d}
  - {record: volunteer, dimension: civic, points: 30, half_life: 30d}
tiers: [{id: A, min: 1000}, {id: B, min: 900}, {id: C, min: 0}]
lists:
  - {id: defaulters, kind: black, public: true, enter_when: {record: court.finding},
     notice: 1d, max_duration: 200d, legal_basis: "test"}
  - {id: watch, kind: black, enter_when: {score_below: 850}, notice: 5d,
     legal_basis: "test"}
consequences:
  - {action: rail.ticket, context: transport, effect: deny, provider: railway,
     when: {on_list: defaulters}, label: No tickets while listed, measure: ban}
  - {action: bike.deposit, context: commerce, effect: benefit, grant: {waived: true},
     provider: bikes, when: {tier_at_least: A}, label: Deposit-free, measure: perk}
  - {action: bike.deposit, context: commerce, effect: benefit, grant: {helmet: true},
     provider: bikes, when: {not_on_list: watch}, label: Helmet, measure: perk}
  - {action: loan, context: finance, effect: deny, provider: bank,
     when: {score_below: 880}, label: No loan, measure: ban}
  - {action: loan, context: finance, effect: benefit, grant: {rate_bp: 25}, provider: bank,
     when: {score_at_least: 1010, not_on_list: watch}, label: Better rate, measure: perk}
"""
HEAD = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
RECORDS = HEAD + "".join(
    f"{p}:{i},{p},p{i % 9},person,{typ},2026-{1 + i % 5:02d}-{1 + i % 27:02d},,"
    f"{'' if typ == 'volunteer' else f'urn:e:{i}'},\n"
    for i, typ in enumerate(["court.finding", "late.fee", "volunteer", "volunteer",
                             "late.fee", "volunteer", "court.finding"] * 4)
    for p in ["bank-1" if typ == "volunteer" else "court-1"])
ACTIONS = ["rail.ticket", "bike.deposit", "loan", "nothing.declared"]


def same(fast: Decision, plain: Decision) -> None:
    """Two decisions made at the same instant are the same but for their ids."""
    a, b = fast.body(), plain.body()
    assert a.pop("decision_id") != b.pop("decision_id")
    assert a == b
    assert fast.standing == plain.standing
    assert fast.as_dict() | {"decision_id": 0} == plain.as_dict() | {"decision_id": 0}
    assert (fast.effect, fast.grant, fast.reasons) == (plain.effect, plain.grant,
                                                       plain.reasons)


def plain(svc: Service, subject: str, action: str) -> Decision:
    """What `decide` did before it made unlogged decisions at once: prepare, then run
    the unit (in a transaction when it writes a refreshed row back)."""
    p = svc.decisions.prepare(subject, action, materialized=True, record=False)
    return p.finish(svc.ctx.commit(p.unit) if p.commits else p.unit(None))


def instants(svc: Service, subjects: list[str]) -> list[int]:
    """A microsecond before, at and after each row's valid_until, and some days."""
    out = {parse_instant(d) for d in ("2026-06-01", "2026-06-03T05:00:00Z", "2026-08-20",
                                      "2026-12-24", "2027-07-01")}
    for s in subjects:
        row = read_standing(svc.ledger.engine, "town", s)
        if row is not None and row.get("valid_until") is not None:
            u = int(row["valid_until"])
            out |= {u - 1, u, u + 1}
    return sorted(out)


def town(make_ledger: Callable[..., Service], clock: Clock) -> tuple[Service, list[str]]:
    """The town's ledger (RB, RECORDS) scored on 2026-05-30, as its operator, with a
    principal for each subject; and its subjects (tests/service/test_unlogged_decisions.py
    starts from it too)."""
    clock.set("2026-05-30T00:00:00Z")
    op = make_ledger(RB, {"court-1": "court", "bank-1": "bank"})
    op.records.ingest_text(RECORDS)
    score_all(op.ledger, None, clock(), clock())
    subjects = sorted(s for s, _ in op.ledger.all_subjects())
    for s in subjects:
        op.principals.add(s, "subject", subject=s)
    return op, subjects


def test_unlogged_decisions_equal_the_plain_path_around_valid_until(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    op, subjects = town(make_ledger, clock)
    for rp in ("rp-effect", "rp-tier", "rp-score", "rp-none"):
        op.principals.add(rp, "relying_party")
    for s in subjects[:6]:
        me = op.acting_as(s)
        for scope in ("effect", "tier", "score"):
            me.consents.grant(f"rp-{scope}", "checks", scope)
    services = [op, op.acting_as(subjects[0])] + [
        op.acting_as(rp) for rp in ("rp-effect", "rp-tier", "rp-score", "rp-none")]
    seen_sources: set[str] = set()
    effects: set[tuple[str, str]] = set()
    tiers: set[str | None] = set()
    refused = 0
    for t in instants(op, subjects):
        clock.now = t
        for svc in services:
            mine = svc.ctx.principal.subject
            for s in subjects if mine is None else [mine]:
                for action in ACTIONS:
                    try:
                        fast = svc.decisions.decide(s, action, materialized=True,
                                                    record=False)
                    except SocialCreditError as exc:  # consent-requiring, no grant
                        assert exc.code == "consent.required"
                        with pytest.raises(SocialCreditError) as caught:
                            plain(svc, s, action)
                        assert caught.value.code == "consent.required"
                        refused += 1
                        continue
                    same(fast, plain(svc, s, action))
                    seen_sources.add(fast.source)
                    effects.add((action, fast.effect))
                    tiers.add(fast.standing.tier)
                    live = op.decisions.decide(s, action, record=False)
                    assert (fast.effect, fast.grant) == (live.effect, live.grant), (t, s)
                    assert fast.standing.tier == live.standing.tier
                    assert fast.standing.lists == live.standing.lists
                    assert math.isclose(fast.standing.score, live.standing.score,
                                        abs_tol=1e-9)
    assert "materialized" in seen_sources and refused
    assert tiers == {"A", "B", "C"}
    assert {e for _, e in effects} == {"allow", "deny", "benefit"}


# -- assembling without __init__ --------------------------------------------------------

def standing_values(score: float, tier: str | None, lists: list[str]) -> dict[str, Any]:
    return {"subject": "s", "subject_kind": "person", "program": "p", "at": 5,
            "known_at": 4, "applies": True, "score": score, "tier": tier,
            "dimensions": {"law": score - 1000}, "lists": lists, "list_entries": [],
            "pending": [], "contributions": [], "attributes": [], "key_factors": [],
            "rulebook": RulebookRef("p", "1", "ab" * 32), "notes": ["n"]}


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1200, allow_nan=False), st.sampled_from(["A", "B", None]),
       st.lists(st.sampled_from(["x", "y", "z"]), unique=True), st.booleans())
def test_assemble_equals_the_constructor(score: float, tier: str | None, lists: list[str],
                                         projection: bool) -> None:
    values = standing_values(score, tier, lists)
    if projection:  # a default given explicitly
        values["projection"] = True
    got, want = assemble(Standing, values), Standing(**values)
    assert got == want and repr(got) == repr(want) and got.as_dict() == want.as_dict()
    assert vars(got) == vars(want)
    # default factories make a fresh object each time
    assert got.suspended == [] and got.suspended is not assemble(Standing, values).suspended
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.score = 0.0  # type: ignore[misc]
    d_values = {"decision_id": "d", "subject": "s", "action": "a", "program": "p",
                "effect": "allow", "grant": {}, "_reasons": list, "at": 5, "known_at": 4,
                "decided_at": 5, "standing": want}
    got_d, want_d = assemble(Decision, d_values), Decision(**d_values)
    assert got_d == want_d and vars(got_d) == vars(want_d)
    assert got_d.body() == want_d.body()


# -- outcomes kept per version ----------------------------------------------------------

@st.composite
def cases(draw: Any) -> tuple[Rulebook, Standing, str]:
    rb = draw(st.sampled_from(RULEBOOKS))
    tiers = [t.id for t in rb.tiers]
    lists = [x.id for x in rb.lists]
    actions = [*sorted({c.action for c in rb.consequences}), "nothing.declared"]
    # few scores, so that the same (tier, lists) comes back with another score
    score = draw(st.sampled_from([rb.scale.min, 550.0, 601.0, 800.0, 1000.0, rb.scale.max]))
    tier = draw(st.sampled_from([*tiers, None, "retired-tier"]))
    on = draw(st.lists(st.sampled_from(lists), unique=True, max_size=3)) if lists else []
    return rb, standing(rb, score, tier, on), draw(st.sampled_from(actions))


@settings(max_examples=100, deadline=None)
@given(st.lists(cases(), min_size=1, max_size=30))
def test_kept_outcomes_are_evaluates(batch: list[tuple[Rulebook, Standing, str]]) -> None:
    """Asked in any order, again and again (the memo warm from earlier examples too),
    with the grant a caller was handed changed in between, `outcome` is `evaluate`'s."""
    for _ in range(2):
        for rb, s, action in batch:
            effect, grant, _ = evaluate(rb, s, action)
            got = outcome(rb, s, action)
            assert got == (effect, grant)
            got[1]["changed by a caller"] = True
            assert outcome(rb, s, action) == (effect, grant)


def test_outcomes_that_read_the_score_are_not_kept() -> None:
    rb = next(r for r in RULEBOOKS if any(
        k in ("score_at_least", "score_below")
        for c in r.consequences for k in c.when.conditions()))
    action = next(c.action for c in rb.consequences
                  if set(c.when.conditions()) & {"score_at_least", "score_below"})
    tier = rb.tiers[-1].id
    for score in (rb.scale.min, rb.scale.max):
        s = standing(rb, score, tier, [])
        assert outcome(rb, s, action) == evaluate(rb, s, action)[:2]
    assert ("outcome", action, tier, ()) not in rb.memo
