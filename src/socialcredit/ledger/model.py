"""In-memory shapes of ledger rows, shared by the store, ingest and the engines."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

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



class _Building:
    """A Record's slots, writable: a Record is built as one of these, its fields stored
    by plain attribute stores, then given its class (the two layouts are the same, so
    CPython allows the assignment). A frozen dataclass's __init__ goes through
    object.__setattr__ once per field, which made building a subject's Records cost more
    than reading them (1,000 records: ~1.7 ms of a ~4 ms live standing); the slots' own
    setters called one by one still cost ~0.65 ms, this ~0.3 ms."""

    __slots__ = tuple(f.name for f in fields(Record))


def records_of_rows(rows: Iterable[Sequence[Any]], subject: str) -> list[Record]:
    """Records from rows of (record_id, provider, type, kind, occurred_at, recorded_at,
    value_num, value_text, evidence, ref, ingested_at) about one subject: the same frozen
    Records (equal, hashable, `dataclasses.replace`-able) as Record(...) gives, several
    times faster, because the ledger's hot read builds one per record of a standing.
    `rows` may be a driver's cursor: each row's tuple is then freed as soon as its Record
    is built (reused for the next row, and never counted towards a garbage collection)."""
    building = _Building
    record = Record
    out: list[Record] = []
    append = out.append
    # the row unpacked by the loop itself: one instruction, not eleven subscripts
    for record_id, provider, type_, kind, occurred_at, recorded_at, value_num, value_text, \
            evidence, ref, ingested_at in rows:
        o: Any = building()
        o.record_id = record_id
        o.provider = provider
        o.subject = subject
        o.type = type_
        o.kind = kind
        o.occurred_at = occurred_at
        o.recorded_at = recorded_at
        o.value_num = value_num
        o.value_text = value_text
        o.evidence = evidence
        o.ref = ref
        o.ingested_at = ingested_at
        o.__class__ = record
        append(o)
    return out


def records_and_top(rows: Iterable[Sequence[Any]], subject: str
                    ) -> tuple[list[Record], int | None]:
    """`records_of_rows` of rows with the record's seq as a twelfth column, and the
    highest seq among them (None without rows): a subject's records and, from the same
    statement, what its mark needs."""
    building = _Building
    record = Record
    out: list[Record] = []
    append = out.append
    top = None
    for record_id, provider, type_, kind, occurred_at, recorded_at, value_num, value_text, \
            evidence, ref, ingested_at, seq in rows:
        o: Any = building()
        o.record_id = record_id
        o.provider = provider
        o.subject = subject
        o.type = type_
        o.kind = kind
        o.occurred_at = occurred_at
        o.recorded_at = recorded_at
        o.value_num = value_num
        o.value_text = value_text
        o.evidence = evidence
        o.ref = ref
        o.ingested_at = ingested_at
        o.__class__ = record
        append(o)
        if top is None or seq > top:
            top = seq
    return out, (None if top is None else int(top))


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
