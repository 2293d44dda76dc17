"""Database URLs and engines: SQLite (WAL, synchronous=FULL, files 0600) embedded by
default, PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event

from socialcredit.errors import UsageError, redact_text, redact_url

__all__ = ["DEFAULT_DB", "SYNCHRONOUS", "SYNCHRONOUS_ENV", "append", "append_row",
           "gathering_appends", "in_keys", "is_sqlite",
           "make_engine", "mark", "memo", "redact_text", "redact_url", "resolve_db_url",
           "restrict_sqlite_files", "sqlite_path", "sqlite_synchronous"]

DEFAULT_DB = "./socialcredit.db"


def resolve_db_url(db: str | None = None) -> str:
    """`--db` wins, then `$SOCIALCREDIT_DB`, then ./socialcredit.db.

    A bare path means a SQLite file; anything with `://` is a SQLAlchemy URL
    (`postgresql://` is mapped to the psycopg 3 driver).
    """
    value = db or os.environ.get("SOCIALCREDIT_DB") or DEFAULT_DB
    if "://" not in value:
        return f"sqlite:///{Path(value)}"
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        return "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    if not is_sqlite(url):
        return None
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    return Path(rest) if rest and rest != ":memory:" else None


SYNCHRONOUS_ENV = "SOCIALCREDIT_SQLITE_SYNCHRONOUS"
SYNCHRONOUS = ("full", "normal", "extra")


def sqlite_synchronous(url: str) -> tuple[str, str]:
    """(URL without our parameter, synchronous level) for a SQLite ledger.

    FULL by default: in WAL mode every commit then waits for the WAL to reach the disk,
    so an acknowledged ingest survives a power cut. NORMAL (faster for many small
    transactions, but the last commits may be lost on power loss, never corrupted) is
    an explicit choice: `?synchronous=normal` on the URL or $SOCIALCREDIT_SQLITE_SYNCHRONOUS.
    """
    level = os.environ.get(SYNCHRONOUS_ENV, "full")
    base, _, query = url.partition("?")
    kept = []
    for part in query.split("&") if query else []:
        key, _, value = part.partition("=")
        if key == "synchronous":
            level = value
        else:
            kept.append(part)
    level = level.strip().lower()
    if level not in SYNCHRONOUS:
        raise UsageError(f"SQLite synchronous={level!r}: choose one of {', '.join(SYNCHRONOUS)}")
    return base + ("?" + "&".join(kept) if kept else ""), level


def _create_private(path: Path) -> None:
    """Create an empty database file readable by its owner only (SQLite gives its -wal and
    -shm files the database file's mode)."""
    if path.exists():
        return
    # FileExistsError: created meanwhile by another process; FileNotFoundError (no such
    # directory) and the like: SQLite reports them in its own words when it connects
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def restrict_sqlite_files(url: str) -> None:
    """Make an existing SQLite ledger's files private (0600): `db upgrade` does this for
    files created by releases that left them world-readable."""
    path = sqlite_path(url)
    if path is None:
        return
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if p.exists():
            os.chmod(p, 0o600)


#: Set on a connection's info before it begins: that transaction writes, and on SQLite
#: takes the database's write lock at BEGIN (BEGIN IMMEDIATE) rather than at its first
#: write, so that everything it reads — the ledger's clock first — is read under the lock.
IMMEDIATE = "socialcredit.immediate"


def lock_timeout() -> float:
    """Seconds a writer waits for the ledger's lock before giving up (database.busy):
    $SOCIALCREDIT_LOCK_TIMEOUT, default 10."""
    try:
        return max(0.0, float(os.environ.get("SOCIALCREDIT_LOCK_TIMEOUT", "10")))
    except ValueError:
        return 10.0


def make_engine(url: str) -> Engine:
    """An engine with the pragmas that make SQLite a sound embedded ledger."""
    if is_sqlite(url):
        url, level = sqlite_synchronous(url)
        engine = create_engine(url, future=True)
        path = sqlite_path(url)

        @event.listens_for(engine, "do_connect")
        def _private_file(*_args: Any) -> None:
            if path is not None:
                _create_private(path)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # transactions are begun by the listener below, not by the driver
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={level.upper()}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(lock_timeout() * 1000)}")
            # 64 MiB page cache: index inserts of a bulk ingest stay in memory
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            if conn.info.pop(IMMEDIATE, False):
                # may wait for the lock and fail (busy): through SQLAlchemy, which
                # wraps the driver's error as everywhere else
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                # a deferred BEGIN takes no lock and cannot be busy: at the driver
                # (SQLAlchemy's execution around it cost more than a small group's rows)
                conn.connection.driver_connection.execute("BEGIN")

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


# -- appends gathered per transaction ---------------------------------------------------

#: key of a connection's info holding rows to insert at the end of its transaction
APPENDS = "socialcredit.appends"


def append(conn: Connection, table: Table, row: dict[str, Any]) -> None:
    """Insert `row` into `table`, now — or, in a transaction that gathers appends (a
    group commit of decisions: service/commit.py), with the transaction's other rows of
    that table in one statement just before it commits. Only for rows nothing in the
    same transaction reads back."""
    append_row(conn, table, tuple(row), tuple(row.values()))


def append_row(conn: Connection, table: Table, columns: tuple[str, ...],
               values: tuple[Any, ...]) -> None:
    """`append` of the row `dict(zip(columns, values, strict=True))`, given as the tuple the driver
    binds: a logged decision's rows are built so, no dict each (`columns` is best one
    tuple per kind of row: rows are gathered by it)."""
    pending: dict[Table, tuple[tuple[str, ...] | None, list[Any]]] | None = \
        conn.info.get(APPENDS)
    if pending is None:
        conn.execute(table.insert(), [dict(zip(columns, values, strict=True))])
        return
    got = pending.get(table)
    if got is None:
        pending[table] = (columns, [values])
    elif got[0] is columns or got[0] == columns:
        got[1].append(values)
    else:  # rows of this table with other columns: dicts, in order, SQLAlchemy's insert
        cols, rows = got
        if cols is not None:
            rows = [dict(zip(cols, r, strict=True)) for r in rows]
        rows.append(dict(zip(columns, values, strict=True)))
        pending[table] = (None, rows)


@contextlib.contextmanager
def gathering_appends(conn: Connection) -> Iterator[None]:
    """Gather `append`s on `conn` while the block runs; on success write them, one
    executemany per table. The connection never keeps gathering after the block (it
    goes back to the pool), whatever happens."""
    conn.info[APPENDS] = {}
    conn.info[MEMO] = {}
    try:
        yield
        pending: dict[Table, tuple[tuple[str, ...] | None, list[Any]]] = \
            conn.info.get(APPENDS) or {}
        conn.info.pop(APPENDS, None)
        for table, (cols, rows) in pending.items():
            if cols is not None:
                _insert_many(conn, table, cols, rows)
                continue
            # dicts of other keys: one insert per run of rows with the same keys, in order
            for _, run in itertools.groupby(rows, key=lambda r: tuple(r)):
                conn.execute(table.insert(), list(run))
    finally:
        conn.info.pop(APPENDS, None)
        conn.info.pop(MEMO, None)


#: (dialect, table, columns) -> the driver-level INSERT, or None when a column's type
#: converts its values on the way in (then SQLAlchemy's insert does it)
_INSERTS: dict[tuple[str, str, tuple[str, ...]], str | None] = {}


def _insert_many(conn: Connection, table: Table, cols: tuple[str, ...],
                 rows: list[tuple[Any, ...]]) -> None:
    """One executemany of `rows` (tuples of the values of `cols`): at the driver, with
    the statement made once per process — compiling it and building each row's
    parameters took more than the rows' own write."""
    dialect = conn.dialect
    key = (dialect.name, table.name, cols)
    sql = _INSERTS.get(key, "")
    if sql == "":
        sql = None
        if all(table.c[c].type._cached_bind_processor(dialect) is None for c in cols):
            q = dialect.identifier_preparer
            marks = ", ".join([mark(conn)] * len(cols))
            sql = (f"INSERT INTO {q.format_table(table)} "
                   f"({', '.join(q.quote(c) for c in cols)}) VALUES ({marks})")
        _INSERTS[key] = sql
    if sql is None:
        conn.execute(table.insert(), [dict(zip(cols, r, strict=True)) for r in rows])
        return
    conn.exec_driver_sql(sql, rows)


#: key of a connection's info holding what a gathering transaction's units share
MEMO = "socialcredit.memo"


def memo(conn: Connection) -> dict[str, Any]:
    """A dict shared by the units of one gathering transaction (a group commit: e.g. the
    ledger's committed clock, read once for the group instead of once per decision);
    outside one, an empty dict each time, so nothing is remembered."""
    got: dict[str, Any] | None = conn.info.get(MEMO)
    return got if got is not None else {}


def mark(conn: Connection) -> str:
    """The driver's placeholder for a bound parameter (driver-level SQL)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def in_keys(conn: Connection, column: str, keys: Sequence[str]) -> tuple[str, Any]:
    """`column IN (keys)` as driver-level SQL with one bound parameter, whatever the
    number of keys: SQLite reads them from a JSON array (json_each), PostgreSQL from a
    text array (= ANY). Bulk paths (ingest's salts, records and effects of many
    subjects) then run one statement per batch instead of one per key, or one per
    chunk of SQLite's bound-parameter limit. Returns (predicate, parameter)."""
    if conn.dialect.name == "postgresql":
        return f"{column} = ANY({mark(conn)})", list(keys)
    return f"{column} IN (SELECT value FROM json_each({mark(conn)}))", json.dumps(list(keys))
