"""The schema of release 0.1.0, pinned: every later revision starts from here.

Written out table by table (not from the package's current metadata, which moves on),
so that a ledger created by 0.1.0 and a ledger built by running the migrations agree.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sc_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False))
    op.create_table(
        "sc_programs",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("program", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("effective_at", sa.BigInteger, nullable=False),
        sa.Column("published_at", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("canonical", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=True),
        sa.UniqueConstraint("program", "version", name="uq_program_version"))
    op.create_table(
        "sc_providers",
        sa.Column("provider", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(200), nullable=False),
        sa.Column("registered_at", sa.BigInteger, nullable=False))
    op.create_table(
        "sc_subjects",
        sa.Column("subject", sa.String(400), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("first_recorded_at", sa.BigInteger, nullable=False))
    op.create_table(
        "sc_records",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.String(400), nullable=False, unique=True),
        sa.Column("provider", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("occurred_at", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.BigInteger, nullable=False),
        sa.Column("value_num", sa.Float, nullable=True),
        sa.Column("value_text", sa.Text, nullable=True),
        sa.Column("evidence", sa.Text, nullable=True),
        sa.Column("ref", sa.String(400), nullable=True))
    op.create_index("ix_records_subject", "sc_records", ["subject"])
    op.create_index("ix_records_recorded_at", "sc_records", ["recorded_at"])
    op.create_index("ix_records_ref", "sc_records", ["ref"],
                    sqlite_where=sa.text("ref IS NOT NULL"),
                    postgresql_where=sa.text("ref IS NOT NULL"))
    op.create_table(
        "sc_decisions",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("decision_id", sa.String(64), nullable=False, unique=True),
        sa.Column("decided_at", sa.BigInteger, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("known_at", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("program", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("effect", sa.String(20), nullable=False),
        sa.Column("body", sa.Text, nullable=False))
    op.create_index("ix_decisions_subject", "sc_decisions", ["subject"])
    op.create_table(
        "sc_sealed_decisions",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("sealed_at", sa.BigInteger, nullable=False))
    op.create_table(
        "sc_operations",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("detail", sa.Text, nullable=False))
    op.create_table(
        "sc_standings",
        sa.Column("program", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("subject_kind", sa.String(20), nullable=True),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("known_at", sa.BigInteger, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("tier", sa.String(200), nullable=True),
        sa.Column("dimensions", sa.Text, nullable=False),
        sa.Column("lists", sa.Text, nullable=False),
        sa.Column("computed_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("program", "subject", name="pk_sc_standings"))
    # the transparency log
    op.create_table(
        "tlog_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", Seq, nullable=False),
        sa.Column("checkpoints", Seq, nullable=False, server_default="0"),
        sa.CheckConstraint("id = 1", name="tlog_state_single_row"))
    op.create_table(
        "tlog_leaves",
        sa.Column("idx", Seq, primary_key=True, autoincrement=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False))
    op.create_table(
        "tlog_nodes",
        sa.Column("pos", Seq, primary_key=True, autoincrement=False),
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False))
    op.create_table(
        "tlog_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("key_id", sa.String(8), nullable=False),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False),
        sa.Column("private_key", sa.LargeBinary(32), nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.CheckConstraint("id = 1", name="tlog_keys_single_row"))
    op.create_table(
        "tlog_checkpoints",
        sa.Column("id", Seq, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False))
    op.create_table(
        "tlog_subject_salts",
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("salt", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
