"""The transparency log: an RFC 9162 Merkle log of due-process events, signed checkpoints.

Why it exists: a person put on a blacklist must be able to see that it happened,
when, on which records and under which rulebook, and the public must be able to
see that the operator cannot quietly rewrite or drop such events afterwards. The
ledger logs each event in the same transaction as the record that causes it
(`log_events`), leaves carry no personal data (subjects appear as salted
commitments), and anyone holding the published verifier key can check inclusion
and consistency proofs against signed checkpoints.

Modules: `merkle` (hashes, proofs, verification), `store` (the log in SQL),
`checkpoint` (keys, signed notes), `events` (leaf formats, commitments),
`verify` (full recomputation, export), `cli` (`socialcredit log ...`).
"""

from socialcredit.transparency.checkpoint import (
    Checkpoint,
    Verifier,
    checkpoint,
    create_key,
    latest_checkpoint,
    list_checkpoints,
    log_verifier,
    verify_checkpoint_note,
)
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.events import (
    EVENT_KINDS,
    commitment_for,
    commitments_for,
    event_leaf,
    log_events,
    parse_leaf,
    reveal_salt,
    salt_for,
    salts_for,
    subject_commitment,
)
from socialcredit.transparency.schema import create_tables
from socialcredit.transparency.store import TransparencyLog
from socialcredit.transparency.verify import VerifyReport, export_log, verify_export, verify_log

__all__ = [
    "EVENT_KINDS",
    "Checkpoint",
    "TransparencyError",
    "TransparencyLog",
    "Verifier",
    "VerifyReport",
    "checkpoint",
    "commitment_for",
    "commitments_for",
    "create_key",
    "create_tables",
    "event_leaf",
    "export_log",
    "latest_checkpoint",
    "list_checkpoints",
    "log_events",
    "log_verifier",
    "parse_leaf",
    "reveal_salt",
    "salt_for",
    "salts_for",
    "subject_commitment",
    "verify_checkpoint_note",
    "verify_export",
    "verify_log",
]
