"""The transparency log as the ledger's event sink (see socialcredit.events)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from socialcredit.events import Event
from socialcredit.transparency.events import (
    append_leaves,
    commitment_for,
    commitments_for,
    event_leaf,
    log_events,
)


class TransparencySink:
    """Events become leaves (and one new signed checkpoint) in the caller's transaction."""

    def emit(self, conn: Connection, events: Sequence[Event]) -> list[int]:
        return log_events(conn, [(e.kind, e.payload) for e in events])

    def encode(self, events: Sequence[Event]) -> list[bytes]:
        return [event_leaf(e.kind, e.payload) for e in events]

    def emit_encoded(self, conn: Connection, data: Sequence[bytes]) -> list[int]:
        return append_leaves(conn, data)

    def commitment(self, conn: Connection, subject: str) -> str:
        return commitment_for(conn, subject)

    def commitments(self, conn: Connection, subjects: Iterable[str]) -> dict[str, str]:
        return commitments_for(conn, subjects)


__all__ = ["TransparencySink"]
