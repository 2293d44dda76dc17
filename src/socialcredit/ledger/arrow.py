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
inferred as integers and fail at its first text or real value. So nullable columns are
read through ``coalesce`` with a typed default plus a null flag, and the nulls are put
back in Arrow (:func:`_restore`); the result has exactly the requested schema.

PostgreSQL is read in this process, inside one REPEATABLE READ transaction.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, Engine

from socialcredit.db import sqlite_path

#: A typed stand-in for NULL per Arrow type (SQLite: coalesce before the driver sees it).
_DEFAULTS = {pa.string(): "''", pa.float64(): "0.0", pa.int64(): "0"}


def available(dialect: str) -> bool:
    """Whether the ADBC driver for this database is installed."""
    module = {"sqlite": "adbc_driver_sqlite", "postgresql": "adbc_driver_postgresql"}.get(
        dialect)
    return module is not None and importlib.util.find_spec(module) is not None


def _restore(got: pa.Table, columns: Sequence[tuple[str, pa.DataType, bool]],
             schema: pa.Schema) -> pa.Table:
    """The requested columns from a `_nullable_select` result: types cast, nulls back."""
    out = []
    for name, typ, nullable in columns:
        if got.num_rows == 0:
            out.append(pa.array([], typ))
            continue
        col = got.column(name)
        if col.type != typ:
            col = col.cast(typ)
        if nullable:
            flag = got.column(f"{name}__null").cast(pa.bool_())
            col = pc.if_else(flag, pa.scalar(None, typ), col)
        out.append(col)
    return pa.table(out, schema=schema)


def _nullable_select(columns: Sequence[tuple[str, pa.DataType, bool]]) -> str:
    """The select list: nullable columns as coalesce(col, default) plus `col IS NULL`."""
    out = []
    for name, typ, nullable in columns:
        if nullable:
            out.append(f"coalesce({name}, {_DEFAULTS[typ]}) AS {name}")
            out.append(f"({name} IS NULL) AS {name}__null")
        else:
            out.append(name)
    return ", ".join(out)


class ArrowReader:
    """Arrow tables of ledger queries, over ADBC when the driver is there.

    `select(table, columns, where, params)`: `columns` are (name, Arrow type, nullable);
    `where` is SQL with `?` placeholders (PostgreSQL's `$1…` are substituted in order)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._adbc: Any = None
        self._child: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        if not available(self.dialect):
            self._conn = engine.connect()
        elif self.dialect == "sqlite":
            path = sqlite_path(engine.url.render_as_string(hide_password=False))
            self._child = subprocess.Popen(
                [sys.executable, "-m", "socialcredit.ledger.arrow",
                 str(path) if path is not None else ":memory:"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        else:
            import adbc_driver_postgresql.dbapi as pg_adbc

            plain = engine.url.set(drivername="postgresql").render_as_string(
                hide_password=False)
            self._adbc = pg_adbc.connect(plain, autocommit=True)
            with self._adbc.cursor() as cur:
                cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def close(self) -> None:
        if self._adbc is not None:
            with self._adbc.cursor() as cur:
                cur.execute("COMMIT")
            self._adbc.close()
            self._adbc = None
        if self._child is not None:
            assert self._child.stdin is not None
            self._child.stdin.close()
            self._child.wait()
            self._child = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ArrowReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def select(self, table: str, columns: Sequence[tuple[str, pa.DataType, bool]],
               where: str = "", params: Sequence[Any] = ()) -> pa.Table:
        schema = pa.schema([(name, typ) for name, typ, _ in columns])
        clause = f" WHERE {where}" if where else ""
        if self._child is not None:
            assert self._child.stdin is not None and self._child.stdout is not None
            sql = f"SELECT {_nullable_select(columns)} FROM {table}{clause}"
            self._child.stdin.write(json.dumps({"sql": sql, "params": list(params)}).encode()
                                    + b"\n")
            self._child.stdin.flush()
            got = pa.ipc.open_stream(self._child.stdout).read_all()
            return _restore(got, columns, schema)
        if self._adbc is not None:
            n = 0

            def number(_: Any) -> str:
                nonlocal n
                n += 1
                return f"${n}"

            sql = (f"SELECT {', '.join(name for name, _, _ in columns)} FROM {table}"
                   + re.sub(r"\?", number, clause))
            with self._adbc.cursor() as cur:
                cur.execute(sql, tuple(params) if params else None)
                got = cur.fetch_arrow_table()
            return got.cast(schema) if got.schema != schema else got
        return self._dbapi(table, schema, where, params)

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


def serve(path: str) -> None:
    """The child: one read transaction; per JSON line on stdin (sql, params), an Arrow
    IPC stream of the result on stdout."""
    import adbc_driver_sqlite.dbapi as sqlite_adbc

    out = sys.stdout.buffer
    with sqlite_adbc.connect(path, autocommit=False) as conn:
        for line in sys.stdin.buffer:
            query = json.loads(line)
            with conn.cursor() as cur:
                cur.execute(query["sql"], tuple(query["params"]) or None)
                reader = cur.fetch_record_batch()
                with pa.ipc.new_stream(out, reader.schema) as writer:
                    for batch in reader:
                        writer.write_batch(batch)
            out.flush()


__all__ = ["ArrowReader", "available", "serve"]

if __name__ == "__main__":
    serve(sys.argv[1])
