"""Group commit: many small write transactions from concurrent requests committed as one.

A decision is acknowledged once its log row is committed, and every commit waits for the
disk (SQLite's synchronous=FULL, PostgreSQL's fsync of the WAL). One commit per decision
caps a server at the disk's flush rate; a committer thread that takes every unit of work
waiting, runs them in one transaction and commits once acknowledges them all for the
price of one flush. Nothing waits on purpose: while one commit is on its way to the disk,
the next units queue up, so the batch grows with the load and is one unit when idle.

The log rows units append (decisions/log.py, dueprocess/access.py: `db.append`) are
gathered and written with one statement per table just before the commit: a decision's
rows cost an executemany entry, not a compiled statement each.

Each unit is a function of the connection; a unit that raises rolls its batch back, and
the batch is then run again one unit per transaction, so that one bad unit fails alone
(units must therefore be safe to run again: decisions build their rows inside the unit).

Units come from threads (`run`, which blocks) or from an event loop (`submit` returns a
future the request awaits: the HTTP server's decisions, so that every request in flight
can wait on the same commit without holding a thread each; the groups then grow with
the number of requests in flight rather than with the threadpool's size).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

from socialcredit.db import gathering_appends

T = TypeVar("T")
Unit = Callable[[Connection], Any]


class _Pending:
    __slots__ = ("future", "unit")

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.future: Future[Any] = Future()


class GroupCommit:
    def __init__(self, engine: Engine, max_batch: int = 512) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: deque[_Pending] = deque()
        self._ready = threading.Condition()
        self._closed = False
        self.batches = 0  # statistics, for tests and benchmarks
        self.units = 0
        self._thread = threading.Thread(target=self._run, name="socialcredit-group-commit",
                                        daemon=True)
        self._thread.start()

    def run(self, unit: Callable[[Connection], T]) -> T:
        """Run `unit` in a transaction shared with whatever else is waiting; return its
        result once that transaction is committed (or raise what it raised)."""
        return self.submit(unit).result()

    def submit(self, unit: Callable[[Connection], T]) -> Future[T]:
        """Queue `unit` for the next group; the future is done once its transaction is
        committed (its result the unit's), or with what the unit raised."""
        p = _Pending(unit)
        with self._ready:
            if self._closed:
                raise RuntimeError("the group committer is closed")
            self._queue.append(p)
            self._ready.notify()
        return p.future

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
        self._thread.join(5)

    def _take(self) -> list[_Pending]:
        with self._ready:
            while not self._queue and not self._closed:
                self._ready.wait()
            batch: list[_Pending] = []
            while self._queue and len(batch) < self.max_batch:
                p = self._queue.popleft()
                # a unit whose request was cancelled before its group began (the client
                # went away) is dropped; once running, its future can no longer be
                # cancelled, so setting its outcome below cannot fail
                if p.future.set_running_or_notify_cancel():
                    batch.append(p)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if not batch:
                if self._closed and not self._queue:
                    return  # closed and drained
                continue
            self.batches += 1
            self.units += len(batch)
            try:
                with self.engine.begin() as conn, gathering_appends(conn):
                    results = [p.unit(conn) for p in batch]
            except BaseException:
                if len(batch) == 1:
                    self._alone(batch[0])
                else:
                    for p in batch:
                        self._alone(p)
                continue
            for p, r in zip(batch, results, strict=True):
                p.future.set_result(r)

    def _alone(self, p: _Pending) -> None:
        try:
            with self.engine.begin() as conn, gathering_appends(conn):
                result = p.unit(conn)
        except BaseException as exc:
            p.future.set_exception(exc)
            return
        p.future.set_result(result)


__all__ = ["GroupCommit"]
