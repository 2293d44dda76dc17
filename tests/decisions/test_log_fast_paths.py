"""The decision log's fast paths — a body spelled key by key, with reasons shared between decisions,
an access-log detail spelled directly, rows written at the driver — each give exactly
what the plain path gives; and a decision under group commit is acknowledged only once
its log row is committed."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from socialcredit.db import append, append_row, gathering_appends
from socialcredit.decisions import log
from socialcredit.decisions.evaluate import Decision, evaluate, outcome
from socialcredit.dueprocess.access import _detail_json, decision_detail
from socialcredit.dueprocess.schema import access_log
from socialcredit.ledger import schema
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.standing import Standing
from socialcredit.service import Service
from socialcredit.timeutil import BEGINNING_OF_TIME, format_instant
from tests.decisions.test_outcome import RULEBOOKS, standing
from tests.helpers import BASE

PROVIDERS = {"bank-1": "bank", "court-1": "court"}
H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


def _decision(rb: Rulebook, s: Standing, action: str, prebuilt: bool, purpose: str | None,
              effect_decided: bool, **other: Any) -> Decision:
    effect, granted = outcome(rb, s, action)
    why: Any = evaluate(rb, s, action)[2] if prebuilt else (lambda: evaluate(rb, s, action)[2])
    fields: dict[str, Any] = {
        "requester": {"principal": "rp", "role": "relying_party"}, "purpose": purpose,
        "grant_id": None, "disclosure": "full",
        "adverse_action": {"action": action} if effect_decided else None} | other
    return Decision(fields.pop("decision_id", "d-1"), fields.pop("subject", s.subject),
                    action, s.program, effect, fields.pop("grant", granted), why, s.at,
                    s.known_at, fields.pop("decided_at", s.at + 1), s,
                    fields.pop("source", "materialized"), **fields)


INSTANTS = st.one_of(st.sampled_from([0, 1, BEGINNING_OF_TIME - 5, 1_764_547_200_000_000,
                                      1_764_547_200_123_456]),
                     st.integers(-(2**40), 2**53))
ANY_JSON = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), TEXT,
                                  st.floats(allow_nan=True)),
                        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                st.dictionaries(TEXT, inner, max_size=3)),
                        max_leaves=8)


@st.composite
def decisions_under(draw: Any) -> tuple[Rulebook, Decision]:
    """A decision and the rulebook its reasons are evaluated under."""
    rb = draw(st.sampled_from(RULEBOOKS))
    tiers = [t.id for t in rb.tiers]
    lists = [x.id for x in rb.lists]
    actions = [*sorted({c.action for c in rb.consequences}), "nothing.declared"]
    score = draw(st.one_of(
        st.floats(rb.scale.min - 10, rb.scale.max + 10, allow_nan=False),
        st.sampled_from([0.0, -0.0, 0, 1000, 364.0])))
    tier = draw(st.sampled_from([*tiers, None, "retired-tier"]))
    on = draw(st.lists(st.sampled_from(lists), unique=True)) if lists else []
    s = standing(rb, score, tier, on)
    at, known_at = draw(INSTANTS), draw(INSTANTS)
    s = dataclasses.replace(s, at=at, known_at=known_at,
                            program=draw(st.sampled_from([s.program, "\u6c5f-\"q\""])))
    purpose = draw(st.one_of(st.none(), TEXT, st.just('"reasons": [], '),
                             st.just("\x00\u2716\\")))
    other: dict[str, Any] = {}
    if draw(st.booleans()):  # anything a decision may carry, drawn freely
        other = {"decision_id": draw(TEXT), "subject": draw(TEXT),
                 "decided_at": draw(st.one_of(st.just(at), INSTANTS)),
                 "hypothetical": draw(st.booleans()),
                 "source": draw(st.sampled_from(["live", "materialized"])),
                 "grant": draw(st.dictionaries(TEXT, ANY_JSON, max_size=3)),
                 "grant_id": draw(st.one_of(st.none(), TEXT)),
                 "disclosure": draw(st.sampled_from(["full", "score", "lists"])),
                 "requester": draw(st.one_of(
                     st.none(), st.fixed_dictionaries({"principal": TEXT, "role": TEXT}),
                     st.dictionaries(TEXT, ANY_JSON, max_size=3)))}
        if draw(st.booleans()):
            other["adverse_action"] = draw(st.dictionaries(TEXT, ANY_JSON, max_size=4))
    return rb, _decision(rb, s, draw(st.sampled_from(actions)), draw(st.booleans()),
                         purpose, draw(st.booleans()), **other)


def decisions() -> st.SearchStrategy[Decision]:
    return decisions_under().map(lambda got: got[1])


@settings(max_examples=500, deadline=None)
@given(st.lists(decisions(), min_size=1, max_size=4))
def test_a_body_with_shared_reasons_is_the_plain_encoding(ds: list[Decision]) -> None:
    # several in a row: the second of two decisions with the same key reads the first's
    for d in ds:
        plain = json.dumps(d.body(), sort_keys=True)
        assert log.body_json(d) == plain
        assert log.body_json(d) == plain  # and again, from the shared reasons


@settings(max_examples=500, deadline=None)
@given(st.lists(decisions_under(), min_size=1, max_size=4))
def test_a_body_with_reasons_shared_across_scores_is_the_plain_encoding(
        ds: list[tuple[Rulebook, Decision]]) -> None:
    # given the rulebook, decisions whose action reads no score share reasons whatever
    # their scores
    for rb, d in ds:
        plain = json.dumps(d.body(), sort_keys=True)
        assert log.body_json(d, rb) == plain
        assert log.body_json(d, rb) == plain


def test_only_actions_that_read_no_score_share_reasons_across_scores() -> None:
    for rb in RULEBOOKS:
        tiers = [t.id for t in rb.tiers] or [None]
        for action in sorted({c.action for c in rb.consequences}):
            for score in (rb.scale.min, (rb.scale.min + rb.scale.max) / 2, rb.scale.max,
                          rb.scale.min):
                d = _decision(rb, standing(rb, score, tiers[0], []), action, False, None,
                              False)
                assert log.body_json(d, rb) == json.dumps(d.body(), sort_keys=True)


def test_minus_zero_and_zero_do_not_share_reasons() -> None:
    rb = next(r for r in RULEBOOKS if any(
        "score_at_least" in c.when.conditions() or "score_below" in c.when.conditions()
        for c in r.consequences))
    action = next(c.action for c in rb.consequences
                  if {"score_at_least", "score_below"} & set(c.when.conditions()))
    for score in (0.0, -0.0, 0):
        d = _decision(rb, standing(rb, score, None, []), action, False, None, False)
        assert log.body_json(d) == json.dumps(d.body(), sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(TEXT, st.one_of(TEXT, st.integers(), st.none()), max_size=5))
def test_an_access_detail_is_the_plain_encoding(detail: dict[str, Any]) -> None:
    assert _detail_json(detail) == json.dumps(detail, sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT, TEXT)
def test_a_decisions_access_detail_is_the_plain_encoding(decision_id: str, action: str,
                                                          effect: str) -> None:
    detail = {"decision_id": decision_id, "action": action, "effect": effect}
    for _ in range(2):  # and again, from the kept spelling of its action and effect
        assert decision_detail(decision_id, action, effect) == json.dumps(detail,
                                                                          sort_keys=True)


@settings(max_examples=300, deadline=None)
@given(INSTANTS, st.lists(st.integers(-2_000_000, 2_000_000), min_size=1, max_size=6))
def test_instants_sharing_a_second_are_spelled_as_json_dumps(
        base: int, steps: list[int]) -> None:
    """An instant's text shares its seconds' text with the last instant spelled in the
    same second: instants in and around one second, in any order, each spelled as
    json.dumps(format_instant(us)) spells it."""
    for us in [base, *(base + s for s in steps), base]:
        try:
            plain = json.dumps(format_instant(us))
        except OverflowError:  # just after the beginning of time: no date spells it
            continue
        assert log._instant_text(us) == plain
        assert log._instant(us) == plain


def test_rows_written_at_the_driver_equal_sqlalchemys(make_ledger: Callable[..., Service]
                                                      ) -> None:
    """Gathered appends go through one driver-level executemany: the stored rows, in
    order, are those SQLAlchemy's insert stores (NULLs, unicode, big integers), for a
    group of one row as for one of many."""
    svc = make_ledger(BASE, PROVIDERS)
    kinds = [("a", None, None), ("\u6c5f", "x'y", "{}"), (None, "\u2716", '{"a": "b"}')]
    eng = svc.ledger.engine
    for n in (1, 3, 4, 87, 150):
        op = f"decision-{n}"
        rows = [{"at": 2**62 + i, "subject": s, "principal_id": "p\u00e9",
                 "role": "operator", "operation": op, "program": None, "purpose": p,
                 "grant_id": None, "detail": d}
                for i, (s, p, d) in enumerate(kinds[i % 3] for i in range(n))]
        with eng.begin() as conn, gathering_appends(conn):
            for r in rows:
                append(conn, access_log, r)
        with eng.begin() as conn:
            conn.execute(access_log.insert(), rows)
        with eng.connect() as conn:
            got = [dict(r._mapping) for r in conn.execute(
                select(access_log).where(access_log.c.operation == op)
                .order_by(access_log.c.seq))]
        for r in got:
            r.pop("seq")
        assert got[:n] == got[n:] == rows


def test_gathered_rows_of_other_columns_keep_their_order(
        make_ledger: Callable[..., Service]) -> None:
    """Rows of one table appended with different columns (tuples, then a dict with a
    column fewer) are all written, in the order they were appended."""
    svc = make_ledger(BASE, PROVIDERS)
    cols = ("at", "subject", "principal_id", "role", "operation", "detail")
    with svc.ledger.engine.begin() as conn, gathering_appends(conn):
        append_row(conn, access_log, cols, (1, "a", "p", "operator", "gathered", "{}"))
        append(conn, access_log, {"at": 2, "subject": "b", "principal_id": "p",
                                  "role": "operator", "operation": "gathered"})
        append_row(conn, access_log, cols, (3, "c", "p", "operator", "gathered", None))
    with svc.ledger.engine.connect() as conn:
        got = conn.execute(select(access_log.c.at, access_log.c.subject, access_log.c.detail)
                           .where(access_log.c.operation == "gathered")
                           .order_by(access_log.c.seq)).all()
    assert [tuple(r) for r in got] == [(1, "a", "{}"), (2, "b", None), (3, "c", None)]


def test_a_decision_is_acknowledged_only_once_its_rows_are_committed(
        make_ledger: Callable[..., Service], tmp_path: Any) -> None:
    """Under group commit, many threads decide at once; as soon as `decide` returns, a
    connection of another engine (another process, as far as the database knows) sees
    the decision's log row and its access-log entry."""
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "".join(
        f"bank-1:b{i},bank-1,s{i % 7},person,bonus,2025-12-01,,,\n" for i in range(30)))
    svc.population.score_all()
    url = svc.ledger.engine.url.render_as_string(hide_password=False)
    other = create_engine(url)
    grouped = svc.with_group_commit()  # as the operator: each decision is access-logged
    failures: list[str] = []
    seen = 0
    lock = threading.Lock()

    def work(j: int) -> None:
        nonlocal seen
        with other.connect() as conn:
            for i in range(15):
                d = grouped.decisions.decide(f"s{(i + j) % 7}", "bike", materialized=True)
                row = conn.execute(select(schema.decisions.c.body).where(
                    schema.decisions.c.decision_id == d.decision_id)).scalar()
                n = conn.execute(select(access_log.c.seq).where(
                    access_log.c.detail.contains(d.decision_id))).all()
                conn.rollback()  # the next look sees what is committed by then
                with lock:
                    seen += 1
                    if row is None or len(n) != 1:
                        failures.append(d.decision_id)
                    elif json.loads(row) != d.body():
                        failures.append(f"{d.decision_id}: body differs")

    threads = [threading.Thread(target=work, args=(j,)) for j in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    committer = grouped.ctx.committer
    assert committer is not None and committer.units >= 120
    assert committer.batches < committer.units  # decisions did share commits
    grouped.close()
    other.dispose()
    assert seen == 120 and failures == []
