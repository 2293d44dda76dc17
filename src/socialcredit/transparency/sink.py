"""The transparency log as the ledger's event sink (see socialcredit.events)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from socialcredit.events import Event
from socialcredit.transparency.events import commitment_for, commitments_for, log_events


class TransparencySink:
    """Events become leaves (and one new signed checkpoint) in the caller's transaction."""

    def emit(self, conn: Connection, events: Sequence[Event]) -> list[int]:
        return log_events(conn, [(e.kind, e.payload) for e in events])

    def commitment(self, conn: Connection, subject: str) -> str:
        return commitment_for(conn, subject)

    def commitments(self, conn: Connection, subjects: Iterable[str]) -> dict[str, str]:
        return commitments_for(conn, subjects)


__all__ = ["TransparencySink"]
