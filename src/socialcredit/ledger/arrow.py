"""Ledger columns straight into Arrow: what the batch engine reads from the database.

Reading a million records through the DB-API builds a million Python tuples and then
turns them back into columns; that was most of the time of `score --all` from a
database (several times the same run from a Parquet export). ADBC drivers hand Arrow
record batches over from C: ``adbc-driver-sqlite`` steps the SQLite statement in C,
``adbc-driver-postgresql`` reads PostgreSQL's binary COPY output. Measured against
connectorx and the DB-API (BENCHMARKS.md), ADBC was the fastest on SQLite and on par on
PostgreSQL, and it takes bound parameters. Without the drivers (the `adbc` extra is
not installed) the same tables are built from DB-API rows.

SQLite has no column types, only values' types, and the ADBC driver infers a column's
Arrow type from its first rows: a nullable column that starts with NULLs would be
inferred as integers and fail at its first text or real value. So nullable columns are
read through ``coalesce`` with a typed default plus a null flag, and the nulls are put
back in Arrow (:func:`_nullable_select`); the result has exactly the requested schema.

Snapshot: the reader opens its own connection. On SQLite it reads inside one
transaction (BEGIN; every query sees the same snapshot until `close`); on PostgreSQL
inside one REPEATABLE READ transaction.
"""

from __future__ import annotations

import importlib.util
import re
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
    `where` is driver-level SQL with `?` placeholders (SQLite) — PostgreSQL's `$1…` are
    substituted in order."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._adbc: Any = None
        self._conn: Connection | None = None
        if available(self.dialect):
            self._adbc = self._open_adbc()
        else:
            self._conn = engine.connect()

    def _open_adbc(self) -> Any:
        url = self.engine.url
        if self.dialect == "sqlite":
            import adbc_driver_sqlite.dbapi as sqlite_adbc

            path = sqlite_path(url.render_as_string(hide_password=False))
            conn = sqlite_adbc.connect(str(path) if path is not None else ":memory:",
                                       autocommit=False)
            return conn
        import adbc_driver_postgresql.dbapi as pg_adbc

        plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = pg_adbc.connect(plain, autocommit=True)
        with conn.cursor() as cur:
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return conn

    def close(self) -> None:
        if self._adbc is not None:
            if self.dialect == "postgresql":
                with self._adbc.cursor() as cur:
                    cur.execute("COMMIT")
            self._adbc.close()
            self._adbc = None
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
        if self._adbc is None:
            return self._dbapi(table, schema, where, params)
        clause = f" WHERE {where}" if where else ""
        if self.dialect == "postgresql":
            n = 0

            def number(_: Any) -> str:
                nonlocal n
                n += 1
                return f"${n}"

            clause = re.sub(r"\?", number, clause)
            sql = f"SELECT {', '.join(name for name, _, _ in columns)} FROM {table}{clause}"
            with self._adbc.cursor() as cur:
                cur.execute(sql, tuple(params) if params else None)
                got = cur.fetch_arrow_table()
            return got.cast(schema) if got.schema != schema else got
        sql = f"SELECT {_nullable_select(columns)} FROM {table}{clause}"
        with self._adbc.cursor() as cur:
            cur.execute(sql, tuple(params) if params else None)
            got = cur.fetch_arrow_table()
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


__all__ = ["ArrowReader", "available"]
