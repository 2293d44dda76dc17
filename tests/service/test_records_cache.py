"""A busy subject's records kept between live standings (service/standing_cache.py): a
kept copy is used only while the subject's records are unchanged, whoever changed them —
this service, another engine on the same database, or a retention run that let SQLite
hand an erased record's seq out again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection

from socialcredit.ledger.model import Record
from socialcredit.scoring.standing import Standing
from socialcredit.service import Service
from socialcredit.service.standing_cache import MIN_RECORDS, StandingCache
from tests.helpers import BASE

H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}


def busy(svc: Service, n: int = MIN_RECORDS + 8) -> None:
    rows = "".join(f"bank-1:h{i},bank-1,alice,person,hours,2025-11-{1 + i % 28:02d},"
                   f"{1 + i % 5},,\n" for i in range(n))
    svc.records.ingest_text(H + rows + "bank-1:a1,bank-1,alice,,arrears,2025-12-01,,e,\n"
                            "bank-1:b1,bank-1,bob,person,bonus,2025-12-01,,,\n")


def same(got: Standing, want: Standing) -> None:
    assert got.score == want.score and got.tier == want.tier and got.lists == want.lists
    assert [(c.record_id, c.resolved, c.contribution) for c in got.contributions] == \
        [(c.record_id, c.resolved, c.contribution) for c in want.contributions]


def cache_of(svc: Service) -> StandingCache:
    cache = svc.ctx.cache
    assert cache is not None
    return cache


def test_kept_records_see_what_another_engine_commits(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """A record, a void and a resolution committed through another engine are in the
    next live standing; an unchanged subject's records are read from the kept copy."""
    svc = make_ledger(BASE, PROVIDERS)
    busy(svc)
    cache = cache_of(svc)
    first = svc.standings.of("alice")
    hits = cache.record_hits
    same(svc.standings.of("alice"), first)
    assert cache.record_hits == hits + 1  # the kept copy, checked against the mark
    with Service.open(db_url, clock=clock) as other:
        steps = [
            "bank-1:a2,bank-1,alice,,arrears,2025-12-02,,e,\n",  # a record
            "rev-1:v1,rev-1,alice,,void,2025-12-03,,e,bank-1:h3\n",  # a void
            "bank-1:p1,bank-1,alice,,paid,2025-12-04,,e,bank-1:a1\n",  # a resolution
        ]
        for i, row in enumerate(steps):
            clock.set(f"2026-01-0{2 + i}T00:00:00Z")
            before = svc.standings.of("alice")
            other.records.ingest_text(H + row)
            got = svc.standings.of("alice")
            with Service.open(db_url, clock=clock) as fresh:  # nothing kept
                same(got, fresh.standings.of("alice"))
            same(got, other.standings.of("alice"))
            assert got.score != before.score, row
        assert "bank-1:h3" not in {c.record_id for c in got.contributions}
        assert any(c.resolved for c in got.contributions if c.record_id == "bank-1:a1")
    # a subject with few records is read each time, and never kept
    svc.standings.of("bob")
    assert "bob" not in cache._records


def test_a_retention_run_drops_kept_records(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """Retention deletes records: erasing the ledger's newest record lets SQLite give
    the next record the same seq, so (count, highest seq) alone would not change. The
    run's entry in the operations log drops every kept copy."""
    svc = make_ledger(BASE, PROVIDERS)
    busy(svc)
    svc.records.ingest_text(H + "bank-1:last,bank-1,alice,,bonus,2025-12-05,,,\n")
    first = svc.standings.of("alice")
    cache = cache_of(svc)
    assert "alice" in cache._records
    with Service.open(db_url, clock=clock) as other:
        erase_last(other)
        clock.set("2026-01-02T00:00:00Z")
        other.records.ingest_text(H + "bank-1:new,bank-1,alice,,hours,2025-12-06,7,,\n")
        got = svc.standings.of("alice")
        same(got, other.standings.of("alice"))
    ids = {c.record_id for c in got.contributions}
    assert "bank-1:new" in ids and "bank-1:last" not in ids
    assert got.score != first.score


@contextmanager
def last_then_a_snapshot(svc: Service) -> Iterator[Connection]:
    """A busy alice whose newest record is the ledger's newest, and a read transaction
    begun then (its snapshot held until the block ends)."""
    busy(svc)
    svc.records.ingest_text(H + "bank-1:last,bank-1,alice,,bonus,2025-12-05,,,\n")
    engine = svc.ledger.engine
    if engine.dialect.name == "postgresql":  # a snapshot for the whole transaction
        engine = engine.execution_options(isolation_level="REPEATABLE READ")
    with engine.connect() as stale:
        stale.exec_driver_sql("SELECT count(*) FROM sc_records").one()  # its snapshot
        yield stale


def erase_last(svc: Service) -> None:
    """What a retention run does to the table: the newest record erased, the run
    logged."""
    with svc.ledger.write() as conn:
        assert svc.ledger.erase_records(conn, ["bank-1:last"]) == 1
        svc.ledger.operation(conn, "retention.run", {"erased": 1})


def test_a_read_begun_before_a_retention_run_keeps_nothing(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """A read transaction begun before a retention run still sees the erased record.
    Were its records kept after the run was seen, a later record given the erased one's
    seq (SQLite) would leave the subject's mark as that stale copy's, and the next live
    standing would count an erased record in place of the new one."""
    svc = make_ledger(BASE, PROVIDERS)
    cache = cache_of(svc)
    with last_then_a_snapshot(svc) as stale, Service.open(db_url, clock=clock) as other:
        erase_last(other)
        old = cache.records(stale, "alice")  # right for its snapshot ...
        assert "bank-1:last" in {r.record_id for r in old}
    if svc.ledger.engine.dialect.name == "sqlite":  # PostgreSQL never reuses a seq
        assert "alice" not in cache._records  # ... but not kept
    with Service.open(db_url, clock=clock) as other:
        clock.set("2026-01-02T00:00:00Z")
        other.records.ingest_text(H + "bank-1:new,bank-1,alice,,hours,2025-12-06,7,,\n")
        got = svc.standings.of("alice")
        same(got, other.standings.of("alice"))
    ids = {c.record_id for c in got.contributions}
    assert "bank-1:new" in ids and "bank-1:last" not in ids


def test_a_read_begun_before_a_retention_run_is_not_handed_a_newer_copy(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """The other way round: a copy kept after a retention run and a record that took
    the erased record's seq (SQLite) has the mark a read begun before the run sees, yet
    it is not that read's records."""
    svc = make_ledger(BASE, PROVIDERS)
    cache = cache_of(svc)
    with last_then_a_snapshot(svc) as stale:
        want = svc.ledger.records_of("alice", stale)
        with Service.open(db_url, clock=clock) as other:
            erase_last(other)
            clock.set("2026-01-02T00:00:00Z")
            other.records.ingest_text(H + "bank-1:new,bank-1,alice,,hours,2025-12-06,7,,\n")
        svc.standings.of("alice")  # keeps the copy as it is now
        assert "alice" in cache._records
        got = cache.records(stale, "alice")
        assert [r.record_id for r in got] == [r.record_id for r in want]
        assert "bank-1:last" in {r.record_id for r in got}


def test_kept_records_are_what_the_ledger_reads(
        make_ledger: Callable[..., Service]) -> None:
    """The kept copy gives the same Records, in the same order, as Ledger.records_of,
    and a caller changing the list it got changes nothing kept."""
    svc = make_ledger(BASE, PROVIDERS)
    busy(svc)
    cache = cache_of(svc)
    with svc.ledger.engine.connect() as conn:
        svc.ledger.committed(conn)
        want = svc.ledger.records_of("alice", conn)
        cold = cache.records(conn, "alice")
        cold.clear()
        warm: list[Record] = cache.records(conn, "alice")
        assert cache.records(conn, "alice") == warm == want
        assert svc.ledger.records_mark("alice", conn) == (len(want), max(
            r[0] for r in conn.exec_driver_sql(
                "SELECT seq FROM sc_records WHERE subject = 'alice'")))


def test_a_subjects_records_and_mark_are_one_read(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """`records_marked` gives what records_of and records_mark give in the same
    transaction. On SQLite the highest seq is a statement of its own, which holds only
    because a transaction reads one snapshot: a record committed by another engine
    meanwhile is in neither; on PostgreSQL (each statement its own snapshot) the mark
    comes with the records, and the two agree either way."""
    svc = make_ledger(BASE, PROVIDERS)
    busy(svc)
    led = svc.ledger
    with led.engine.connect() as conn:
        led.committed(conn)
        records, mark = led.records_marked("alice", conn)
        assert records == led.records_of("alice", conn)
        assert mark == led.records_mark("alice", conn) == (len(records), max(
            r[0] for r in conn.exec_driver_sql(
                "SELECT seq FROM sc_records WHERE subject = 'alice'")))
        with Service.open(db_url, clock=clock) as other:
            clock.set("2026-01-02T00:00:00Z")
            other.records.ingest_text(H + "bank-1:late,bank-1,alice,,arrears,2025-12-05,,e,\n")
        again, mark_again = led.records_marked("alice", conn)
        assert mark_again[0] == len(again)
        if conn.dialect.name == "sqlite":
            assert (again, mark_again) == (records, mark)
        else:
            assert "bank-1:late" in {r.record_id for r in again} and mark_again[1] > mark[1]


def test_a_kept_copy_is_extended_by_the_records_appended_since(
        make_ledger: Callable[..., Service], clock: Any, db_url: str) -> None:
    """After new records about a busy subject, only they are read: the extended copy is
    what a fresh read gives, and so is the standing. A change that is not an append
    (a retention run) still reads everything."""
    svc = make_ledger(BASE, PROVIDERS)
    busy(svc)
    cache = cache_of(svc)
    svc.standings.of("alice")
    with Service.open(db_url, clock=clock) as other:
        for i in range(3):
            clock.set(f"2026-01-0{2 + i}T00:00:00Z")
            other.records.ingest_text(H + f"bank-1:n{i},bank-1,alice,,hours,2025-12-0{i + 1},"
                                      f"{i + 2},,\nbank-1:m{i},bank-1,bob,,bonus,2025-12-01,,,\n")
            extends, misses = cache.record_extends, cache.record_misses
            got = svc.standings.of("alice")
            assert (cache.record_extends, cache.record_misses) == (extends + 1, misses)
            with Service.open(db_url, clock=clock) as fresh:
                same(got, fresh.standings.of("alice"))
            with svc.ledger.engine.connect() as conn:
                svc.ledger.committed(conn)
                kept = cache.records(conn, "alice")
                want = svc.ledger.records_of("alice", conn)
            if svc.ledger.engine.dialect.name == "sqlite":
                assert kept == want
            else:  # PostgreSQL's read without ORDER BY has no order to keep
                assert sorted(kept, key=lambda r: r.record_id) == \
                    sorted(want, key=lambda r: r.record_id)
        with other.ledger.write() as conn:
            assert other.ledger.erase_records(conn, ["bank-1:n2"]) == 1
            other.ledger.operation(conn, "retention.run", {"erased": 1})
        clock.set("2026-01-06T00:00:00Z")
        other.records.ingest_text(H + "bank-1:n9,bank-1,alice,,hours,2025-12-09,7,,\n")
        misses = cache.record_misses
        got = svc.standings.of("alice")
        assert cache.record_misses == misses + 1
        same(got, other.standings.of("alice"))
        assert "bank-1:n2" not in {c.record_id for c in got.contributions}
