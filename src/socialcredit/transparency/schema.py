"""Tables of the transparency log, on their own MetaData so the ledger's migrations and
the log's never step on each other. Every table is prefixed `tlog_`.

Integers that count leaves are BIGINT on PostgreSQL (logs outgrow 2**31) and plain
INTEGER on SQLite, where only `INTEGER PRIMARY KEY` is the fast rowid alias.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlalchemy.exc import IntegrityError

METADATA = MetaData()

BigInt = BigInteger().with_variant(Integer(), "sqlite")

# One row: the committed size and number of checkpoints. Appends take its row lock
# first (UPDATE ... RETURNING), which serialises writers on PostgreSQL and takes
# SQLite's write lock up front. The counts also let the verifier notice leaves or
# checkpoints deleted from the end.
state = Table(
    "tlog_state",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInt, nullable=False),
    Column("checkpoints", BigInt, nullable=False, server_default="0"),
    # which key (a file outside the database, see keys.py) encrypts the subject salts
    Column("salt_key_id", String(16), nullable=True),
    CheckConstraint("id = 1", name="tlog_state_single_row"),
)

# The leaves: RFC 6962 leaf inputs, and their leaf hash SHA-256(0x00 || data).
leaves = Table(
    "tlog_leaves",
    METADATA,
    Column("idx", BigInt, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

# The hash of every complete aligned subtree of level >= 1: node (level, idx) covers
# leaves [idx * 2**level, (idx + 1) * 2**level). Level 0 is tlog_leaves.leaf_hash.
# About one row per leaf in all; any proof then reads O(log n) of them.
# `pos` is the node's place in the order hashes are completed while leaves are
# appended (see `node_pos`), so appends only ever add rows at the end of the
# primary-key index and a proof's nodes are fetched with one `pos IN (...)`.
nodes = Table(
    "tlog_nodes",
    METADATA,
    Column("pos", BigInt, primary_key=True, autoincrement=False),
    Column("level", SmallInteger, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
)


def node_pos(level: int, idx: int) -> int:
    """Where node (level, idx) falls in the sequence of hashes a log completes.

    Appending leaf j completes its leaf hash and then one node per trailing 1-bit
    of j (levels 1, 2, ...). Before leaf j, leaves 0..j-1 completed
    j + j//2 + j//4 + ... hashes; node (level, idx) is completed by leaf
    j = (idx + 1) * 2**level - 1, at offset `level` of that leaf's hashes.
    (Positions of level-0 hashes stay unused: they live in tlog_leaves.)
    """
    j = ((idx + 1) << level) - 1
    return 2 * j - j.bit_count() + level  # j + j//2 + j//4 + ... == 2j - popcount(j)


# The log's public key. The private key lives outside the database (keys.py: a key file
# or an external signer); `private_key` is NULL except in a ledger from before revision
# 0201 that `db upgrade` has not yet moved out.
keys = Table(
    "tlog_keys",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(255), nullable=False),
    Column("key_id", String(8), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("private_key", LargeBinary(32), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="tlog_keys_single_row"),
)

# Signed tree heads. id is 1, 2, 3, ... with no gaps (assigned under the state lock,
# never by a sequence, which leaves gaps on rollback), so a deleted checkpoint shows.
checkpoints = Table(
    "tlog_checkpoints",
    METADATA,
    Column("id", BigInt, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Per-subject salts for the commitments that stand for subjects in leaves, encrypted with
# the salt key (keys.py), so the database alone cannot link a commitment to a subject.
# Deleting a subject's salt makes its leaves unlinkable to it for good (the log stays).
subject_salts = Table(
    "tlog_subject_salts",
    METADATA,
    Column("subject", String(255), primary_key=True),
    Column("salt", LargeBinary, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)


def create_tables(bind: Engine | Connection) -> None:
    """Create the tlog_ tables if missing and the state row (idempotent).

    Given a Connection, works inside the caller's transaction (the ledger's `init`).
    """
    METADATA.create_all(bind)
    if isinstance(bind, Connection):
        if bind.execute(state.select()).first() is None:
            bind.execute(state.insert().values(id=1, size=0, checkpoints=0))
        return
    try:
        with bind.begin() as conn:
            if conn.execute(state.select()).first() is None:
                conn.execute(state.insert().values(id=1, size=0, checkpoints=0))
    except IntegrityError:  # a concurrent create_tables inserted it first
        pass
