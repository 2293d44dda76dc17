"""Database URLs and engines: SQLite (WAL) embedded by default, PostgreSQL by URL."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

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


def redact_url(url: str) -> str:
    """The URL with its password replaced by `***`: what messages and logs may show."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    if not is_sqlite(url):
        return None
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(rest) if rest and rest != ":memory:" else None


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
        engine = create_engine(url, future=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # transactions are begun by the listener below, not by the driver
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(lock_timeout() * 1000)}")
            # 64 MiB page cache: index inserts of a bulk ingest stay in memory
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            immediate = conn.info.pop(IMMEDIATE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)
