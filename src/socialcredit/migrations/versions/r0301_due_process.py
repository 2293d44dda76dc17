"""Due process: principals and tokens, notices and the outbox, cases, consent, the access
log, due-process effects on standings, erasure tombstones (issue 10).

Written out table by table (never from the package's current metadata).

Revision ID: 0301
Revises: 0201
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0301"
down_revision = "0201"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sc_principals",
        sa.Column("principal_id", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(200), nullable=True),
        sa.Column("subject", sa.String(400), nullable=True),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("webhook_url", sa.Text, nullable=True),
        sa.Column("webhook_secret", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("revoked_at", sa.BigInteger, nullable=True))
    op.create_index("ix_principals_subject", "sc_principals", ["subject"])
    op.create_table(
        "sc_tokens",
        sa.Column("token_id", sa.String(32), primary_key=True),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True))
    op.create_index("ix_tokens_principal", "sc_tokens", ["principal_id"])
    op.create_table(
        "sc_notices",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.String(40), nullable=False, unique=True),
        sa.Column("audience", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(400), nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("program", sa.String(200), nullable=True),
        sa.Column("record_id", sa.String(400), nullable=True),
        sa.Column("case_id", sa.String(40), nullable=True),
        sa.Column("decision_id", sa.String(64), nullable=True),
        sa.Column("leaf_index", sa.BigInteger, nullable=True),
        sa.Column("detail", sa.Text, nullable=True))
    op.create_index("ix_notices_subject", "sc_notices", ["subject"])
    op.create_index("ix_notices_record", "sc_notices", ["record_id"])
    op.create_table(
        "sc_outbox",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("notice_id", sa.String(40), nullable=False),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("idempotency_key", sa.String(120), nullable=False, unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("delivered_at", sa.BigInteger, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True))
    op.create_index("ix_outbox_due", "sc_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_notice", "sc_outbox", ["notice_id"])
    op.create_table(
        "sc_delivery_attempts",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("outbox_seq", sa.BigInteger, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("payload_sha256", sa.String(64), nullable=False))
    op.create_index("ix_attempts_outbox", "sc_delivery_attempts", ["outbox_seq"])
    op.create_table(
        "sc_cases",
        sa.Column("case_id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("record_id", sa.String(400), nullable=True),
        sa.Column("program", sa.String(200), nullable=True),
        sa.Column("list_id", sa.String(200), nullable=True),
        sa.Column("parent_case", sa.String(40), nullable=True),
        sa.Column("filed_at", sa.BigInteger, nullable=False),
        sa.Column("filed_by", sa.String(200), nullable=False),
        sa.Column("grounds", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=True),
        sa.Column("reply_due_at", sa.BigInteger, nullable=True),
        sa.Column("accepted_at", sa.BigInteger, nullable=True),
        sa.Column("decided_at", sa.BigInteger, nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("reasons", sa.Text, nullable=True),
        sa.Column("outcome", sa.Text, nullable=True))
    op.create_index("ix_cases_subject", "sc_cases", ["subject"])
    op.create_index("ix_cases_status", "sc_cases", ["status"])
    op.create_table(
        "sc_attachments",
        sa.Column("case_id", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=True),
        sa.PrimaryKeyConstraint("case_id", "sha256", name="pk_sc_attachments"))
    op.create_table(
        "sc_consents",
        sa.Column("grant_id", sa.String(40), primary_key=True),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("relying_party", sa.String(200), nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("granted_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True))
    op.create_index("ix_consents_subject", "sc_consents", ["subject"])
    op.create_index("ix_consents_party", "sc_consents", ["relying_party"])
    op.create_table(
        "sc_access_log",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("subject", sa.String(400), nullable=True),
        sa.Column("principal_id", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("operation", sa.String(60), nullable=False),
        sa.Column("program", sa.String(200), nullable=True),
        sa.Column("purpose", sa.Text, nullable=True),
        sa.Column("grant_id", sa.String(40), nullable=True),
        sa.Column("detail", sa.Text, nullable=True))
    op.create_index("ix_access_subject", "sc_access_log", ["subject"])
    op.create_table(
        "sc_effects",
        sa.Column("seq", Seq, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(400), nullable=False),
        sa.Column("record_id", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("program", sa.String(200), nullable=True),
        sa.Column("list_id", sa.String(200), nullable=True),
        sa.Column("start_at", sa.BigInteger, nullable=False),
        sa.Column("end_at", sa.BigInteger, nullable=True),
        sa.Column("case_id", sa.String(40), nullable=True),
        sa.Column("notice_id", sa.String(40), nullable=True))
    op.create_index("ix_effects_subject", "sc_effects", ["subject"])
    op.create_table(
        "sc_erasures",
        sa.Column("record_id", sa.String(400), primary_key=True),
        sa.Column("record_sha256", sa.String(64), nullable=False),
        sa.Column("commitment", sa.String(64), nullable=False),
        sa.Column("recorded_at", sa.BigInteger, nullable=False),
        sa.Column("published_until", sa.BigInteger, nullable=False),
        sa.Column("erased_at", sa.BigInteger, nullable=False))


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
