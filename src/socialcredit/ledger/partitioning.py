"""A PostgreSQL ledger whose large tables are hash-partitioned by subject.

Chosen when the ledger is created (`Service.create(..., partitions=N)`, or
$SOCIALCREDIT_PG_PARTITIONS for new PostgreSQL ledgers) and fixed for its life: the
records, decisions, subjects and materialized standings of one subject then sit in one
of N partitions (`PARTITION BY HASH (subject)`), so that vacuum, index builds, backups
and, later, moving partitions to other servers (postgres_fdw or Citus) work per
partition while every query by subject still touches one.

The tables are built from the same SQLAlchemy metadata as an unpartitioned ledger, so a
column or index that a schema revision adds reaches both layouts alike. What PostgreSQL
requires of a partitioned table, and how the ledger's guarantees survive it:

* every primary key and unique constraint must contain the partition key, so `seq`
  becomes (seq, subject);
* a unique column that does not contain the subject (`record_id`, `decision_id`) keeps a
  global index in a small unpartitioned key table (`<table>_keys`: the id, its seq and its
  subject), written by a row trigger on every insert, update and delete. A second record
  with a stored id is refused with PostgreSQL's unique_violation, whichever subject it
  names — or, when the writer asks for it (`skipping_duplicates`, the optimistic ingest
  path that an unpartitioned ledger gets from `ON CONFLICT (record_id) DO NOTHING`),
  skipped and not counted. Triggers also fire for COPY, so a bulk path keeps them. A
  seq is unique in the key table too.

A schema revision that adds a column or an index to one of these tables needs nothing
more; one that adds a unique constraint without the subject needs a key table here.
Needs PostgreSQL 13 or newer (BEFORE row triggers on partitioned tables).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)
from sqlalchemy.schema import CreateTable, SchemaItem

from socialcredit.errors import UsageError

#: The tables partitioned by subject: the ones that grow with the population.
PARTITIONED = ("sc_subjects", "sc_records", "sc_decisions", "sc_standings")
KEY = "subject"
#: sc_meta key recording the layout (absent: not partitioned).
META_KEY = "partitions"
#: New PostgreSQL ledgers are created with this many partitions when nothing else says.
PARTITIONS_ENV = "SOCIALCREDIT_PG_PARTITIONS"
MAX_PARTITIONS = 1024
#: Session setting the key triggers read: 'on' skips a duplicate id instead of refusing.
SKIP_SETTING = "socialcredit.skip_duplicates"


def requested_partitions(dialect: str, partitions: int | None) -> int:
    """How many partitions a new ledger gets: `partitions` when given, else
    $SOCIALCREDIT_PG_PARTITIONS for PostgreSQL; 1 means an unpartitioned ledger."""
    env = os.environ.get(PARTITIONS_ENV, "").strip()
    if partitions is None and env and dialect == "postgresql":
        try:
            partitions = int(env)
        except ValueError:
            raise UsageError(f"${PARTITIONS_ENV}={env!r} is not a whole number") from None
    n = 1 if partitions is None else int(partitions)
    if not 1 <= n <= MAX_PARTITIONS:
        raise UsageError(f"a ledger has between 1 and {MAX_PARTITIONS} partitions, not {n}")
    if n > 1 and dialect != "postgresql":
        raise UsageError("hash partitioning by subject needs a PostgreSQL ledger; a SQLite "
                         "ledger is one file")
    return n


def key_tables(tables: list[Table]) -> dict[str, tuple[str, str]]:
    """table name -> (its key table's name, the unique column that table indexes)."""
    out: dict[str, tuple[str, str]] = {}
    for t in tables:
        for c in _global_uniques(t):
            out[t.name] = (f"{t.name}_keys", c)
    return out


def _global_uniques(t: Table) -> list[str]:
    """Single columns unique on their own (without the subject): they need a key table."""
    cols: list[str] = []
    for con in t.constraints:
        if isinstance(con, UniqueConstraint) and not isinstance(con, PrimaryKeyConstraint):
            names = [c.name for c in con.columns]
            if KEY not in names:
                if len(names) != 1:
                    raise NotImplementedError(f"{t.name}: a unique constraint on {names} "
                                              "without the subject cannot be partitioned")
                cols.append(names[0])
    return cols


def partitioned_copy(t: Table, md: MetaData) -> Table:
    """`t` as a partitioned table: the same columns and indexes, the subject added to its
    primary key, global unique columns turned into plain indexes (their key table
    enforces them)."""
    uniques = set(_global_uniques(t))
    cols = []
    for c in t.columns:
        cc = c._copy()
        cc.primary_key = False
        cc.unique = None
        cols.append(cc)
    pk = [c.name for c in t.primary_key.columns]
    if KEY not in pk:
        pk.append(KEY)
    extra: list[SchemaItem] = [PrimaryKeyConstraint(*pk, name=f"pk_{t.name}")]
    for con in t.constraints:
        if isinstance(con, UniqueConstraint) and not isinstance(con, PrimaryKeyConstraint):
            names = [c.name for c in con.columns]
            if KEY in names:
                extra.append(UniqueConstraint(*names, name=con.name))
    new = Table(t.name, md, *cols, *extra, postgresql_partition_by=f"HASH ({KEY})")
    for ix in t.indexes:
        Index(ix.name, *[new.c[c.name] for c in ix.columns], unique=ix.unique,
              **dict(ix.dialect_kwargs))
    for name in sorted(uniques):
        Index(f"ix_{t.name}_{name}", new.c[name])
    return new


def _key_table(name: str, column: Column[object], md: MetaData) -> Table:
    return Table(name, md,
                 Column(column.name, column.type, primary_key=True),
                 Column("seq", BigInteger, nullable=False, unique=True),
                 Column(KEY, column.table.c[KEY].type, nullable=False))


def _trigger_sql(table: str, keys: str, col: str) -> list[str]:
    fn = f"{keys}_sync"
    return [
        f"""CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM {keys} WHERE {col} = OLD.{col};
    RETURN OLD;
  END IF;
  IF TG_OP = 'UPDATE' THEN
    IF (NEW.{col}, NEW.seq, NEW.{KEY}) IS DISTINCT FROM (OLD.{col}, OLD.seq, OLD.{KEY}) THEN
      UPDATE {keys} SET {col} = NEW.{col}, seq = NEW.seq, {KEY} = NEW.{KEY}
       WHERE {col} = OLD.{col};
    END IF;
    RETURN NEW;
  END IF;
  INSERT INTO {keys} ({col}, seq, {KEY}) VALUES (NEW.{col}, NEW.seq, NEW.{KEY})
    ON CONFLICT DO NOTHING;
  IF FOUND THEN
    RETURN NEW;
  END IF;
  IF current_setting('{SKIP_SETTING}', true) = 'on'
     AND EXISTS (SELECT 1 FROM {keys} WHERE {col} = NEW.{col}) THEN
    RETURN NULL;
  END IF;
  RAISE unique_violation USING
    MESSAGE = format('duplicate key value violates unique constraint "{keys}_pkey"'),
    DETAIL = format('Key ({col})=(%s) or (seq)=(%s) already exists.', NEW.{col}, NEW.seq),
    TABLE = '{table}';
END
$$""",
        # BEFORE: a duplicate is refused (or skipped) before the row is stored; AFTER for
        # deletes, so a delete that does not happen leaves the key in place
        f"CREATE TRIGGER {fn}_ins BEFORE INSERT OR UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {fn}()",
        f"CREATE TRIGGER {fn}_del AFTER DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {fn}()",
    ]


def create_partitioned(conn: Connection, tables: list[Table], partitions: int) -> None:
    """Create `tables` partitioned by HASH (subject) into `partitions` partitions
    (`<table>_p<i>`), with their indexes and key tables."""
    md = MetaData()
    for t in tables:
        new = partitioned_copy(t, md)
        conn.execute(CreateTable(new))
        for i in range(partitions):
            conn.exec_driver_sql(
                f"CREATE TABLE {t.name}_p{i} PARTITION OF {t.name} "
                f"FOR VALUES WITH (MODULUS {partitions}, REMAINDER {i})")
        for ix in new.indexes:  # on the parent: PostgreSQL builds them on every partition
            ix.create(conn)
    for table, (keys, col) in key_tables(tables).items():
        original = next(t for t in tables if t.name == table)
        _key_table(keys, original.c[col], md).create(conn)
        for sql in _trigger_sql(table, keys, col):
            conn.exec_driver_sql(sql)


@contextmanager
def skipping_duplicates(conn: Connection) -> Iterator[None]:
    """Within this block, a row whose unique id is already stored is skipped (not
    counted in the statement's row count) rather than refused."""
    conn.exec_driver_sql(f"SELECT set_config('{SKIP_SETTING}', 'on', true)")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"SELECT set_config('{SKIP_SETTING}', 'off', true)")


def partition_counts(conn: Connection, table: str) -> dict[str, int]:
    """Rows per partition of a partitioned table (for tests and `db` reports)."""
    rows = conn.exec_driver_sql(
        f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1 ORDER BY 1")
    return {str(r[0]).rsplit(".", 1)[-1]: int(r[1]) for r in rows}


def partitions_of(conn: Connection, table: str) -> list[str]:
    """The partitions PostgreSQL holds for `table` (empty: not partitioned)."""
    rows = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent "
        "WHERE p.oid = to_regclass(%s) ORDER BY c.relname", (table,))
    return [str(r[0]) for r in rows]


__all__ = ["KEY", "MAX_PARTITIONS", "META_KEY", "PARTITIONED", "PARTITIONS_ENV",
           "create_partitioned", "key_tables", "partition_counts", "partitioned_copy",
           "partitions_of", "requested_partitions", "skipping_duplicates"]
