"""Rows read for many decisions in one transaction (service/prefetch.py,
StandingCache.prefetch): decisions made from them equal those a fresh service reads, and
a row read from a snapshot older than a commit the cache has since synced is never kept
(the generations are taken after the sync, before the snapshot)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from socialcredit.errors import SocialCreditError
from socialcredit.principals import OPERATOR
from socialcredit.scoring.materialized import score_all
from socialcredit.service import Service
from tests.helpers import BASE
from tests.service.test_standing_cache import PROVIDERS, SUBJECTS, H, decide_all


def _ledger(make_ledger: Callable[..., Service]) -> Service:
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "".join(
        f"bank-1:b-{s},bank-1,{s},person,bonus,2025-12-01,,,\n" for s in SUBJECTS))
    score_all(svc.ledger, None, svc.now(), svc.now())
    return svc


def test_decisions_after_a_prefetch_are_those_read_one_by_one(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    svc = _ledger(make_ledger)
    cache = svc.ctx.cache
    assert cache is not None
    asks = [(OPERATOR, s, None) for s in [*SUBJECTS, "nobody", "alice"]]
    assert not svc.decides_from_memory("alice")
    assert svc.prefetch_decisions(asks) == len(SUBJECTS)  # one read each, "nobody" none
    assert all(svc.decides_from_memory(s) for s in SUBJECTS)
    hits, misses = cache.hits, cache.misses
    got = decide_all(svc, SUBJECTS)
    assert (cache.hits, cache.misses) == (hits + len(SUBJECTS), misses)  # from memory
    with Service.open(db_url, clock=clock) as fresh:
        assert got == decide_all(fresh, SUBJECTS)
    # what the principal may not decide is not read for it (the decision refuses it)
    assert svc.prefetch_decisions([(OPERATOR, "bob", "no-such-program")]) == 0


def test_a_row_read_before_a_commit_the_cache_then_syncs_is_not_kept(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """A record about alice commits after the prefetch's snapshot began and the cache
    syncs it (another request's decision would) before the prefetch keeps what it read:
    alice's old row must not stay in the cache — no row of hers was kept at the sync,
    so only a generation moved on any new record refuses it."""
    svc = _ledger(make_ledger)
    cache = svc.ctx.cache
    assert cache is not None
    engine = svc.ledger.engine
    other = Service.open(db_url, clock=clock)
    done: list[bool] = []

    def commit_meanwhile(conn: object, cursor: object, statement: str, *_: object) -> None:
        if "subject IN" in statement and not done:
            done.append(True)
            clock.set("2026-01-02T00:00:00Z")
            other.records.ingest_text(H + "bank-1:a-alice,bank-1,alice,,arrears,"
                                          "2026-01-01,,e,\n")
            cache.sync()

    event.listen(engine, "after_cursor_execute", commit_meanwhile)
    try:
        svc.prefetch_decisions([(OPERATOR, s, None) for s in SUBJECTS])
    finally:
        event.remove(engine, "after_cursor_execute", commit_meanwhile)
    try:
        assert done
        got = decide_all(svc, SUBJECTS)
        with Service.open(db_url, clock=clock) as fresh:
            assert got == decide_all(fresh, SUBJECTS)
    finally:
        other.close()


def test_a_row_loaded_by_a_decision_before_a_commit_is_not_kept(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """The same for a decision's own read (`load`, then `put` with the generation taken
    before its snapshot)."""
    svc = _ledger(make_ledger)
    cache = svc.ctx.cache
    assert cache is not None
    cache.sync()
    generation = cache.generation
    name = cache.program(None)
    with svc.ledger.engine.connect() as conn:
        old = cache.load(conn, name, "alice")
        assert old is not None
        with Service.open(db_url, clock=clock) as other:
            clock.set("2026-01-02T00:00:00Z")
            other.records.ingest_text(H + "bank-1:a-alice,bank-1,alice,,arrears,"
                                          "2026-01-01,,e,\n")
        cache.sync()
        cache.put(old, generation)
    assert cache.get(name, "alice") is None


def test_grants_read_after_a_decisions_snapshot_began_are_not_kept_stale(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """A relying party's first decision about a subject reads her row, then her grants,
    in one read transaction. A revocation that commits after that snapshot began, and
    that another request's sync sees before the grants are read, must not leave the
    revoked grant in the cache: the next decision would still see it. (The consent
    generation is the one taken before the snapshot began, not when the grants are
    read.)"""
    svc = _ledger(make_ledger)
    cache = svc.ctx.cache
    assert cache is not None
    svc.principals.add("rp", "relying_party")
    grant = svc.consents.grant("rp", "bikes", "tier", subject="alice")["grant_id"]
    rp = svc.acting_as("rp")
    other = Service.open(db_url, clock=clock)
    done: list[bool] = []

    def revoke_meanwhile(conn: object, cursor: object, statement: str, *_: object) -> None:
        if "FROM sc_standings WHERE program" in statement and not done:
            done.append(True)
            other.consents.revoke(grant)
            cache.sync()  # another request's decision would sync it now

    event.listen(svc.ledger.engine, "after_cursor_execute", revoke_meanwhile)
    try:
        # SQLite: this one's snapshot predates the revocation, and it may still use the
        # grant; PostgreSQL reads at READ COMMITTED: its grants' read sees the revocation
        if db_url.startswith("sqlite"):
            first = rp.decisions.decide("alice", "bike", materialized=True,
                                        record=False, purpose="bikes")
            assert first.grant_id == grant
        else:
            with pytest.raises(SocialCreditError):
                rp.decisions.decide("alice", "bike", materialized=True, record=False,
                                    purpose="bikes")
    finally:
        event.remove(svc.ledger.engine, "after_cursor_execute", revoke_meanwhile)
    try:
        assert done
        with Service.open(db_url, clock=clock) as fresh, \
                pytest.raises(SocialCreditError) as read_fresh:
            fresh.acting_as("rp").decisions.decide("alice", "bike", materialized=True,
                                                   record=False, purpose="bikes")
        assert read_fresh.value.code == "consent.required"
        with pytest.raises(SocialCreditError) as from_cache:
            rp.decisions.decide("alice", "bike", materialized=True, record=False,
                                purpose="bikes")
        assert from_cache.value.code == "consent.required"
    finally:
        other.close()
