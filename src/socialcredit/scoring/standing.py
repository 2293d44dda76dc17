"""What a standing is: the score and everything needed to explain and contest it."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

from socialcredit.timeutil import format_instant

T = TypeVar("T")


def assemble(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of the frozen dataclass `cls` from its fields' values (those not
    given take their defaults), equal to what `cls(**values)` makes. A frozen
    dataclass's __init__ sets each field through object.__setattr__: for a decision's
    twenty-field standing that costs more than evaluating the row it comes from, on a
    path (a decision read from the materialized table) that builds one per call."""
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        defaults = _DEFAULTS[cls] = _defaults(cls)
    constants, factories = defaults
    # the instance's dict built whole and handed over: filling the dict an instance
    # starts with grew it twice per call (~1 µs of a ~15 µs decision, twice)
    d = {**constants, **values}
    for name, make in factories:
        if name not in values:
            d[name] = make()
    obj = object.__new__(cls)
    _set(obj, "__dict__", d)
    return obj


def whole(cls: type[T], values: dict[str, Any]) -> T:
    """`assemble` where `values` names every field of `cls` (and nothing else): the
    dict becomes the instance's (the caller hands it over), with no merge at all."""
    obj = object.__new__(cls)
    _set(obj, "__dict__", values)
    return obj


_set = object.__setattr__


def _defaults(cls: type) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...]]:
    """A dataclass's default values, and its default factories by field."""
    constants: dict[str, Any] = {}
    factories: list[tuple[str, Any]] = []
    for f in fields(cls):
        if f.default is not MISSING:
            constants[f.name] = f.default
        elif f.default_factory is not MISSING:
            factories.append((f.name, f.default_factory))
    return constants, tuple(factories)


_DEFAULTS: dict[type, tuple[dict[str, Any], tuple[tuple[str, Any], ...]]] = {}


@dataclass(frozen=True)
class Contribution:
    record_id: str
    type: str
    rule: int  # index into the rulebook's rules
    dimension: str
    points: float
    contribution: float
    occurred_at: int
    age_days: float
    resolved: bool
    label: str | None = None
    # lex mitior: the version whose rule scored it, when not the version in force at t
    # ("none": no version was in force when it occurred, so it counts nothing against)
    scored_under: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"record_id": self.record_id, "type": self.type, "rule": self.rule,
               "dimension": self.dimension, "points": self.points,
               "contribution": self.contribution,
               "occurred_at": format_instant(self.occurred_at),
               "age_days": self.age_days, "resolved": self.resolved, "label": self.label}
        if self.scored_under is not None:
            out["scored_under"] = self.scored_under
        return out


def contribution(record_id: str, type_: str, rule: int, dimension: str, points: float,
                 contribution: float, occurred_at: int, age_days: float, resolved: bool,
                 label: str | None = None, scored_under: str | None = None) -> Contribution:
    """Contribution(...) of these values — equal, hashed, shown and frozen alike — built
    by handing the instance its dict whole (as `assemble`, without the defaults: every
    field is given). The standing builds one per record that counts, and the frozen
    dataclass's __init__, one object.__setattr__ per field, cost half the standing's
    contributions (a busy subject's ~90: ~50 µs)."""
    c = object.__new__(Contribution)
    _set(c, "__dict__", {
        "record_id": record_id, "type": type_, "rule": rule, "dimension": dimension,
        "points": points, "contribution": contribution, "occurred_at": occurred_at,
        "age_days": age_days, "resolved": resolved, "label": label,
        "scored_under": scored_under})
    return c


@dataclass(frozen=True)
class AttributeScore:
    attribute: int
    record: str  # the fact type
    dimension: str
    record_id: str | None  # None: no fact, `missing` points
    value: float | str | None
    bin: int | None
    points: float

    def as_dict(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "record": self.record, "dimension": self.dimension,
                "record_id": self.record_id, "value": self.value, "bin": self.bin,
                "points": self.points}


@dataclass(frozen=True)
class ListEntry:
    list: str
    kind: str
    public: bool
    record_id: str | None  # the record that triggered it (None for score lists)
    notice_from: int | None
    start: int | None
    end: int | None
    ended_by: str | None  # resolution record id, or "max_duration"

    def as_dict(self) -> dict[str, Any]:
        return {"list": self.list, "kind": self.kind, "public": self.public,
                "record_id": self.record_id, "notice_from": format_instant(self.notice_from),
                "start": format_instant(self.start), "end": format_instant(self.end),
                "ended_by": self.ended_by}


@dataclass(frozen=True)
class RulebookRef:
    id: str
    version: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True)
class Standing:
    subject: str
    subject_kind: str | None
    program: str
    at: int
    known_at: int
    applies: bool
    score: float
    tier: str | None
    dimensions: dict[str, float]
    lists: list[str]
    list_entries: list[ListEntry]
    pending: list[ListEntry]  # notified, not yet in effect: the objection window
    contributions: list[Contribution]
    attributes: list[AttributeScore]
    key_factors: list[Contribution]
    rulebook: RulebookRef
    projection: bool = False
    notes: list[str] = field(default_factory=list)
    # listings held back by due process (an objection, an undelivered notice): each
    # {"entry": ListEntry.as_dict(), "reason": ..., "case_id": ...}
    suspended: list[dict[str, Any]] = field(default_factory=list)
    # a record that counted at this time has since been erased (retention): this past
    # standing cannot be reproduced and says so
    erased: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "subject_kind": self.subject_kind,
            "program": self.program,
            "at": format_instant(self.at),
            "known_at": format_instant(self.known_at),
            "projection": self.projection,
            "applies": self.applies,
            "score": self.score,
            "tier": self.tier,
            "dimensions": dict(self.dimensions),
            "lists": list(self.lists),
            "list_entries": [e.as_dict() for e in self.list_entries],
            "pending_lists": [e.as_dict() for e in self.pending],
            "contributions": [c.as_dict() for c in self.contributions],
            "attributes": [a.as_dict() for a in self.attributes],
            "key_factors": [c.as_dict() for c in self.key_factors],
            "rulebook": self.rulebook.as_dict(),
            "notes": list(self.notes),
            # only when due process has something to say, so that standings without it
            # read exactly as before
            **({"suspended_lists": list(self.suspended)} if self.suspended else {}),
            **({"erased": True} if self.erased else {}),
        }
