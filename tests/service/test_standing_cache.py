"""Materialized rows kept in memory (service/standing_cache.py) follow what other
engines commit: a decision from the cache equals one a fresh service reads from the
table, after records about one subject (only its row is read again) and about more
subjects than the cache holds rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from socialcredit.scoring.materialized import score_all
from socialcredit.service import Service
from socialcredit.service.standing_cache import _FINGERPRINT
from tests.helpers import BASE

H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
SUBJECTS = ["alice", "bob", "carol", "dave"]


def decide_all(svc: Service, subjects: list[str]) -> dict[str, Any]:
    out = {}
    for s in subjects:
        d = svc.decisions.decide(s, "bike", materialized=True, record=False)
        out[s] = (d.effect, d.standing.score, d.standing.tier, d.standing.lists, d.source)
    return out


def test_cached_rows_follow_what_another_engine_commits(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "".join(f"bank-1:b-{s},bank-1,{s},person,bonus,2025-12-01,,,\n"
                                        for s in SUBJECTS))
    score_all(svc.ledger, None, svc.now(), svc.now())
    cache = svc.ctx.cache
    assert cache is not None
    first = decide_all(svc, SUBJECTS)
    hits, misses = cache.hits, cache.misses
    statements: list[str] = []
    if cache._driver is not None:  # SQLite: the cache's own connection, traced
        cache._driver.set_trace_callback(statements.append)
    assert decide_all(svc, SUBJECTS) == first
    assert (cache.hits, cache.misses) == (hits + 4, misses)  # from memory
    # nothing committed: data_version says so (once a decision), and nothing else is read
    assert statements == ["PRAGMA data_version"] * len(SUBJECTS) or cache._driver is None
    with Service.open(db_url, clock=clock) as other:
        # one subject's record: its row alone is read again
        clock.set("2026-01-02T00:00:00Z")
        other.records.ingest_text(H + "bank-1:a-alice,bank-1,alice,,arrears,2026-01-01,,e,\n")
        misses = cache.misses
        got = decide_all(svc, SUBJECTS)
        assert cache.misses == misses + 1
        if cache._driver is not None:  # the commit seen: the fingerprint read, once
            assert statements.count(_FINGERPRINT) == 1
        with Service.open(db_url, clock=clock) as fresh:
            assert got == decide_all(fresh, SUBJECTS)
        assert got["alice"][1] < first["alice"][1]
        # records about more subjects than rows are kept: every row of theirs goes
        clock.set("2026-01-03T00:00:00Z")
        more = [*SUBJECTS[1:], "erin", "frank"]
        other.records.ingest_text(H + "".join(
            f"bank-1:a2-{s},bank-1,{s},person,arrears,2026-01-02,,e,\n" for s in more))
        misses = cache.misses
        got = decide_all(svc, SUBJECTS)
        assert cache.misses == misses + 3
        with Service.open(db_url, clock=clock) as fresh:
            assert got == decide_all(fresh, SUBJECTS)
        assert all(got[s][1] < first[s][1] for s in SUBJECTS)
