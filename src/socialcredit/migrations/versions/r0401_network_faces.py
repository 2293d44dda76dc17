"""The HTTP API's operational state: submissions with idempotency keys, background jobs,
organization names for public search (issue 11).

Written out table by table (never from the package's current metadata).

Revision ID: 0401
Revises: 0301
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0401"
down_revision = "0301"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sc_submissions",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(200), nullable=True),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("request_sha256", sa.String(64), nullable=True),
        sa.Column("source", sa.String(400), nullable=False),
        sa.Column("batch", sa.BigInteger, nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("accepted", sa.Integer, nullable=False),
        sa.Column("duplicates", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.BigInteger, nullable=False),
        sa.Column("report", sa.Text, nullable=False),
        sa.UniqueConstraint("principal_id", "idempotency_key", name="uq_submission_key"))
    op.create_index("ix_submissions_provider", "sc_submissions", ["provider"])
    op.create_table(
        "sc_jobs",
        sa.Column("job_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("done", sa.BigInteger, nullable=False),
        sa.Column("total", sa.BigInteger, nullable=True),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("started_at", sa.BigInteger, nullable=True),
        sa.Column("heartbeat_at", sa.BigInteger, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=True))
    op.create_table(
        "sc_organization_names",
        sa.Column("subject", sa.String(400), primary_key=True),
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("folded", sa.String(400), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.BigInteger, nullable=False))
    op.create_index("ix_organization_names_folded", "sc_organization_names", ["folded"])


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
