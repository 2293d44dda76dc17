"""Tables of the network faces' operational state, on their own MetaData (listed in
`socialcredit.migrations.target_metadata()`; revision 0401 creates them). Instants are
BIGINT microseconds UTC, as in the ledger."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

METADATA = MetaData()
SeqType = BigInteger().with_variant(Integer(), "sqlite")

# Every committed submission of records (an ingest by a principal): who, for which
# provider, how many rows, what happened. `idempotency_key` (unique per principal) makes
# a retried batch return the stored outcome instead of being stored again; `request_sha256`
# tells a retry from another batch sent under the same key.
submissions = Table(
    "sc_submissions", METADATA,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("principal_id", String(200), nullable=False),
    Column("provider", String(200), nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("request_sha256", String(64), nullable=True),
    Column("source", String(400), nullable=False),
    Column("batch", BigInteger, nullable=True),  # sc_records.batch of what it stored
    Column("rows", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("submitted_at", BigInteger, nullable=False),
    Column("report", Text, nullable=False),  # JSON: the ingest report as answered
    UniqueConstraint("principal_id", "idempotency_key", name="uq_submission_key"),
    Index("ix_submissions_provider", "provider"),
)

# Background jobs (a `score --all` run, an export): state and progress, so that any
# worker process can answer "how far is it?".
jobs = Table(
    "sc_jobs", METADATA,
    Column("job_id", String(40), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("principal_id", String(200), nullable=False),
    Column("params", Text, nullable=False),  # JSON
    Column("status", String(20), nullable=False),  # queued, running, done, failed
    Column("done", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=True),
    Column("result", Text, nullable=True),  # JSON
    Column("error", Text, nullable=True),  # JSON: code and message
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
)

# The registered names of organizations (never of persons: a person's name is personal
# data and stays out of the ledger), so that public lists can be searched by name as the
# enterprise credit publicity system is.
organization_names = Table(
    "sc_organization_names", METADATA,
    Column("subject", String(400), primary_key=True),
    Column("name", String(400), nullable=False),
    Column("folded", String(400), nullable=False),  # casefolded NFKC, for search
    Column("set_by", String(200), nullable=False),
    Column("set_at", BigInteger, nullable=False),
    Index("ix_organization_names_folded", "folded"),
)

__all__ = ["METADATA", "jobs", "organization_names", "submissions"]
