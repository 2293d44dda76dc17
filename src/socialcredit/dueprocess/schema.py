"""Tables of due process, on their own MetaData (listed in
`socialcredit.migrations.target_metadata()`; revision 0301 creates them).

Principals and their tokens; notices, the outbox and every delivery attempt; cases
(objections, appeals, repair applications) and their attachments; consent grants; the
access log; the due-process effects on standings; erasure tombstones. Instants are BIGINT
microseconds UTC, as in the ledger.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

METADATA = MetaData()
SeqType = BigInteger().with_variant(Integer(), "sqlite")

# Who acts. Contact addresses are personal data: they live here, never in the ledger.
# The webhook secret signs deliveries (HMAC-SHA256), so it is kept, not hashed.
principals = Table(
    "sc_principals", METADATA,
    Column("principal_id", String(200), primary_key=True),
    Column("role", String(40), nullable=False),
    Column("provider", String(200), nullable=True),
    Column("subject", String(400), nullable=True),
    Column("email", Text, nullable=True),
    Column("webhook_url", Text, nullable=True),
    Column("webhook_secret", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_principals_subject", "subject"),
)

# Bearer tokens: opaque, random, stored as an scrypt hash; looked up by their public id.
tokens = Table(
    "sc_tokens", METADATA,
    Column("token_id", String(32), primary_key=True),
    Column("principal_id", String(200), nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_tokens_principal", "principal_id"),
)

# Notices keep references (record, case, decision, leaf), not copies: the text is
# rendered from the ledger as it was known when the notice was made, so an erased
# record's data cannot linger in a notice.
notices = Table(
    "sc_notices", METADATA,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("notice_id", String(40), nullable=False, unique=True),
    Column("audience", String(20), nullable=False),  # subject | operator
    Column("subject", String(400), nullable=True),
    Column("kind", String(40), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("program", String(200), nullable=True),
    Column("record_id", String(400), nullable=True),
    Column("case_id", String(40), nullable=True),
    Column("decision_id", String(64), nullable=True),
    Column("leaf_index", BigInteger, nullable=True),
    Column("detail", Text, nullable=True),  # JSON: what is not derivable
    Index("ix_notices_subject", "subject"),
    Index("ix_notices_record", "record_id"),
)

outbox = Table(
    "sc_outbox", METADATA,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("notice_id", String(40), nullable=False),
    Column("principal_id", String(200), nullable=False),
    Column("channel", String(20), nullable=False),  # email | webhook
    Column("address", Text, nullable=False),
    Column("idempotency_key", String(120), nullable=False, unique=True),
    Column("status", String(20), nullable=False),  # pending | delivered | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("delivered_at", BigInteger, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_notice", "notice_id"),
)

delivery_attempts = Table(
    "sc_delivery_attempts", METADATA,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("outbox_seq", BigInteger, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("payload_sha256", String(64), nullable=False),
    Index("ix_attempts_outbox", "outbox_seq"),
)

# Objections, appeals and repair applications.
cases = Table(
    "sc_cases", METADATA,
    Column("case_id", String(40), primary_key=True),
    Column("kind", String(20), nullable=False),  # objection | appeal | repair
    Column("subject", String(400), nullable=False),
    Column("record_id", String(400), nullable=True),
    Column("program", String(200), nullable=True),
    Column("list_id", String(200), nullable=True),
    Column("parent_case", String(40), nullable=True),
    Column("filed_at", BigInteger, nullable=False),
    Column("filed_by", String(200), nullable=False),
    Column("grounds", Text, nullable=True),
    Column("detail", Text, nullable=True),  # JSON: suspensions, conditions, statement
    Column("status", String(20), nullable=False),
    Column("due_at", BigInteger, nullable=True),
    Column("reply_due_at", BigInteger, nullable=True),
    Column("accepted_at", BigInteger, nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    Column("decided_by", String(200), nullable=True),
    Column("reasons", Text, nullable=True),
    Column("outcome", Text, nullable=True),  # JSON: records filed, decisions affected
    Index("ix_cases_subject", "subject"),
    Index("ix_cases_status", "status"),
)

attachments = Table(
    "sc_attachments", METADATA,
    Column("case_id", String(40), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("content", LargeBinary, nullable=True),  # None once erased
    PrimaryKeyConstraint("case_id", "sha256", name="pk_sc_attachments"),
)

consents = Table(
    "sc_consents", METADATA,
    Column("grant_id", String(40), primary_key=True),
    Column("subject", String(400), nullable=False),
    Column("relying_party", String(200), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("scope", String(20), nullable=False),
    Column("granted_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_consents_subject", "subject"),
    Index("ix_consents_party", "relying_party"),
)

# Every read of a standing or decision by anyone but the subject. subject NULL: a read of
# a whole population (every subject sees it).
access_log = Table(
    "sc_access_log", METADATA,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("subject", String(400), nullable=True),
    Column("principal_id", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("operation", String(60), nullable=False),
    Column("program", String(200), nullable=True),
    Column("purpose", Text, nullable=True),
    Column("grant_id", String(40), nullable=True),
    Column("detail", Text, nullable=True),
    Index("ix_access_subject", "subject"),
)

# What due process does to standings (dueprocess/effects.py reads it): suspensions,
# deadline lapses, repairs, listings held for an undelivered notice, erasures.
effects = Table(
    "sc_effects", METADATA,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("subject", String(400), nullable=False),
    Column("record_id", String(400), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("program", String(200), nullable=True),
    Column("list_id", String(200), nullable=True),
    Column("start_at", BigInteger, nullable=False),
    Column("end_at", BigInteger, nullable=True),
    Column("case_id", String(40), nullable=True),
    Column("notice_id", String(40), nullable=True),
    Index("ix_effects_subject", "subject"),
)

# Erasure tombstones: the record's hash stays so log and audit still verify; its data
# is gone. The subject appears only as its log commitment.
erasures = Table(
    "sc_erasures", METADATA,
    Column("record_id", String(400), primary_key=True),
    Column("record_sha256", String(64), nullable=False),
    Column("commitment", String(64), nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("published_until", BigInteger, nullable=False),
    Column("erased_at", BigInteger, nullable=False),
)

__all__ = ["METADATA", "access_log", "attachments", "cases", "consents", "delivery_attempts",
           "effects", "erasures", "notices", "outbox", "principals", "tokens"]
