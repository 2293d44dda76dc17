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

    @property
    def value(self) -> float | str | None:
        return self.value_num if self.value_num is not None else self.value_text


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
    # scored per unit as a reward that never expires: a negative value would be an
    # unexpiring penalty the baseline never saw, so ingest refuses it
    nonnegative: bool = False
