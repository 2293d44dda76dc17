"""In-memory shapes of ledger rows, shared by the store, ingest and the engines."""

from __future__ import annotations

from dataclasses import dataclass

from socialcredit.rulebook.model import Rulebook


@dataclass(frozen=True, slots=True)
class Record:
    record_id: str
    provider: str
    subject: str
    type: str
    kind: str
    occurred_at: int
    recorded_at: int
    value_num: float | None = None
    value_text: str | None = None
    evidence: str | None = None
    ref: str | None = None
    # when this ledger stored it, if later than recorded_at (a backfill)
    ingested_at: int | None = None

    @property
    def value(self) -> float | str | None:
        return self.value_num if self.value_num is not None else self.value_text

    @property
    def known_at(self) -> int:
        """When this ledger first knew the record: notice runs from here."""
        return self.recorded_at if self.ingested_at is None else max(self.recorded_at,
                                                                      self.ingested_at)


@dataclass(frozen=True)
class ProgramVersion:
    program: str
    version: str
    effective_at: int
    published_at: int
    sha256: str
    rulebook: Rulebook
    seq: int


@dataclass(frozen=True)
class TypeInfo:
    """A record type as the ledger validates it: the union over programs that declare it."""

    id: str
    kind: str
    providers: frozenset[str]
    evidence_required: bool
    numeric: bool  # some program scores it per unit: its value must be a number
    declared_by: tuple[str, ...]
    # scored per unit and negative values not declared allowed: a negative value would
    # turn a reward into a penalty, so ingest refuses it
    nonnegative: bool = False
    # resolution type -> the provider roles that may file it against this type
    resolved_by: dict[str, frozenset[str]] | None = None
