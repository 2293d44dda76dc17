"""Events and the sink they go to.

The ledger and the domain describe what happened (a rulebook published, a subject
listed, a record voided) as events; they do not know where events go. The service
layer hands in the sink — the transparency log in a real ledger — and writes events in
the same transaction as the change that causes them, so both commit or neither does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection


@dataclass(frozen=True)
class Event:
    """Something the public may learn: a kind and a payload without personal data."""

    kind: str
    payload: dict[str, Any]


class EventSink(Protocol):
    """Where events go, inside the caller's transaction."""

    def emit(self, conn: Connection, events: Sequence[Event]) -> list[int]:
        """Write the events; returns where each went (the log's leaf indexes), in order."""
        ...

    def commitment(self, conn: Connection, subject: str) -> str:
        """How a subject appears in a public event (never its id in clear)."""
        ...

    def commitments(self, conn: Connection, subjects: Iterable[str]) -> dict[str, str]:
        """subject -> commitment of many subjects, in bulk (an ingest's listings)."""
        ...
