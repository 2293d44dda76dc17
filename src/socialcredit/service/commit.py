"""Group commit: many small write transactions from concurrent requests committed as one.

A decision is acknowledged once its log row is committed, and every commit waits for the
disk (SQLite's synchronous=FULL, PostgreSQL's fsync of the WAL). One commit per decision
caps a server at the disk's flush rate; a committer thread that takes every unit of work
waiting, runs them in one transaction and commits once acknowledges them all for the
price of one flush. While one commit is on its way to the disk, the next units queue up,
so the batch grows with the load and is one unit when idle. The one wait on purpose is
short and bounded (`max_wait`, see `_take`): the next group waits for the callers the last
one just acknowledged, so a steady stream shares one flush; a lone caller never waits.

The log rows units append (decisions/log.py, dueprocess/access.py: `db.append`) are
gathered and written with one driver-level executemany per table just before the commit:
a decision's rows cost an executemany entry, not a compiled statement each.

Each unit is a function of the connection; a unit that raises rolls its batch back, and
the batch is then run again one unit per transaction, so that one bad unit fails alone
(units must therefore be safe to run again: decisions build their rows inside the unit).

Units come from threads (`run`, which blocks) or from an event loop (`run_async`, which
the request awaits: the HTTP server's decisions, so that every request in flight can wait
on the same commit without holding a thread each; the groups then grow with the number
of requests in flight rather than with the threadpool's size). A group hands its outcomes
back at once: a lock let go wakes each of its threads, one call per event loop settles
its requests (a future and a wake-up per unit cost the committer more than the unit's
rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, Engine, RootTransaction
from sqlalchemy.exc import OperationalError

from socialcredit.db import IMMEDIATE, gathering_appends
from socialcredit.ledger.store import busy, busy_error

T = TypeVar("T")
Unit = Callable[[Connection], Any]


class _Group:
    """The units one transaction commits and their outcomes. A thread waiting on the
    group blocks on a lock of its own, which the committer lets go once the group is
    committed — not a future and a condition per unit (with dozens of deciders a
    commit's hand-back was a large share of its work), nor one event for all: woken
    together, the waiters of an event then queued on its condition's one lock."""

    __slots__ = ("failed", "futures", "loops", "outcomes", "units", "waiters")

    def __init__(self) -> None:
        self.units: list[Unit | None] = []  # None: cancelled before the group began
        # a unit's waiter when not a thread blocked on `done`: a concurrent future
        # (`submit`) or an event loop's future (`run_async`), by index
        self.futures: dict[int, Future[Any]] = {}
        self.loops: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self.outcomes: list[Any] = []
        self.failed: list[bool] = []
        #: a lock per thread waiting in `run`, held until the group is committed
        self.waiters: list[threading.Lock] = []

    def add(self, unit: Unit) -> int:
        self.units.append(unit)
        return len(self.units) - 1

    def outcome(self, i: int) -> Any:
        if self.failed[i]:
            raise self.outcomes[i]
        return self.outcomes[i]


#: WAL pages after which the committer's SQLite connection checkpoints in its own commit
#: (`_connect`): a bound should the checkpointer (`_checkpoints`) fall behind
CHECKPOINT_PAGES = 10_000
#: at most how often (s) the checkpointer thread copies the WAL back into the database.
#: Often, so each copy is small: a copy's writes and its flush of the database file
#: compete with the commits' flushes of the WAL for the one disk, and a long one stalled
#: the commits behind it — every 0.1 s, 0.4 % of a 1M-subject server's group commits
#: took 20-145 ms (the decisions' p99 over HTTP 34-56 ms); every 5 ms, none took over
#: 13 ms and the p99 was 7-10 ms (BENCHMARKS.md, "the WAL checkpoint")
CHECKPOINT_EVERY = 0.005


def _dropped(conn: Connection | None) -> None:
    """Discard the committer's connection (not back to the pool: it keeps the
    committer's own settings, and after a failure it is not trusted)."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.invalidate()
        with contextlib.suppress(Exception):
            conn.close()
    return None


def _begin(conn: Connection) -> RootTransaction:
    """A group's transaction. On SQLite it takes the database's write lock at BEGIN
    (BEGIN IMMEDIATE, waiting its turn under the busy timeout): a group reads before it
    writes (a decision, the ledger's committed clock), and a deferred transaction whose
    read began before another connection's commit — another worker's committer — cannot
    then write: SQLite refuses it at once ("database is locked"), whatever the timeout,
    and the group, then each of its units alone, failed."""
    if conn.dialect.name == "sqlite":
        conn.info[IMMEDIATE] = True
    return conn.begin()


def _settle(waiting: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    """On an event loop: hand a group's outcomes to the requests awaiting them."""
    for fut, failed, value in waiting:
        if fut.cancelled():
            continue
        if failed:
            fut.set_exception(value)
        else:
            fut.set_result(value)


class GroupCommit:
    def __init__(self, engine: Engine, max_batch: int = 512, max_wait: float = 0.002
                 ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        #: how long (s) a group may wait for the callers its predecessor just woke (see
        #: `_take`); at most half the last commit's time; 0: never
        self.max_wait = max_wait
        self._queue: deque[_Group] = deque()  # every group but the last is full
        # a caller queues its unit holding the plain lock (`with self._lock`: no
        # Condition.__enter__ frame per request); waits and wake-ups go through `_ready`
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._closed = False
        self._expect = 0  # units the next group may wait for
        self._wanted = 0  # what the committer waits for now (0: nothing)
        self._last_commit = 0.0
        self.batches = 0  # statistics, for tests and benchmarks
        self.units = 0
        self._thread = threading.Thread(target=self._run, name="socialcredit-group-commit",
                                        daemon=True)
        #: set after a commit on SQLite: WAL frames for the checkpointer to copy back
        self._written: threading.Event | None = None
        self._checkpointer: threading.Thread | None = None
        self.checkpoints = 0  # statistics, for tests
        if engine.dialect.name == "sqlite":
            self._written = threading.Event()
            self._checkpointer = threading.Thread(
                target=self._checkpoints, name="socialcredit-checkpoint", daemon=True)
            self._checkpointer.start()
        self._thread.start()

    def _add(self, unit: Unit) -> tuple[_Group, int]:
        """Queue `unit` in the group now gathering (the caller holds `_lock`)."""
        if self._closed:
            raise RuntimeError("the group committer is closed")
        q = self._queue
        if not q or len(q[-1].units) >= self.max_batch:
            q.append(_Group())
            self._ready.notify()
        g = q[-1]
        i = g.add(unit)
        if self._wanted and self._queued() >= self._wanted:
            self._ready.notify()
        return g, i

    def _queued(self) -> int:
        q = self._queue
        return len(q[0].units) if len(q) == 1 else sum(len(g.units) for g in q)

    def run(self, unit: Callable[[Connection], T]) -> T:
        """Run `unit` in a transaction shared with whatever else is waiting; return its
        result once that transaction is committed (or raise what it raised)."""
        waiter = threading.Lock()
        waiter.acquire()
        with self._lock:
            g, i = self._add(unit)
            g.waiters.append(waiter)
        waiter.acquire()  # let go by `_hand_back`
        return cast(T, g.outcome(i))

    def submit(self, unit: Callable[[Connection], T]) -> Future[T]:
        """Queue `unit` for the next group; the future is done once its transaction is
        committed (its result the unit's), or with what the unit raised. A future
        cancelled before its group began is not run."""
        f: Future[T] = Future()
        with self._lock:
            g, i = self._add(unit)
            g.futures[i] = f
        return f

    def run_async(self, unit: Callable[[Connection], T]) -> asyncio.Future[T]:
        """`run` for a caller on an event loop (call it there): the future to await, done
        once the group's commit is; no thread is held meanwhile. A group's outcomes reach
        each loop in one call, not one per unit; a request cancelled before its group
        began is not run. A future, not a coroutine: awaiting it costs no frame."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        with self._lock:
            g, i = self._add(unit)
            g.loops[i] = (loop, fut)
        return fut

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(5)
        if self._written is not None and self._checkpointer is not None:
            self._written.set()
            self._checkpointer.join(5)

    def _checkpoints(self) -> None:
        """SQLite: copy committed WAL frames back into the database on a thread of its
        own, a PASSIVE checkpoint (it waits for no reader or writer) at most every
        CHECKPOINT_EVERY seconds while commits come. Left to the committer's commits
        (SQLite's auto-checkpoint), a checkpoint's copying and its flush of the database
        file stalled the group that crossed the threshold and every request waiting on
        it: the decisions' p99 over HTTP. Here the committer goes on appending to the
        WAL meanwhile (the driver lets go of the GIL while SQLite works); its own
        auto-checkpoint, at CHECKPOINT_PAGES, only bounds the WAL should this fall
        behind. A failed checkpoint is tried again after the next commit."""
        written = self._written
        assert written is not None
        while True:
            written.wait()
            if self._closed and not self._thread.is_alive():
                return
            written.clear()
            with contextlib.suppress(Exception), self.engine.connect() as conn:
                conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            time.sleep(CHECKPOINT_EVERY)

    def _take(self) -> _Group | None:
        """The next group. Deciders come back: a caller acknowledged by the last commit
        submits its next unit a moment later, and if the next group began without it,
        it would wait for that group's whole flush and the one after. So while the last
        group's callers and those already queued have not all arrived, the committer
        waits for them — at most `max_wait`, and at most half the last commit's time:
        groups keep every caller in flight instead of splitting them into two that
        alternate. A lone caller (one unit expected) never waits."""
        with self._ready:
            while not self._queue and not self._closed:
                self._ready.wait()
            if not self._queue:
                return None
            want = min(self._expect, self.max_batch)
            wait = min(self.max_wait, self._last_commit / 2)
            if want > 1 and wait > 0 and self._queued() < want:
                deadline = time.monotonic() + wait
                self._wanted = want
                try:
                    while not self._closed and self._queued() < want:
                        left = deadline - time.monotonic()
                        if left <= 0:
                            break
                        self._ready.wait(left)
                finally:
                    self._wanted = 0
            g = self._queue.popleft()
        # a unit whose request was cancelled before its group began (the client went
        # away) is dropped; once running, its future can no longer be cancelled
        for i, f in g.futures.items():
            if not f.set_running_or_notify_cancel():
                g.units[i] = None
        for i, (_, fut) in g.loops.items():
            if fut.cancelled():
                g.units[i] = None
        return g

    def _run(self) -> None:
        # the committer's own connection, kept from group to group: checking one out of
        # the pool and back in (with its reset) per group cost more than a group of a
        # few deciders' rows. Any failure drops it (a connection that failed is not
        # trusted again: the next group takes a fresh one, as `_alone` does)
        conn: Connection | None = None
        try:
            while True:
                g = self._take()
                if g is None:
                    return  # closed and drained
                units = g.units
                self.batches += 1
                self.units += len(units)
                began = time.monotonic()
                try:
                    if conn is None:
                        conn = self._connect()
                    with _begin(conn), gathering_appends(conn):
                        g.outcomes = [u(conn) if u is not None else None for u in units]
                    g.failed = [False] * len(units)
                except BaseException:
                    _dropped(conn)
                    conn = None
                    g.outcomes, g.failed = [], []
                    for u in units:
                        self._alone(g, u)
                self._last_commit = time.monotonic() - began
                if self._written is not None:
                    self._written.set()
                with self._ready:  # this group's callers, and everyone queued meanwhile
                    self._expect = len(units) + self._queued()
                self._hand_back(g)
        finally:
            _dropped(conn)

    def _connect(self) -> Connection:
        """The committer's connection. On SQLite it checkpoints the WAL after
        `CHECKPOINT_PAGES` pages rather than SQLite's 1,000: a group's index inserts
        dirty a leaf page each at random, and each commit writes every dirty page to the
        WAL, but a checkpoint copies each page once however often it was written since
        the last — with 256 decisions a commit, checkpoints at 1,000 pages came every
        other commit. (Another connection's commit still checkpoints at its own
        threshold.) The setting stays with this connection: `_dropped` discards it,
        never hands it back to the pool."""
        conn = self.engine.connect()
        if conn.dialect.name == "sqlite":
            conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                f"PRAGMA wal_autocheckpoint={CHECKPOINT_PAGES}")
        return conn

    def _alone(self, g: _Group, unit: Unit | None) -> None:
        """Run one unit of a group that failed in a transaction of its own."""
        if unit is None:
            g.outcomes.append(None)
            g.failed.append(False)
            return
        try:
            with self.engine.connect() as conn, _begin(conn), gathering_appends(conn):
                result = unit(conn)
        except BaseException as exc:
            if isinstance(exc, OperationalError) and busy(exc):
                exc = busy_error()  # another writer held the lock past the timeout
            g.outcomes.append(exc)
            g.failed.append(True)
            return
        g.outcomes.append(result)
        g.failed.append(False)

    @staticmethod
    def _hand_back(g: _Group) -> None:
        for i, f in g.futures.items():
            if g.units[i] is None:
                continue
            if g.failed[i]:
                f.set_exception(g.outcomes[i])
            else:
                f.set_result(g.outcomes[i])
        by_loop: dict[asyncio.AbstractEventLoop,
                      list[tuple[asyncio.Future[Any], bool, Any]]] = {}
        for i, (loop, fut) in g.loops.items():
            by_loop.setdefault(loop, []).append((fut, g.failed[i], g.outcomes[i]))
        for loop, waiting in by_loop.items():
            # a closed loop raises RuntimeError: nobody is waiting there any more
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, waiting)
        for waiter in g.waiters:
            waiter.release()


__all__ = ["GroupCommit"]
