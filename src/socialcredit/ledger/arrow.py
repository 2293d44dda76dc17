"""Ledger columns straight into Arrow: what the batch engine reads from the database.

Reading a million records through the DB-API builds a million Python tuples and then
turns them back into columns; that was most of the time of `score --all` from a
database (several times the same run from a Parquet export). ADBC drivers hand Arrow
record batches over from C: ``adbc-driver-sqlite`` steps the SQLite statement in C,
``adbc-driver-postgresql`` reads PostgreSQL's binary COPY output. Without the drivers
(the `adbc` extra is not installed) the same tables are built from DB-API rows.

SQLite is read in a child process. The ADBC driver links its own copy of SQLite, and two
copies of SQLite in one process do not see each other's POSIX locks (closing one
copy's file descriptor drops the other's locks, as SQLite's documentation warns):
measured here, an ADBC connection opened beside the ledger's own kept reading a stale
snapshot and the next sqlite3 connection failed with "disk I/O error". A child is just
another reader of the database; it answers each query with an Arrow IPC stream on a
pipe (no copy of the data through Python objects), all of a run's queries inside one
read transaction, so they see one snapshot. connectorx bundles its own SQLite too.

SQLite has no column types, only values' types, and the ADBC driver infers a column's
Arrow type from its first rows: a nullable column that starts with NULLs would be
inferred as integers and fail at its first text or real value. So every query starts
with one row of typed values (``UNION ALL``), dropped after reading
(:func:`_typed_row`); the result has exactly the requested schema.

PostgreSQL is read in this process, inside one REPEATABLE READ transaction.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from sqlalchemy import Connection, Engine

from socialcredit.db import sqlite_path
from socialcredit.errors import LedgerError

#: A typed stand-in for NULL per Arrow type (SQLite: coalesce before the driver sees it).
_DEFAULTS = {pa.string(): "''", pa.float64(): "0.0", pa.int64(): "0"}


def available(dialect: str) -> bool:
    """Whether the ADBC driver for this database is installed."""
    module = {"sqlite": "adbc_driver_sqlite", "postgresql": "adbc_driver_postgresql"}.get(
        dialect)
    return module is not None and importlib.util.find_spec(module) is not None


def _typed_row(columns: Sequence[tuple[str, pa.DataType, bool]]) -> str:
    """A first row of typed values (dropped after reading): the ADBC driver infers each
    column's type from it, whatever NULLs the table's first rows hold."""
    return ", ".join(f"{_DEFAULTS[typ]} AS {name}" for name, typ, _ in columns)


class _Child:
    """One reader process (arrow_child.py) and its pipes."""

    def __init__(self, path: str) -> None:
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [sys.executable, "-P", str(Path(__file__).with_name("arrow_child.py")), path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.errors)
        # one slot per query sent and not yet read, in the order sent: answers come
        # back in that order, so taking a later one first reads the earlier ones into
        # their slots
        self.unread: deque[list[pa.Table]] = deque()
        # queries sent and not answered yet (ask's and send's)
        self.pending = 0

    def ask(self, sql: str, params: Sequence[Any]) -> Callable[[], pa.Table]:
        """Send a query; the returned function gives its answer (in any order)."""
        self.send(sql, params)
        slot: list[pa.Table] = []
        self.unread.append(slot)

        def answer() -> pa.Table:
            while not slot:
                self.unread[0].append(self.receive())
                self.unread.popleft()
            return slot[0]

        return answer

    def drain(self) -> None:
        """Read every pending answer into its slot: the child then waits on stdin, so a
        long query can be written without both ends blocked on full pipes."""
        while self.unread:
            self.unread[0].append(self.receive())
            self.unread.popleft()

    def send(self, sql: str, params: Sequence[Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"sql": sql, "params": list(params)}).encode()
                                  + b"\n")
            self.proc.stdin.flush()
        except OSError:  # the process has ended (its error, if any, is in its stderr)
            raise self._failed() from None
        self.pending += 1

    def receive(self) -> pa.Table:
        assert self.proc.stdout is not None
        try:
            got = pa.ipc.open_stream(self.proc.stdout).read_all()
        except (pa.ArrowInvalid, OSError):
            raise self._failed() from None
        self.pending -= 1
        return got

    def _failed(self) -> LedgerError:
        self.errors.seek(0)
        lines = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        return LedgerError("reading the ledger into Arrow failed: " + (
            lines[-1] if lines else "the reader process ended"))

    def hang_up(self) -> None:
        """Close the pipes: the child ends (see close); readers of several children hang
        up on all first, so they end at once rather than one after the other.

        A child with a query not yet answered (the caller stopped early: an error,
        Ctrl-C) is killed: it may be in the middle of a scan of the whole table, which
        it would finish before it noticed. It only reads, so nothing is left half
        done (SQLite releases a dead process's locks)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if self.pending and self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(OSError):  # an ended child: nothing more to tell it
            self.proc.stdin.close()
        self.proc.stdout.close()

    def close(self) -> None:
        """Hang up and wait for the process to end (at once: it has answered everything,
        or it was killed)."""
        self.hang_up()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.errors.close()


#: Reader processes started ahead of their reader (:func:`prestart`), by database path.
_SPARE: dict[str, list[_Child]] = {}
_SPARE_LOCK = threading.Lock()


def prestart(url: str) -> None:
    """Start the reader processes of a SQLite database before its reader is opened, so
    that they start while the caller still loads (imports, the ledger's opening, the
    rulebook): the next ArrowReader of that database takes them. Each opens its read
    transaction at its first query, so the snapshot is still the reader's. Processes
    never taken end when this process exits (or hangs up its pipes)."""
    path = sqlite_path(url)
    # no ledger there: opening it would create an empty database file
    if path is None or not path.is_file() or not available("sqlite"):
        return
    want = 2 if (os.cpu_count() or 1) >= 2 else 1
    with _SPARE_LOCK:
        if not _SPARE:
            atexit.register(_end_spares)
        spare = _SPARE.setdefault(str(path), [])
        while len(spare) < want:
            spare.append(_Child(str(path)))


@contextlib.contextmanager
def prestarted(url: str) -> Iterator[None]:
    """:func:`prestart` for the block's length: whatever of them the block's reader did
    not take (the command failed before it read, or read otherwise) ends with the
    block, not with the process — a process that runs many commands (a test suite, a
    notebook) would otherwise keep a pair of idle processes for every one."""
    prestart(url)
    try:
        yield
    finally:
        path = sqlite_path(url)
        if path is not None:
            with _SPARE_LOCK:
                left = _SPARE.pop(str(path), [])
            _end(left)


def _child(path: str) -> _Child:
    """A started reader process of `path`, or a new one."""
    with _SPARE_LOCK:
        spare = _SPARE.get(path)
        if spare:
            return spare.pop(0)
    return _Child(path)


def _end_spares() -> None:
    with _SPARE_LOCK:
        children = [c for spare in _SPARE.values() for c in spare]
        _SPARE.clear()
    _end(children)


def _end(children: list[_Child]) -> None:
    """End reader processes: every one hung up first, so they all exit at once, then
    each waited for."""
    for child in children:
        child.hang_up()
    for child in children:
        child.close()


class ArrowReader:
    """Arrow tables of ledger queries, over ADBC when the driver is there.

    `select(table, columns, where, params)`: `columns` are (name, Arrow type, nullable);
    `where` is SQL with `?` placeholders (PostgreSQL's `$1…` are substituted in order).

    On SQLite, with `split` (a table with an INTEGER PRIMARY KEY `seq`, append-only
    but for deletions), a second reader process scans the upper half of that table's
    seq range while the first scans the lower half: the scan, the larger part of
    reading, runs on two cores. Both halves are bounded by the table's max(seq) when
    the reader opened, so rows appended since are in neither; and both processes
    first count those rows in their snapshots — if a deletion (retention's erasure)
    committed between their snapshots the counts differ and the processes are started
    again (three times at most; then one process reads the rows up to the bound), so
    the halves always come from one state of the table. The processes are not waited
    for when the reader opens: their counts are read before its first query, and
    has_values is answered meanwhile in this process, in the snapshot in which the
    bound was read."""

    def __init__(self, engine: Engine, *, split: str | None = None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._adbc: Any = None
        self._children: list[_Child] = []
        self._split: tuple[str, int, int] | None = None
        self._conn: Connection | None = None
        # SQLite with split: the read transaction in which the halves' bound was read,
        # kept for has_values while the reader processes start (see _open_children)
        self._probe: Connection | None = None
        self._unchecked = False
        self._path = ""
        # the engine's scoring threads ask record ids while the caller reads the next
        # partition: one conversation with the reader at a time
        self._lock = threading.RLock()
        if not available(self.dialect):
            self._conn = engine.connect()
        elif self.dialect == "sqlite":
            path = sqlite_path(engine.url.render_as_string(hide_password=False))
            try:
                self._open_children(str(path) if path is not None else ":memory:", split)
            except BaseException:
                self.close()
                raise
        else:
            import adbc_driver_postgresql.dbapi as pg_adbc

            plain = engine.url.set(drivername="postgresql").render_as_string(
                hide_password=False)
            self._adbc = pg_adbc.connect(plain, autocommit=True)
            with self._adbc.cursor() as cur:
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def _open_children(self, path: str, split: str | None) -> None:
        """Start the reader processes without waiting for them: their check that both
        see the same rows is read before the first query (:meth:`_check`), and until
        then has_values asks this process's own snapshot, taken before theirs."""
        if split is None or (os.cpu_count() or 1) < 2:
            self._children = [_child(path)]
            return
        probe = self.engine.connect()
        self._probe = probe
        probe.begin()
        top = probe.exec_driver_sql(f"SELECT max(seq) FROM {split}").scalar()
        if top is None or int(top) < 2:
            self._close_probe()
            self._children = [_child(path)]
            return
        self._split = (split, int(top), (int(top) + 1) // 2)
        self._start_pair(path)

    def _start_pair(self, path: str) -> None:
        assert self._split is not None
        split, top, _ = self._split
        # rows up to top in each process's snapshot: every row there minus the rows
        # appended since (a short search by seq); the count of all rows is read from
        # an index's page counts, not by a scan of the table
        count = (f"SELECT (SELECT count(*) FROM {split}) - "
                 f"(SELECT count(*) FROM {split} WHERE seq > ?) AS n")
        self._children = [_child(path), _child(path)]
        for child in self._children:
            child.send(count, [top])
        self._path = path
        self._unchecked = True

    def _check(self) -> None:
        """Before the first query of a split reader: both processes counted the same
        rows up to the bound. A deletion (retention's erasure) committed between their
        snapshots makes the counts differ; the pair is started again (three times at
        most, then one process reads everything)."""
        if not self._unchecked:
            return
        self._unchecked = False
        self._close_probe()
        for attempt in range(3):
            seen = {child.receive().column("n")[0].as_py() for child in self._children}
            if len(seen) == 1:
                return
            self._close_children()
            if attempt < 2:
                self._start_pair(self._path)
                self._unchecked = False
        # one process, still bounded (has_values was answered up to the bound)
        self._children = [_child(self._path)]

    def _close_probe(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None

    def _close_children(self) -> None:
        _end(self._children)
        self._children = []

    def close(self) -> None:
        self._close_probe()
        if self._adbc is not None:
            with self._adbc.cursor() as cur:
                cur.execute("COMMIT")
            self._adbc.close()
            self._adbc = None
        self._close_children()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ArrowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def select(self, table: str, columns: Sequence[tuple[str, pa.DataType, bool]],
               where: str = "", params: Sequence[Any] = ()) -> pa.Table:
        return self.submit(table, columns, where, params)()

    def submit(self, table: str, columns: Sequence[tuple[str, pa.DataType, bool]],
               where: str = "", params: Sequence[Any] = ()) -> Callable[[], pa.Table]:
        """Start a query; the returned function gives its table. SQLite's reader
        processes run the query as soon as it is submitted, so a caller that submits
        the next partition before scoring this one reads and scores at once. Take
        results in the order the queries were submitted."""
        schema = pa.schema([(name, typ) for name, typ, _ in columns])
        clause = f" WHERE {where}" if where else ""
        if self._children:
            names = ", ".join(name for name, _, _ in columns)
            head = f"SELECT {_typed_row(columns)} UNION ALL SELECT {names} FROM {table}"
            with self._lock:
                self._check()
                if self._split is not None and table == self._split[0]:
                    _, top, mid = self._split
                    glue = " AND " if where else " WHERE "
                    if len(self._children) == 1:  # the pair never saw the same rows
                        parts = [self._children[0].ask(f"{head}{clause}{glue}seq <= ?",
                                                       [*params, top])]
                    else:
                        lower, upper = self._children
                        parts = [lower.ask(f"{head}{clause}{glue}seq < ?", [*params, mid]),
                                 upper.ask(f"{head}{clause}{glue}seq >= ? AND seq <= ?",
                                           [*params, mid, top])]
                else:
                    parts = [self._children[0].ask(f"{head}{clause}", params)]

            def result() -> pa.Table:
                with self._lock:
                    got = pa.concat_tables([part().slice(1) for part in parts])
                return got.cast(schema) if got.schema != schema else got

            return result
        if self._adbc is not None:
            n = 0

            def number(_: Any) -> str:
                nonlocal n
                n += 1
                return f"${n}"

            sql = (f"SELECT {', '.join(name for name, _, _ in columns)} FROM {table}"
                   + re.sub(r"\?", number, clause))
            with self._lock, self._adbc.cursor() as cur:
                cur.execute(sql, tuple(params) if params else None)
                got = cur.fetch_arrow_table()
            done = got.cast(schema) if got.schema != schema else got
            return lambda: done
        with self._lock:
            done = self._dbapi(table, schema, where, params)
        return lambda: done

    def by_seq(self, table: str, column: tuple[str, pa.DataType, bool],
               seqs: npt.NDArray[np.int64]) -> pa.Array:
        """`column` of the rows of `table` whose seq is in `seqs`, in that order, read in
        this reader's snapshot (the one its other queries read). On SQLite with `split`
        each seq is asked of the process that read its half. For a few rows of a large
        read: the column need not be read for every row."""
        with self._lock:
            self._check()
            return self._by_seq(table, column, seqs)

    def _by_seq(self, table: str, column: tuple[str, pa.DataType, bool],
                seqs: npt.NDArray[np.int64]) -> pa.Array:
        name, typ, _ = column
        want = np.asarray(seqs, np.int64)
        if not len(want):
            return pa.array([], typ)
        keys = np.unique(want)
        cols = [("seq", pa.int64(), False), column]
        parts: list[pa.Table] = []
        if self._children:
            groups: list[tuple[_Child, npt.NDArray[np.int64]]]
            if (self._split is not None and table == self._split[0]
                    and len(self._children) == 2):
                mid = self._split[2]
                lower, upper = self._children
                groups = [(lower, keys[keys < mid]), (upper, keys[keys >= mid])]
            else:
                groups = [(self._children[0], keys)]
            head = f"SELECT {_typed_row(cols)} UNION ALL SELECT seq, {name} FROM {table}"
            for child, ks in groups:
                if not len(ks):
                    continue
                child.drain()
                parts.append(child.ask(
                    f"{head} WHERE seq IN (SELECT value FROM json_each(?))",
                    [json.dumps(ks.tolist())])().slice(1))
        elif self._adbc is not None:
            with self._adbc.cursor() as cur:
                cur.execute(f"SELECT seq, {name} FROM {table} "
                            "WHERE seq = ANY(string_to_array($1, ',')::bigint[])",
                            (",".join(map(str, keys.tolist())),))
                parts.append(cur.fetch_arrow_table())
        else:
            schema = pa.schema([("seq", pa.int64()), (name, typ)])
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500].tolist()
                marks = ", ".join(["?"] * len(chunk))
                parts.append(self._dbapi(table, schema, f"seq IN ({marks})", chunk))
        got = pa.concat_tables([p.select([0, 1]).rename_columns(["seq", name])
                                .cast(pa.schema([("seq", pa.int64()), (name, typ)]))
                                for p in parts])
        have = got.column("seq").to_numpy()
        order = np.argsort(have, kind="stable")
        # seq is the key: as many rows as distinct seqs asked means each was found
        if len(have) != len(keys) or not np.array_equal(have[order], keys):
            raise LedgerError(f"{table}: rows asked by seq are not in the reader's snapshot")
        at = np.searchsorted(keys, want)
        return got.column(name).combine_chunks().take(pa.array(order[at]))

    def has_values(self, table: str, names: Sequence[str]) -> set[str]:
        """The columns among `names` that hold a value in some row of `table`, in this
        reader's snapshot (one query: an EXISTS per column stops at its first value)."""
        with self._lock:
            return self._has_values(table, names)

    def _has_values(self, table: str, names: Sequence[str]) -> set[str]:
        if not names:
            return set()
        if self._probe is not None and self._split is not None and table == self._split[0]:
            # the reader processes are starting: asked in the snapshot in which their
            # bound was read (no row beyond it there), taken before theirs. Up to the
            # bound the table only loses rows, so a column empty here is empty there
            sql = "SELECT " + ", ".join(
                f"EXISTS (SELECT 1 FROM {table} WHERE {n} IS NOT NULL)" for n in names)
            row = self._probe.exec_driver_sql(sql).one()
            return {n for n, has in zip(names, row, strict=True) if has}
        probes = [(f"EXISTS (SELECT 1 FROM {table} WHERE {n} IS NOT NULL)", n)
                  for n in names]
        self._check()
        if self._children:
            child = self._children[0]
            child.drain()
            got = child.ask("SELECT " + ", ".join(f"{e} AS {n}" for e, n in probes), [])()
        elif self._adbc is not None:
            with self._adbc.cursor() as cur:
                cur.execute("SELECT " + ", ".join(f"({e})::int AS {n}" for e, n in probes))
                got = cur.fetch_arrow_table()
        else:
            return set(names)
        row = got.to_pylist()[0]
        return {n for n in names if row[n]}

    def _dbapi(self, table: str, schema: pa.Schema, where: str, params: Sequence[Any]
               ) -> pa.Table:
        """The fallback: DB-API rows into columns (what ADBC avoids)."""
        assert self._conn is not None
        mark = "?" if self._conn.dialect.paramstyle == "qmark" else "%s"
        clause = f" WHERE {where.replace('?', mark)}" if where else ""
        rows = self._conn.exec_driver_sql(
            f"SELECT {', '.join(schema.names)} FROM {table}{clause}", tuple(params)).fetchall()
        cols: list[Sequence[object]] = (list(zip(*rows, strict=True)) if rows
                                        else [() for _ in schema.names])
        return pa.table({f.name: pa.array(list(c), f.type) for f, c in zip(schema, cols,
                                                                          strict=True)},
                        schema=schema)


__all__ = ["ArrowReader", "available", "prestart", "prestarted"]
