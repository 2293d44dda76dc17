"""The group committer fed from threads and from an event loop: every unit's outcome is
its own, a unit cancelled before its group began is not run, and a failing unit fails
alone."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import PendingRollbackError

from socialcredit.errors import LedgerError
from socialcredit.ledger import schema as s
from socialcredit.service import Service
from socialcredit.service.commit import CHECKPOINT_PAGES, GroupCommit
from tests.dueprocess.rulebooks import CITY


def _operation(kind: str) -> Callable[[Connection], int]:
    def unit(conn: Connection) -> int:
        return int(conn.execute(s.operations.insert().values(
            at=1, kind=kind, detail="{}")).inserted_primary_key[0])
    return unit


def _count(svc: Service, kind: str) -> int:
    with svc.ledger.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.operations).where(
            s.operations.c.kind == kind)).scalar_one())


def test_units_from_an_event_loop_are_grouped_and_each_gets_its_outcome(
        make_ledger: Callable[..., Service]) -> None:
    svc = make_ledger(CITY)
    gc = GroupCommit(svc.ledger.engine)
    gate = threading.Event()
    try:
        # hold the committer in a first group so the next units queue up together
        held = gc.submit(lambda conn: gate.wait(10))

        async def many() -> list[int]:
            futures = [asyncio.wrap_future(gc.submit(_operation("t.async")))
                       for _ in range(20)]
            loop = asyncio.get_running_loop()
            loop.call_later(0.2, gate.set)
            return list(await asyncio.gather(*futures))

        seqs = asyncio.run(many())
        assert held.result(10) is True
        assert len(set(seqs)) == 20 and _count(svc, "t.async") == 20
        assert gc.batches <= 3 and gc.units == 21  # the 20 in one or two groups
    finally:
        gate.set()
        gc.close()


def test_a_cancelled_unit_is_not_run_and_a_failing_one_fails_alone(
        make_ledger: Callable[..., Service]) -> None:
    svc = make_ledger(CITY)
    gc = GroupCommit(svc.ledger.engine)
    gate = threading.Event()
    try:
        gc.submit(lambda conn: gate.wait(10))
        gone = gc.submit(_operation("t.cancelled"))
        assert gone.cancel()  # the client went away before its group began

        def bad(conn: Connection) -> None:
            _operation("t.bad")(conn)
            raise ValueError("this unit fails")

        failing = gc.submit(bad)
        kept = [gc.submit(_operation("t.kept")) for _ in range(3)]
        gate.set()
        assert all(isinstance(f.result(10), int) for f in kept)
        with pytest.raises(ValueError, match="this unit fails"):
            failing.result(10)
        assert _count(svc, "t.kept") == 3
        assert _count(svc, "t.bad") == 0 and _count(svc, "t.cancelled") == 0
        # and the committer still works
        assert isinstance(gc.run(_operation("t.after")), int)
    finally:
        gate.set()
        gc.close()


def test_requests_on_an_event_loop_share_a_commit_and_a_cancelled_one_is_not_run(
        make_ledger: Callable[..., Service]) -> None:
    """`run_async`: each request gets its own outcome (a failing unit fails alone), the
    outcomes of a group reach the loop together, and a request cancelled before its
    group began is not run."""
    svc = make_ledger(CITY)
    gc = GroupCommit(svc.ledger.engine)
    gate, started = threading.Event(), threading.Event()
    try:
        held = gc.submit(lambda conn: (started.set(), gate.wait(10))[1])
        assert started.wait(10)  # the committer runs the held group: the rest queue up

        def bad(conn: Connection) -> None:
            _operation("t.loop.bad")(conn)
            raise ValueError("this unit fails")

        async def many() -> tuple[list[int], BaseException | None]:
            tasks = [asyncio.ensure_future(gc.run_async(_operation("t.loop")))
                     for _ in range(10)]
            gone = asyncio.ensure_future(gc.run_async(_operation("t.loop.cancelled")))
            failing = asyncio.ensure_future(gc.run_async(bad))
            await asyncio.sleep(0.05)  # every request is queued behind the held group
            gone.cancel()
            await asyncio.sleep(0.05)
            gate.set()
            seqs = list(await asyncio.gather(*tasks))
            try:
                await failing
            except ValueError as exc:
                return seqs, exc
            return seqs, None

        seqs, error = asyncio.run(many())
        assert held.result(10) is True
        assert isinstance(error, ValueError)
        assert len(set(seqs)) == 10 and _count(svc, "t.loop") == 10
        assert _count(svc, "t.loop.cancelled") == 0 and _count(svc, "t.loop.bad") == 0
        assert isinstance(gc.run(_operation("t.after")), int)
    finally:
        gate.set()
        gc.close()


def test_the_committer_keeps_its_connection_and_takes_a_fresh_one_after_a_failure(
        make_ledger: Callable[..., Service]) -> None:
    """The committer's groups share one connection (not one checked out per group);
    after a group fails — here its connection is lost — the next group runs on a new
    one, and nothing of the failed unit is committed."""
    svc = make_ledger(CITY)
    gc = GroupCommit(svc.ledger.engine)
    try:
        def driver(conn: Connection) -> int:
            return id(conn.connection.dbapi_connection)

        first, second = gc.run(driver), gc.run(driver)
        assert first == second  # one connection, kept from group to group

        def breaks(conn: Connection) -> None:
            _operation("t.broken")(conn)
            conn.invalidate()  # as when the server goes away mid-transaction
            raise ConnectionError("the connection is gone")

        # (run alone again, the unit's own transaction cannot roll back on the lost
        # connection either: SQLAlchemy says so)
        with pytest.raises((ConnectionError, PendingRollbackError)):
            gc.run(breaks)
        assert isinstance(gc.run(_operation("t.after")), int)
        assert gc.run(driver) != first  # a fresh connection
        assert _count(svc, "t.broken") == 0 and _count(svc, "t.after") == 1
    finally:
        gc.close()


def test_the_committers_wal_setting_stays_with_its_own_connection(
        make_ledger: Callable[..., Service]) -> None:
    """On SQLite the committer's connection checkpoints the WAL less often than SQLite's
    default; the setting never reaches the pool's other connections, not even after the
    committer's connection is dropped (a failure) or the committer closed."""
    svc = make_ledger(CITY)
    engine = svc.ledger.engine
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL has no such setting: nothing to hold

    def pages(conn: Connection) -> int:
        return int(conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())

    gc = GroupCommit(engine)
    try:
        assert gc.run(pages) == CHECKPOINT_PAGES != 1000

        def bad(conn: Connection) -> None:
            raise ValueError("this unit fails")

        with pytest.raises(ValueError):
            gc.run(bad)
        assert gc.run(pages) == CHECKPOINT_PAGES
    finally:
        gc.close()
    for _ in range(3):  # whichever of the pool's connections comes back
        with engine.connect() as conn:
            assert pages(conn) == 1000


def test_the_wal_is_checkpointed_by_a_thread_of_its_own(
        make_ledger: Callable[..., Service]) -> None:
    """On SQLite the committed frames are copied back into the database by the
    committer's checkpointer thread, not by the commit that crosses SQLite's threshold:
    after commits, the checkpointer has run and left no committed frame behind (a
    PASSIVE checkpoint asked afterwards finds every frame of the WAL copied already,
    and a write by another connection then starts the WAL over); close() stops it."""
    svc = make_ledger(CITY)
    engine = svc.ledger.engine
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL checkpoints on its own
    gc = GroupCommit(engine)
    checkpointer = gc._checkpointer
    assert checkpointer is not None and checkpointer.is_alive()
    try:
        for i in range(20):
            gc.run(_operation(f"checkpointed-{i}"))
        deadline = time.monotonic() + 10
        while gc.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert gc.checkpoints >= 1
        time.sleep(0.3)  # the checkpointer's last round, after the last commit
        with engine.connect() as conn:
            busy, frames, copied = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                "PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and frames == copied
    finally:
        gc.close()
    assert not checkpointer.is_alive()
    assert _count(svc, "checkpointed-7") == 1


def test_two_committers_on_one_database_both_commit_every_unit(
        make_ledger: Callable[..., Service], db_url: str) -> None:
    """Two servers' committers (two workers of `serve`, two processes) on one ledger: a
    group reads before it writes (a decision reads the ledger's committed clock), and on
    SQLite a transaction that read before another's commit cannot then write — it must
    take the write lock at its BEGIN, waiting its turn, rather than fail the group (and
    each of its units alone) with "database is locked"."""
    make_ledger(CITY).close()
    services = [Service.open(db_url), Service.open(db_url)]
    committers = [GroupCommit(svc.ledger.engine) for svc in services]
    failures: list[BaseException] = []

    def unit(conn: Connection) -> int:
        conn.execute(select(func.max(s.operations.c.seq))).scalar()  # a read first
        time.sleep(0.001)  # the other committer commits meanwhile
        return _operation("t.two")(conn)

    def worker(gc: GroupCommit) -> None:
        for _ in range(40):
            try:
                gc.run(unit)
            except BaseException as exc:  # counted, and reported below
                failures.append(exc)

    try:
        threads = [threading.Thread(target=worker, args=(gc,))
                   for gc in committers for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for gc in committers:
            gc.close()
    try:
        assert failures == []
        assert _count(services[0], "t.two") == 2 * 4 * 40
    finally:
        for svc in services:
            svc.close()


def test_a_group_kept_waiting_past_the_lock_timeout_fails_as_busy(
        make_ledger: Callable[..., Service], db_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Another writer holds SQLite's write lock longer than the lock timeout: the units
    waiting for it fail with the ledger's `database.busy` (answered 503 with
    Retry-After over HTTP), not the driver's error, and nothing of theirs is stored."""
    if not db_url.startswith("sqlite"):
        return  # PostgreSQL: decision logs take no lock another writer holds
    make_ledger(CITY).close()
    monkeypatch.setenv("SOCIALCREDIT_LOCK_TIMEOUT", "0.2")
    svc = Service.open(db_url)
    gc = GroupCommit(svc.ledger.engine)
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        with pytest.raises(LedgerError) as busy:
            gc.run(_operation("t.busy"))
        assert busy.value.code == "database.busy"
        holder.execute("ROLLBACK")
        assert gc.run(_operation("t.after")) > 0  # the lock let go: it commits
        assert _count(svc, "t.busy") == 0 and _count(svc, "t.after") == 1
    finally:
        holder.close()
        gc.close()
        svc.close()
