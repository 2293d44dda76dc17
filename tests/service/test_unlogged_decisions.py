"""Unlogged decisions read from memory (service/standing_cache.py: `StandingCache.remembered`
and its `Plan`s; service/decisions.py: `Decisions._from_memory`) equal the plain path —
the same service with `remembers` off, reading and evaluating every row as before — after
new records, new versions (in force now, or only later), due-process effects, a row's
`valid_until` passing, and time alone; and what they are built from (`Settled`,
`scoring.exact.settled`) equals what it stands in for."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcredit.decisions.evaluate import Decision
from socialcredit.errors import LedgerError, SocialCreditError
from socialcredit.ledger.model import ProgramVersion
from socialcredit.ledger.versions import pick_version, settled_versions
from socialcredit.rulebook.loader import parse_rulebook
from socialcredit.scoring.exact import Sums, Terms, evaluate, evaluator, settled
from socialcredit.scoring.materialized import read_standing
from socialcredit.service import Service
from socialcredit.service.standings import materialized_standing
from socialcredit.timeutil import US_PER_DAY, format_instant
from tests.conftest import Clock
from tests.decisions.test_unlogged_fast_path import ACTIONS, RB, town

# -- the version in force after every version -------------------------------------------


@st.composite
def version_lists(draw: Any) -> list[ProgramVersion]:
    rb = parse_rulebook(RB, "town.yaml")
    n = draw(st.integers(1, 6))
    seqs = draw(st.lists(st.integers(1, 100), min_size=n, max_size=n, unique=True))
    out = []
    for i, seq in enumerate(sorted(seqs)):
        program = draw(st.sampled_from(["town", "city"]))
        out.append(ProgramVersion(program, str(i), draw(st.integers(0, 20)),
                                  draw(st.integers(0, 20)), f"{i:064x}", rb, seq))
    return out


@settings(max_examples=300, deadline=None)
@given(version_lists(), st.integers(-1, 25), st.integers(-1, 25))
def test_settled_picks_what_pick_version_picks(versions: list[ProgramVersion], at: int,
                                               known_at: int) -> None:
    for program, s in settled_versions(versions).items():
        mine = [pv for pv in versions if pv.program == program]
        assert s.published == max(pv.published_at for pv in mine)
        try:
            want: ProgramVersion | None = pick_version(versions, program, at, known_at)
        except LedgerError:
            want = None
        if want is None:
            with pytest.raises(LedgerError):
                s.pick(versions, at, known_at)
        else:
            assert s.pick(versions, at, known_at) is want
        if at >= s.effective and known_at >= s.published:
            assert s.version is want


# -- a row's evaluation where nothing decays ---------------------------------------------

RULEBOOK = parse_rulebook(RB, "town.yaml")
POINTS = st.floats(-900, 300, allow_nan=False)


@st.composite
def sums(draw: Any, decays: bool) -> Sums:
    dims = [d.id for d in RULEBOOK.dimensions]
    constant = {d: draw(POINTS) for d in dims}
    decaying: dict[str, list[tuple[float, float]]] = {d: [] for d in dims}
    if decays:
        d = draw(st.sampled_from(dims))
        decaying[d] = [(draw(st.sampled_from([30.0, 60.0])), draw(POINTS))]
    return Sums(constant, decaying)


@st.composite
def terms(draw: Any) -> tuple[Terms, bool]:
    decays, lag_decays = draw(st.booleans()), draw(st.booleans())
    at = draw(st.integers(0, 10**15))
    until = draw(st.one_of(st.none(), st.integers(at + 1, at + 400 * US_PER_DAY)))
    return Terms(at, draw(sums(decays)), draw(st.sampled_from([[], ["defaulters"]])),
                 {5.0: draw(sums(lag_decays))}, until, draw(st.booleans())), \
        decays or lag_decays


@settings(max_examples=300, deadline=None)
@given(terms(), st.lists(st.integers(0, 399 * US_PER_DAY), min_size=1, max_size=5))
def test_settled_is_evaluate_at_every_instant(got: tuple[Terms, bool],
                                              offsets: list[int]) -> None:
    t_, decays = got
    ev = settled(RULEBOOK, t_)
    assert (ev is None) == decays
    if ev is None:
        return
    for off in offsets:
        t = t_.at + off
        if t_.valid(t):
            assert evaluate(RULEBOOK, t_, t) == ev



@settings(max_examples=400, deadline=None)
@given(terms(), st.lists(st.integers(0, 399 * US_PER_DAY), min_size=1, max_size=5),
       st.booleans())
def test_evaluator_is_evaluate_at_every_instant(got: tuple[Terms, bool], offsets: list[int],
                                                lag_missing: bool) -> None:
    """The same floats, tier and lists (in the same order) as `evaluate`, whether the row
    decays or not, its lagged sums do or not, or they are missing (evaluate's KeyError,
    where it gets there)."""
    t_, _ = got
    if lag_missing:
        t_ = Terms(t_.at, t_.sums, t_.record_lists, {}, t_.until, t_.applies)
    at = evaluator(RULEBOOK, t_)
    for off in [0, *offsets]:
        t = t_.at + off
        try:
            want = evaluate(RULEBOOK, t_, t)
        except KeyError:
            with pytest.raises(KeyError):
                at(t)
            continue
        score, tier, dims, lists = at(t)
        assert (score, tier, lists) == (want.score, want.tier, want.lists)
        assert list(dims.items()) == list(want.dimensions.items())



@pytest.mark.parametrize("law", [-150.0, -150.5, -149.5])
@pytest.mark.parametrize("lag_law", [-150.0, -150.5, -149.5])
def test_evaluator_at_the_list_threshold(law: float, lag_law: float) -> None:
    """A score (now, or the lagged one) exactly at a score list's threshold (850), just
    below or just above: on the list exactly as `evaluate` puts it."""
    t_ = Terms(0, Sums({"law": law, "civic": 0.0}, {"civic": [(30.0, 1e-300)]}), [],
               {5.0: Sums({"law": lag_law, "civic": 0.0}, {})}, None, True)
    for t in (0, US_PER_DAY):
        want = evaluate(RULEBOOK, t_, t)
        score, tier, _, lists = evaluator(RULEBOOK, t_)(t)
        assert (score, tier, lists) == (want.score, want.tier, want.lists)


# -- decisions and standings from memory, against the plain path -------------------------

HEAD = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"


def same(fast: Decision, plain: Decision) -> None:
    """Two decisions made at the same instant are the same but for their ids."""
    a, b = fast.body(), plain.body()
    assert a.pop("decision_id") != b.pop("decision_id")
    assert a == b
    assert fast.standing == plain.standing
    assert vars(fast.standing) == vars(plain.standing)
    assert (fast.effect, fast.grant, fast.reasons, fast.adverse_action) == (
        plain.effect, plain.grant, plain.reasons, plain.adverse_action)


def compare(svc: Service, subjects: list[str]) -> set[str]:
    """Every subject and action decided from memory and by the plain path, at the same
    instant (the test clock stands still); the sources seen."""
    cache = svc.ctx.cache
    assert cache is not None
    sources = set()
    for s in subjects:
        for action in ACTIONS:
            cache.remembers = True
            cache.sync()
            memory = cache.remembered(None, s, svc.ledger.clock()) is not None
            fast = svc.decisions.decide(s, action, materialized=True, record=False)
            found = materialized_standing(svc.ctx, s)
            cache.remembers = False
            try:
                plain = svc.decisions.decide(s, action, materialized=True, record=False)
                plain_found = materialized_standing(svc.ctx, s)
            finally:
                cache.remembers = True
            same(fast, plain)
            assert found is not None and plain_found is not None
            assert found.standing == plain_found.standing
            assert found.version is plain_found.version and found.source == plain.source
            sources.add(f"{fast.source}{'/memory' if memory else ''}")
    return sources


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_decisions_from_memory_equal_the_plain_path(make_ledger: Callable[..., Service],
                                                    clock: Clock, seed: int) -> None:
    rnd = random.Random(seed)
    op, subjects = town(make_ledger, clock)
    me = op.acting_as(subjects[0])
    # instants around the rows' valid_until: the memory path must hand over there
    edges = sorted({int(r["valid_until"]) for s in subjects
                    if (r := read_standing(op.ledger.engine, "town", s)) is not None
                    and r.get("valid_until") is not None})
    sources = compare(op, subjects) | compare(me, subjects[:1])
    version = 1
    for step in range(14):
        kind = rnd.choice(["time", "time", "edge", "record", "version", "future", "object"])
        if kind == "time":
            clock.now += rnd.choice([1, 3_600_000_000, 3 * US_PER_DAY, 40 * US_PER_DAY])
        elif kind == "edge" and edges:
            clock.now = max(clock.now, rnd.choice(edges) + rnd.choice([-1, 0, 1]))
        elif kind == "record":
            s = rnd.choice(subjects)
            typ = rnd.choice(["court.finding", "late.fee", "volunteer"])
            p = "bank-1" if typ == "volunteer" else "court-1"
            ev = "" if typ == "volunteer" else f"urn:n:{seed}-{step}"
            clock.now += 1_000_000
            day = (clock.now - 5 * US_PER_DAY) // US_PER_DAY
            op.records.ingest_text(HEAD + f"{p}:n{seed}-{step},{p},{s},person,{typ},"
                                          f"{format_instant(day * US_PER_DAY)},,{ev},\n")
        elif kind in ("version", "future"):
            version += 1
            clock.now += 1_000_000
            points = rnd.choice([-200, -300, -400])
            text = RB.replace('version: "1"', f'version: "{version}"').replace(
                "points: -300", f"points: {points}")
            # "future": effective only later, so the rows stay under the old one until then
            effective = clock.now + 2 * US_PER_DAY if kind == "future" else None
            try:
                op.programs.publish(parse_rulebook(text, "v.yaml"), effective)
            except SocialCreditError:
                version -= 1
        elif kind == "object":  # a due-process effect: the subject is decided live
            s = rnd.choice(subjects[:4])
            rec = next((f"court-1:{i}" for i in range(28) if f"p{i % 9}" == s), None)
            try:
                if rec is not None:
                    op.acting_as(s).cases.object(rec, "not me")
            except SocialCreditError:
                pass
        sources |= compare(op, subjects) | compare(me, subjects[:1])
    # the memory path served, and handed over to the plain one
    assert "materialized/memory" in sources and sources - {"materialized/memory"}


def test_a_commit_elsewhere_is_seen_by_the_next_decision(
        make_ledger: Callable[..., Service], clock: Clock, db_url: str) -> None:
    """Freshness: a record another engine commits is in the very next unlogged
    decision from memory (its subject's row is read again)."""
    op, _ = town(make_ledger, clock)
    before = op.decisions.decide("p1", "rail.ticket", materialized=True, record=False)
    again = op.decisions.decide("p1", "rail.ticket", materialized=True, record=False)
    assert again.standing == before.standing
    clock.set("2026-05-30T00:00:01Z")
    with Service.open(db_url, clock=clock) as other:
        other.records.ingest_text(HEAD + "court-1:late,court-1,p1,person,court.finding,"
                                         "2026-05-29,,urn:late,\n")
    after = op.decisions.decide("p1", "rail.ticket", materialized=True, record=False)
    assert after.standing.score < before.standing.score
    with Service.open(db_url, clock=clock) as fresh:
        plain = fresh.decisions.decide("p1", "rail.ticket", materialized=True,
                                       record=False)
    same(after, plain)
