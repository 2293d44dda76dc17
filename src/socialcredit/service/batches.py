"""What the public log learns about rows it must later vouch for: record batches and
provider registrations.

Every committed ingest stores its records as one batch: the batch gets an id (the seq of
its entry in the operations log), each record carries that id and its canonical hash
(`ledger.digest`), and the batch's `records.batch` leaf commits to how many records it
stored, their seq range and the RFC 9162 root over their hashes in seq order. Verify
(service/audit.py) recomputes all of it, so a record changed, deleted or inserted by SQL
no longer goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from socialcredit.events import Event
from socialcredit.ledger import schema as s
from socialcredit.ledger.digest import record_hashes
from socialcredit.ledger.store import Ledger
from socialcredit.timeutil import format_instant
from socialcredit.transparency import merkle


class RecordBatch:
    """The records one ingest stores, with their batch id and hashes appended.

    `rows` are record tuples in the ledger's RECORD_COLUMNS order without the last two
    (batch, digest) — the fields `ledger.digest` hashes; `stored_rows` adds them, ready
    for `Ledger.insert_records`."""

    def __init__(self, ledger: Ledger, conn: Connection, rows: Sequence[tuple[Any, ...]],
                 source: str) -> None:
        self.ledger = ledger
        self.count = len(rows)
        self.batch: int | None = None
        self.stored_rows: list[tuple[Any, ...]] = []
        self.root = merkle.EMPTY_ROOT
        if not rows:
            return
        self.batch = ledger.operation(conn, "records.batch",
                                      {"source": source, "records": len(rows)})
        hashes = record_hashes(rows)
        self.stored_rows = [(*r, self.batch, h) for r, h in zip(rows, hashes, strict=True)]
        self.root = merkle.mth(hashes)

    def events(self, conn: Connection, stored_at: int) -> list[Event]:
        """The batch's leaf, once its records are stored (none for an empty batch).
        `stored_at` is the ledger's clock at the ingest (a backfill's records keep
        their own recorded_at)."""
        if self.batch is None:
            return []
        c = s.records.c
        # by the batch's first and last record ids (indexed), kept to this batch: seq
        # follows insertion order within a transaction on both databases
        first, last = conn.execute(
            select(func.min(c.seq), func.max(c.seq)).where(
                c.record_id.in_([self.stored_rows[0][0], self.stored_rows[-1][0]]),
                c.batch == self.batch)).one()
        return [Event("records.batch", {
            "batch": self.batch, "count": self.count, "root": self.root.hex(),
            "first_seq": int(first), "last_seq": int(last),
            "stored_at": format_instant(stored_at)})]


def provider_event(provider: str, role: str, registered_at: int) -> Event:
    return Event("provider.registered", {"provider": provider, "role": role,
                                         "registered_at": format_instant(registered_at)})


__all__ = ["RecordBatch", "provider_event"]
