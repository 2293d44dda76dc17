"""Schema revisions of a ledger database, with Alembic.

A new ledger gets the current schema in one step (the tables, then the head revision
stamped); an existing one is brought up to date by running the revisions in
`migrations/versions/` (`socialcredit db upgrade`). A ledger created by release 0.1.0
predates Alembic: it is recognised by its `sc_meta` row `schema_version = 1` and adopted
as revision 0001, the pinned 0.1.0 schema. Opening a ledger whose schema is not the
head revision is refused with `ledger.outdated` (or `ledger.too_new`): running code
against tables it does not expect would corrupt the ledger quietly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, MetaData, Table, inspect, text

from socialcredit.errors import LedgerError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: Every revision, oldest first; the last is the head this release runs on. A test
#: checks that this list is Alembic's own chain.
REVISIONS = ("0001", "0101", "0201", "0301", "0401", "0501")
HEAD = REVISIONS[-1]
#: How a ledger created by release 0.1.0 (no Alembic table) reports its revision.
LEGACY = "0.1.0"
VERSION_TABLE = "alembic_version"


def target_metadata() -> list[MetaData]:
    from socialcredit.dueprocess.schema import METADATA as DUE_PROCESS
    from socialcredit.ledger.schema import metadata
    from socialcredit.operations.schema import METADATA as OPERATIONS
    from socialcredit.transparency.schema import METADATA

    return [metadata, METADATA, DUE_PROCESS, OPERATIONS]


def revision_of(conn: Connection) -> str | None:
    """The schema revision of the database, LEGACY for 0.1.0, None for an empty one."""
    insp = inspect(conn)
    if insp.has_table(VERSION_TABLE):
        return conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    if insp.has_table("sc_meta"):
        return LEGACY
    return None


def check_current(conn: Connection) -> None:
    """Refuse a ledger whose schema this release does not run on."""
    rev = revision_of(conn)
    if rev == HEAD:
        return
    if rev == LEGACY or rev in REVISIONS:
        raise LedgerError(f"this ledger's schema is at revision {rev}, older than this "
                          f"release's {HEAD}: upgrade the ledger first (its data is kept)",
                          code="ledger.outdated")
    raise LedgerError(f"this ledger's schema is at revision {rev}, which this release does "
                      f"not know (its newest is {HEAD}): use a newer release",
                      code="ledger.too_new")


def _config(conn: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "socialcredit:migrations")
    cfg.attributes["connection"] = conn
    return cfg


def create_schema(conn: Connection, partitions: int | None = None) -> None:
    """The current schema on an empty database, stamped with the head revision.

    With `partitions` > 1 (PostgreSQL only; default $SOCIALCREDIT_PG_PARTITIONS there),
    the tables that grow with the population are created hash-partitioned by subject
    from the same metadata (ledger/partitioning.py), and `sc_meta` records the layout.
    Later revisions alter the partitioned parents like any table."""
    from socialcredit.ledger.partitioning import (
        META_KEY,
        PARTITIONED,
        create_partitioned,
        requested_partitions,
    )

    n = requested_partitions(conn.dialect.name, partitions)
    split: list[Table] = []
    for md in target_metadata():
        if n == 1:
            md.create_all(conn)
            continue
        split.extend(t for t in md.sorted_tables if t.name in PARTITIONED)
        md.create_all(conn, tables=[t for t in md.sorted_tables if t.name not in PARTITIONED])
    if split:
        create_partitioned(conn, split, n)
        conn.execute(text("INSERT INTO sc_meta (key, value) VALUES (:k, :v)"),
                     {"k": META_KEY, "v": str(n)})
    _stamp(conn, HEAD)


def _stamp(conn: Connection, revision: str) -> None:
    from alembic.runtime.migration import MigrationContext

    MigrationContext.configure(conn).stamp(_script(conn), revision)


def _script(conn: Connection) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(conn))


def upgrade(conn: Connection) -> tuple[str | None, str]:
    """Run every revision the ledger lacks, in the caller's transaction; returns
    (revision before, revision after)."""
    from alembic import command

    before = revision_of(conn)
    if before is None:
        raise LedgerError("no ledger in this database", code="ledger.missing")
    if before == LEGACY:
        # 0.1.0 created sc_standings only once `score --all` had run
        from socialcredit.ledger.schema import standings

        standings.create(conn, checkfirst=True)
        _stamp(conn, "0001")
    elif before not in REVISIONS:
        check_current(conn)  # raises ledger.too_new
    command.upgrade(_config(conn), "head")
    return before, HEAD


def alembic_heads(conn: Connection) -> list[str]:
    """Alembic's own view of the chain, oldest first (for the consistency test)."""
    script = _script(conn)
    return [r.revision for r in reversed(list(script.walk_revisions()))]


__all__ = ["HEAD", "LEGACY", "REVISIONS", "alembic_heads", "check_current", "create_schema",
           "revision_of", "target_metadata", "upgrade"]
