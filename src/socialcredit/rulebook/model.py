"""The rulebook as a validated, immutable model.

Models are frozen: a published rulebook is identified by the sha256 of its canonical
form, so nothing may change it after validation. Durations are normalised to days at
validation time so that `5y` and `1825` canonicalise (and hash) identically.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from itertools import pairwise
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from socialcredit.timeutil import parse_duration_days

Kind = Literal["conduct", "fact", "resolution", "void"]
SubjectKind = Literal["person", "organization"]


def _duration(value: object) -> object:
    if value is None:
        return None
    return parse_duration_days(value)


def _to_str(value: object) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Days = Annotated[float, BeforeValidator(_duration)]
Text = Annotated[str, BeforeValidator(_to_str)]
Scalar = str | float


class _Model(BaseModel):
    """Frozen, no unknown keys (a typo such as `expire:` must not pass silently),
    but documentation keys are welcome everywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str | None = None
    description: str | None = None
    note: str | None = None
    source: str | None = None
    illustrative: bool | None = None


class Scale(_Model):
    base: float
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Scale:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("scale.min must not exceed scale.max")
        return self


class Dimension(_Model):
    id: Text
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Dimension:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"dimension {self.id}: min must not exceed max")
        return self


class RecordType(_Model):
    id: Text
    kind: Kind
    category: str | None = None  # what the data is about (linter, baseline)
    context: str | None = None  # where the data was generated (linter)
    providers: tuple[str, ...] = ()
    evidence: Literal["required", "optional"] = "optional"
    legal_basis: str | None = None
    severity: Literal["minor", "general", "serious"] | None = None
    value: Literal["number", "text", "any"] | None = None


class Rule(_Model):
    record: Text
    dimension: Text
    points: float | None = None
    points_per_unit: float | None = None
    half_life: Days | None = Field(default=None, gt=0)
    expires: Days | None = Field(default=None, gt=0)
    max_count: int | None = Field(default=None, ge=1)
    resolved_points: float | None = None
    # Whose standing the record counts against. Only `self` is ever operated: any
    # other value (relatives, contacts, ...) is a line the system does not cross,
    # modelled so that the refusal can be stated and tested.
    applies_to: str = "self"

    @model_validator(mode="after")
    def _one_points(self) -> Rule:
        if (self.points is None) == (self.points_per_unit is None):
            raise ValueError("a rule needs exactly one of points or points_per_unit")
        return self

    def may_be_negative(self) -> bool:
        return any(
            p is not None and p < 0
            for p in (self.points, self.points_per_unit, self.resolved_points)
        )


class Bin(_Model):
    below: float | None = None
    values: tuple[Scalar, ...] | None = None
    points: float

    @model_validator(mode="after")
    def _one_test(self) -> Bin:
        if self.below is not None and self.values is not None:
            raise ValueError("a bin takes `below` or `values`, not both")
        return self


class Attribute(_Model):
    record: Text
    dimension: Text
    bins: tuple[Bin, ...]
    missing: float = 0.0
    expires: Days | None = Field(default=None, gt=0)
    applies_to: str = "self"
    # Optional refinements of the record type's own category/context, read by the linter
    # and the baseline (e.g. an imported scorecard names what each variable is about).
    category: str | None = None
    context: str | None = None


class Tier(_Model):
    id: Text
    min: float


class EnterWhen(_Model):
    record: Text | None = None
    score_below: float | None = None

    @model_validator(mode="after")
    def _one(self) -> EnterWhen:
        if (self.record is None) == (self.score_below is None):
            raise ValueError("enter_when needs exactly one of record or score_below")
        return self


class ListDef(_Model):
    id: Text
    kind: Literal["black", "red"]
    public: bool = False
    enter_when: EnterWhen
    notice: Days = 0.0
    max_duration: Days | None = Field(default=None, gt=0)
    legal_basis: str | None = None
    applies_to: str = "self"


class When(_Model):
    on_list: Text | None = None
    not_on_list: Text | None = None
    tier_at_least: Text | None = None
    score_at_least: float | None = None
    score_below: float | None = None

    def conditions(self) -> dict[str, Any]:
        return {
            k: v
            for k in ("on_list", "not_on_list", "tier_at_least", "score_at_least", "score_below")
            if (v := getattr(self, k)) is not None
        }


class Consequence(_Model):
    action: Text
    context: str | None = None
    effect: Literal["deny", "allow", "benefit"]
    grant: dict[str, Any] | None = None
    when: When = When()
    provider: str | None = None  # the agency or relying party that declared it
    category: str | None = None  # what the treatment is (e.g. travel_ban; linter reads it)
    legal_basis: str | None = None
    applies_to: str = "self"
    duration: Days | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _grant(self) -> Consequence:
        if self.grant and self.effect != "benefit":
            raise ValueError("only effect: benefit takes a grant")
        return self


class Rulebook(_Model):
    """One version of one program."""

    rulebook: Text
    version: Text
    title: str | None = None
    subjects: tuple[Literal["person", "organization"], ...] = ("person",)
    scale: Scale
    dimensions: tuple[Dimension, ...] = ()
    record_types: tuple[RecordType, ...] = ()
    rules: tuple[Rule, ...] = ()
    attributes: tuple[Attribute, ...] = ()
    tiers: tuple[Tier, ...] = ()
    lists: tuple[ListDef, ...] = ()
    consequences: tuple[Consequence, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Rulebook:
        """Every record type, dimension, list and tier a rule names must be declared."""
        errors: list[str] = []

        def unique(kind: str, ids: list[str]) -> None:
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    errors.append(f"{kind} {i!r} is declared twice")
                seen.add(i)

        unique("dimension", [d.id for d in self.dimensions])
        unique("record type", [t.id for t in self.record_types])
        unique("tier", [t.id for t in self.tiers])
        unique("list", [x.id for x in self.lists])
        if not self.subjects:
            errors.append("subjects: name at least one kind (person, organization)")
        types = {t.id: t for t in self.record_types}
        dims = {d.id for d in self.dimensions}
        lists = {x.id for x in self.lists}
        tiers = {t.id for t in self.tiers}
        for i, r in enumerate(self.rules):
            t = types.get(r.record)
            if t is None:
                errors.append(f"rules[{i}].record: record type {r.record!r} is not declared")
            elif t.kind not in ("conduct", "fact"):
                errors.append(f"rules[{i}].record: {r.record!r} is a {t.kind} record; "
                              "rules score conduct or fact records")
            if r.dimension not in dims:
                errors.append(f"rules[{i}].dimension: dimension {r.dimension!r} is not declared")
        for i, a in enumerate(self.attributes):
            t = types.get(a.record)
            if t is None:
                errors.append(f"attributes[{i}].record: record type {a.record!r} is not declared")
            elif t.kind not in ("conduct", "fact"):
                errors.append(f"attributes[{i}].record: {a.record!r} is a {t.kind} record")
            if a.dimension not in dims:
                errors.append(
                    f"attributes[{i}].dimension: dimension {a.dimension!r} is not declared")
        mins = [t.min for t in self.tiers]
        if any(a < b for a, b in pairwise(mins)):
            errors.append("tiers: list them highest first (each min ≤ the one before)")
        for i, x in enumerate(self.lists):
            rec = x.enter_when.record
            if rec is not None and rec not in types:
                errors.append(f"lists[{i}].enter_when.record: record type {rec!r} is not declared")
        for i, c in enumerate(self.consequences):
            w = c.when
            for key in ("on_list", "not_on_list"):
                v = getattr(w, key)
                if v is not None and v not in lists:
                    errors.append(f"consequences[{i}].when.{key}: list {v!r} is not declared")
            if w.tier_at_least is not None and w.tier_at_least not in tiers:
                errors.append(
                    f"consequences[{i}].when.tier_at_least: tier {w.tier_at_least!r} "
                    "is not declared")
        for t in self.record_types:
            if t.kind == "void" and any(p != "reviewer" for p in t.providers):
                errors.append(f"record type {t.id!r}: only reviewers may submit voids "
                              "(providers: [reviewer])")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    # -- derived views (cached: the model is frozen) --------------------------------

    @property
    def id(self) -> str:
        return self.rulebook

    def canonical(self) -> str:
        """Canonical JSON: normalised values, sorted keys, no whitespace, no nulls."""
        return _canonical_cache(self)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @cached_property
    def types(self) -> dict[str, RecordType]:
        return {t.id: t for t in self.record_types}

    @cached_property
    def tier_rank(self) -> dict[str, int]:
        return {t.id: i for i, t in enumerate(self.tiers)}

    @cached_property
    def scored_types(self) -> frozenset[str]:
        """Types with a rule or attribute: the records a standing reads."""
        return frozenset(r.record for r in self.rules) | frozenset(
            a.record for a in self.attributes)

    @cached_property
    def list_types(self) -> frozenset[str]:
        return frozenset(x.enter_when.record for x in self.lists if x.enter_when.record)

    def applies_to(self, subject_kind: str | None) -> bool:
        return subject_kind in self.subjects


def _canonical_cache(rb: Rulebook) -> str:
    cached = rb.__dict__.get("_canonical")
    if cached is None:
        data = rb.model_dump(mode="json", exclude_none=True)
        cached = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        rb.__dict__["_canonical"] = cached
    return str(cached)
