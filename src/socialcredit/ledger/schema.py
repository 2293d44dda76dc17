"""Ledger tables (SQLAlchemy Core): one schema for SQLite and PostgreSQL.

Instants are BIGINT microseconds UTC (see timeutil). Records carry their type's kind,
copied at append, so engines need no rulebook to tell a void from a conduct record.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

metadata = MetaData()
# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

meta = Table(
    "sc_meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

programs = Table(
    "sc_programs", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("program", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("effective_at", BigInteger, nullable=False),
    Column("published_at", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("canonical", Text, nullable=False),
    Column("source", Text, nullable=True),
    UniqueConstraint("program", "version", name="uq_program_version"),
)

providers = Table(
    "sc_providers", metadata,
    Column("provider", String(200), primary_key=True),
    Column("role", String(200), nullable=False),
    Column("registered_at", BigInteger, nullable=False),
)

subjects = Table(
    "sc_subjects", metadata,
    Column("subject", String(400), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("first_recorded_at", BigInteger, nullable=False),
)

records = Table(
    "sc_records", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("record_id", String(400), nullable=False, unique=True),
    Column("provider", String(200), nullable=False),
    Column("subject", String(400), nullable=False),
    Column("type", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("occurred_at", BigInteger, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("value_num", Float, nullable=True),
    Column("value_text", Text, nullable=True),
    Column("evidence", Text, nullable=True),
    Column("ref", String(400), nullable=True),
    # when this ledger stored the record, where that differs from recorded_at (a
    # backfill carries a pilot's own recorded_at): listings give notice from here
    Column("ingested_at", BigInteger, nullable=True),
    # the ingest batch that stored the record (its `records.batch` leaf commits to the
    # batch's count and Merkle root) and the record's canonical hash (ledger/digest.py);
    # NULL for records stored before revision 0201
    Column("batch", BigInteger, nullable=True),
    Column("digest", LargeBinary(32), nullable=True),
    Index("ix_records_subject", "subject"),
    # the ledger's clock reads max(recorded_at) at every append; appends are monotone,
    # so this index only ever grows at its end
    Index("ix_records_recorded_at", "recorded_at"),
    # most records reference nothing: a partial index keeps bulk appends cheap
    Index("ix_records_ref", "ref", sqlite_where=text("ref IS NOT NULL"),
          postgresql_where=text("ref IS NOT NULL")),
)

decisions = Table(
    "sc_decisions", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("decision_id", String(64), nullable=False, unique=True),
    Column("decided_at", BigInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("known_at", BigInteger, nullable=False),
    Column("subject", String(400), nullable=False),
    Column("action", String(200), nullable=False),
    Column("program", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("effect", String(20), nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_decisions_subject", "subject"),
)

# Which decisions a `decisions.batch` leaf covers. A set, not a high-water mark: on
# PostgreSQL a decision with a lower seq may commit after a later one was sealed.
sealed_decisions = Table(
    "sc_sealed_decisions", metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("sealed_at", BigInteger, nullable=False),
    # SHA-256 of the decision's body when it was sealed, so verify can name the decision
    # that changed (the leaf's digest alone names only the batch); NULL before 0201
    Column("digest", LargeBinary(32), nullable=True),
)

# Materialized standings (`score --all`, kept current by ingest): derived data, emptied
# and rebuilt at will; one row per (program, subject).
standings = Table(
    "sc_standings", metadata,
    Column("program", String(200), nullable=False),
    Column("subject", String(400), nullable=False),
    Column("subject_kind", String(20), nullable=True),
    Column("version", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("known_at", BigInteger, nullable=False),
    Column("score", Float, nullable=False),
    Column("tier", String(200), nullable=True),
    Column("dimensions", Text, nullable=False),  # JSON object id -> score
    Column("lists", Text, nullable=False),  # JSON array of list ids in force
    Column("computed_at", BigInteger, nullable=False),
    # what keeps the row exact after `at` (scoring/exact.py): JSON sums by dimension and
    # half-life, record lists, score lists' look-back sums; NULL: exact at `at` only
    Column("terms", Text, nullable=True),
    # the first instant after `at` at which the standing changes otherwise than by decay
    # (NULL with terms: never); from then on the row is recomputed before it is read
    Column("valid_until", BigInteger, nullable=True),
    PrimaryKeyConstraint("program", "subject", name="pk_sc_standings"),
)

operations = Table(
    "sc_operations", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("kind", String(64), nullable=False),
    Column("detail", Text, nullable=False),
)

# The ledger's clock: one row holding the last transaction time stamped. Every write
# locks it first (PostgreSQL: SELECT … FOR UPDATE; SQLite: BEGIN IMMEDIATE locks the
# whole database), so transaction times are strictly increasing in commit order.
clock = Table(
    "sc_clock", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last", BigInteger, nullable=False),
)

# Published catalogues: allowlists of information items and measures, one row per
# version, identified like rulebooks by the sha256 of their canonical JSON.
catalogues = Table(
    "sc_catalogues", metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("catalogue", String(200), nullable=False),
    Column("version", String(200), nullable=False),
    Column("published_at", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("canonical", Text, nullable=False),
    Column("source", Text, nullable=True),
    UniqueConstraint("catalogue", "version", name="uq_catalogue_version"),
)

# Programs whose standings are materialized (`score --all` ran, or is running): ingest
# keeps their rows current. Written when a run starts, so that records committed while
# it runs are not missed.
materialized = Table(
    "sc_materialized", metadata,
    Column("program", String(200), primary_key=True),
    Column("since", BigInteger, nullable=False),
)
