"""Records, sealed decisions and providers become verifiable against the public log;
the log's secrets move out of the database.

- `sc_records.batch` and `sc_records.digest`: the ingest batch that stored a record (its
  `records.batch` leaf commits to the batch's count and Merkle root) and the record's
  canonical hash;
- `sc_sealed_decisions.digest`: the SHA-256 of a decision's body when it was sealed;
- `tlog_state.salt_key_id`: which key (kept outside the database) encrypts the subject
  salts.

Rows stored before this revision have no batch leaves. What they were is written down
here, once, so that verify can tell them from rows inserted later behind the ledger's
back: `sc_meta` gets `legacy.records_max_seq` (the highest record seq at upgrade) and
`legacy.providers` (the providers registered at upgrade, as a JSON list). The signing key
and the plaintext salts are moved out by `Service.upgrade` right after this revision
runs, in the same transaction: a migration writes no files.

Revision ID: 0201
Revises: 0101
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0201"
down_revision = "0101"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sc_records", sa.Column("batch", sa.BigInteger, nullable=True))
    op.add_column("sc_records", sa.Column("digest", sa.LargeBinary(32), nullable=True))
    op.add_column("sc_sealed_decisions",
                  sa.Column("digest", sa.LargeBinary(32), nullable=True))
    op.add_column("tlog_state", sa.Column("salt_key_id", sa.String(16), nullable=True))
    conn = op.get_bind()
    max_seq = conn.execute(sa.text("SELECT max(seq) FROM sc_records")).scalar()
    providers = sorted(str(r[0]) for r in conn.execute(
        sa.text("SELECT provider FROM sc_providers")))
    insert = sa.text("INSERT INTO sc_meta (key, value) VALUES (:key, :value)")
    conn.execute(insert, [{"key": "legacy.records_max_seq", "value": str(max_seq or 0)},
                          {"key": "legacy.providers", "value": json.dumps(providers)}])


def downgrade() -> None:
    raise NotImplementedError("a ledger is never downgraded: restore a backup instead")
