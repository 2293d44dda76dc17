"""The promises against a careless or hostile provider: a ledger clock row that every
write locks, published catalogues, the transaction time at which a backfilled record
was stored, and the programs whose standings are materialized.

Revision ID: 0101
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0101"
down_revision = "0001"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sc_clock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.BigInteger, nullable=False))
    op.create_table(
        "sc_catalogues",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("catalogue", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("published_at", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("canonical", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.UniqueConstraint("catalogue", "version", name="uq_catalogue_version"))
    op.create_table(
        "sc_materialized",
        sa.Column("program", sa.String(200), primary_key=True),
        sa.Column("since", sa.BigInteger, nullable=False))
    with op.batch_alter_table("sc_records") as batch:
        batch.add_column(sa.Column("ingested_at", sa.BigInteger, nullable=True))
    # the clock starts at the last time anything was stamped
    op.execute(
        "INSERT INTO sc_clock (id, last) SELECT 1, max(t) FROM ("
        "SELECT max(recorded_at) AS t FROM sc_records UNION ALL "
        "SELECT max(published_at) FROM sc_programs UNION ALL "
        "SELECT max(registered_at) FROM sc_providers UNION ALL SELECT 0) AS stamps")
    # programs that had materialized standings keep being refreshed by ingest
    op.execute("INSERT INTO sc_materialized (program, since) "
               "SELECT program, min(computed_at) FROM sc_standings GROUP BY program")


def downgrade() -> None:
    with op.batch_alter_table("sc_records") as batch:
        batch.drop_column("ingested_at")
    op.drop_table("sc_materialized")
    op.drop_table("sc_catalogues")
    op.drop_table("sc_clock")
