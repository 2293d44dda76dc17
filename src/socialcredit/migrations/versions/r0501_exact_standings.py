"""Materialized standings exact at any time: each row keeps its decaying sums by
half-life, its record lists and the instant of its next discrete change.

Written out column by column (never from the package's current metadata). Rows stored
before this revision have neither: they are exact at their own `at` only, and the first
read at another instant recomputes them.

Revision ID: 0501
Revises: 0401
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0501"
down_revision = "0401"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sc_standings", sa.Column("terms", sa.Text, nullable=True))
    op.add_column("sc_standings", sa.Column("valid_until", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sc_standings") as batch:
        batch.drop_column("valid_until")
        batch.drop_column("terms")
