"""Catalogues: the published allowlist of what may be recorded and what may be done.

China's National Basic Catalogue of Public Credit Information says what public credit
information may contain, and regions and departments may not widen it on their own; the
National Basic List of Disciplinary Measures says which sanctions exist, each with its
legal basis. A catalogue here is that model as a versioned YAML artifact, published and
logged like a rulebook:

* **items**: information that may be recorded — who may provide it (provider roles),
  about which kinds of subject, how public it may be, how long it may count, and on
  what legal basis;
* **measures**: treatments that may follow — sanction or benefit, on what legal basis,
  for how long at most.

A rulebook names one catalogue version; each of its record types cites an item and each
deny or benefit consequence a measure. :func:`citation_violations` says where a
rulebook leaves its catalogue; the engine refuses to publish it then, and refuses any
catalogue (or rulebook citing one) whose items or measures the protected-category
lexicon flags. Review: docs/catalogues.md.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from socialcredit.errors import RefusedRulebook, RulebookError
from socialcredit.rulebook import lexicon
from socialcredit.rulebook.baseline import Violation
from socialcredit.rulebook.loader import PathKey, dotted, parse_model, source_line, source_name
from socialcredit.rulebook.model import Days, Rulebook, RulebookModel, SubjectKind, Text

LINE_CATALOGUE = "only what the catalogue allows"
LINE_PROTECTED = "protected characteristics"

Publicity = Literal["public", "restricted", "private"]


def _doc(text: str, example: Any = None) -> Any:
    return {"description": text, **({"examples": [example]} if example is not None else {})}


class Item(RulebookModel):
    id: Text = Field(**_doc("The item's id, as a record type's `item:` cites it.",
                            "judicial.dishonest_judgment_defaulter"))
    category: str | None = Field(None, **_doc(
        "What the information is about, in words; the lexicon reads it.", "court_judgment"))
    subjects: tuple[SubjectKind, ...] = Field(("person", "organization"), **_doc(
        "The kinds of subject it may be recorded about; a rulebook citing it applies to "
        "no other kind.", ["person", "organization"]))
    providers: tuple[str, ...] = Field(**_doc(
        "The provider roles (authorities) that may provide it; a record type citing it "
        "names no other role.", ["court"]))
    publicity: Publicity = Field("restricted", **_doc(
        "`public`: it may be published (a public list may rest on it); `restricted`: "
        "shared with authorised users only; `private`: the subject and the provider "
        "only.", "public"))
    max_validity: Days | None = Field(None, gt=0, **_doc(
        "The longest it may count against or for the subject: a rule's `expires`, an "
        "attribute's `expires` and a list's `max_duration` on it may not exceed it. "
        "Absent: no bound from the catalogue (the baseline's still hold).", "3y"))
    legal_basis: str = Field(**_doc(
        "The law, regulation or contract that allows recording it.",
        "SPC Provisions on Publishing the List of Dishonest Judgment Defaulters"))

    @model_validator(mode="after")
    def _checks(self) -> Item:
        if not self.providers:
            raise ValueError(f"item {self.id}: name the provider roles that may provide it")
        if not self.legal_basis.strip():
            raise ValueError(f"item {self.id}: a legal basis is required")
        return self


class Measure(RulebookModel):
    id: Text = Field(**_doc("The measure's id, as a consequence's `measure:` cites it.",
                            "restrict_high_speed_rail"))
    kind: Literal["sanction", "benefit"] = Field(**_doc(
        "`sanction` (cited by `effect: deny`) or `benefit` (cited by `effect: benefit`).",
        "sanction"))
    category: str | None = Field(None, **_doc(
        "What the treatment is, in words; the lexicon reads it.", "travel_restriction"))
    subjects: tuple[SubjectKind, ...] = Field(("person", "organization"), **_doc(
        "The kinds of subject it may be applied to.", ["person"]))
    max_duration: Days | None = Field(None, gt=0, **_doc(
        "The longest it may last: a consequence's `duration` and the `max_duration` of "
        "any list its `when` names may not exceed it.", "2y"))
    legal_basis: str = Field(**_doc(
        "The law or regulation that creates the measure.",
        "SPC Provisions on Restricting High Consumption by Judgment Debtors, Art. 3"))

    @model_validator(mode="after")
    def _checks(self) -> Measure:
        if not self.legal_basis.strip():
            raise ValueError(f"measure {self.id}: a legal basis is required")
        return self


class Catalogue(RulebookModel):
    """One version of one catalogue."""

    catalogue: Text = Field(**_doc(
        "The catalogue's id; a rulebook names it in `catalogue: {id, version}`.",
        "cn-public-credit"))
    version: Text = Field(**_doc("This version's name, unique within the catalogue.",
                                 "2024"))
    title: str | None = Field(None, **_doc("A one-line title for people.",
                                           "National basic catalogue (as modelled here)"))
    issuer: str | None = Field(None, **_doc(
        "Who issues the catalogue this file models.", "NDRC and the People's Bank of China"))
    items: tuple[Item, ...] = Field((), **_doc(
        "Information that may be recorded."))
    measures: tuple[Measure, ...] = Field((), **_doc(
        "Treatments that may follow."))

    @model_validator(mode="after")
    def _unique(self) -> Catalogue:
        errors = []
        for kind, ids in (("item", [i.id for i in self.items]),
                          ("measure", [m.id for m in self.measures])):
            seen: set[str] = set()
            for i in ids:
                if i in seen:
                    errors.append(f"{kind} {i!r} is declared twice")
                seen.add(i)
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def canonical(self) -> str:
        cached = self.__dict__.get("_canonical")
        if cached is None:
            cached = json.dumps(self.model_dump(mode="json", exclude_none=True),
                                sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            self.__dict__["_canonical"] = cached
        return str(cached)

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @cached_property
    def item_by_id(self) -> dict[str, Item]:
        return {i.id: i for i in self.items}

    @cached_property
    def measure_by_id(self) -> dict[str, Measure]:
        return {m.id: m for m in self.measures}


def parse_catalogue(text: str, source: str = "<catalogue>") -> Catalogue:
    return parse_model(text, source, Catalogue, "catalogue", "catalogue:, version:, items:",
                       code="catalogue.invalid")


def load_catalogue(path: str | Path) -> Catalogue:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulebookError(f"{p}: no such catalogue file", code="not_found") from None
    except UnicodeDecodeError as exc:
        raise RulebookError(f"{p}: not UTF-8 text ({exc.reason})",
                            code="catalogue.invalid") from None
    return parse_catalogue(text, str(p))


def catalogue_from_canonical(canonical: str) -> Catalogue:
    return Catalogue.model_validate(json.loads(canonical))


# -- the lexicon on a catalogue -----------------------------------------------------------

def lexicon_violations(cat: Catalogue) -> list[Violation]:
    """Items and measures the protected-category lexicon flags: the engine refuses the
    catalogue (an allowlist may not allow what must never be recorded)."""
    out: list[Violation] = []
    for i, it in enumerate(cat.items):
        found = lexicon.protected_category(it.id, it.label, it.description, it.category)
        if found:
            out.append(Violation(LINE_PROTECTED, dotted(("items", i)),
                                 source_line(cat, ("items", i)),
                                 f"item {it.id!r} is about {found}: a catalogue may not "
                                 "allow recording it"))
    for i, m in enumerate(cat.measures):
        found = lexicon.protected_category(m.id, m.label, m.description, m.category)
        if found:
            out.append(Violation(LINE_PROTECTED, dotted(("measures", i)),
                                 source_line(cat, ("measures", i)),
                                 f"measure {m.id!r} is about {found}: no treatment may "
                                 "turn on it"))
    return out


def enforce_catalogue(cat: Catalogue) -> None:
    """Refuse a catalogue the lexicon flags (RefusedRulebook, code catalogue.refused)."""
    found = lexicon_violations(cat)
    if found:
        src = source_name(cat)
        lines = [v.render(src) for v in found]
        raise RefusedRulebook(
            f"refused: catalogue {cat.catalogue!r} version {cat.version} allows what the "
            f"system never records or acts on ({len(found)} item(s))\n  "
            + "\n  ".join(lines), lines, code="catalogue.refused")


# -- a rulebook against its catalogue ---------------------------------------------------------

def citation_violations(rb: Rulebook, cat: Catalogue | None) -> list[Violation]:
    """Where `rb` leaves its catalogue: an uncited record type or deny/benefit, an item
    or measure the catalogue lacks or the lexicon flags, and every bound of an item or
    measure that the rulebook exceeds."""
    out: list[Violation] = []

    def add(path: PathKey, why: str) -> None:
        out.append(Violation(LINE_CATALOGUE, dotted(path) or "(rulebook)",
                             source_line(rb, path), why))

    if rb.catalogue is None:
        add(("catalogue",), "the rulebook cites no catalogue: name one (`catalogue: {id, "
            "version}`) whose items its record types and measures its consequences cite")
        return out
    if cat is None:
        add(("catalogue",), f"catalogue {rb.catalogue.id!r} version {rb.catalogue.version} "
            "is not published in this ledger")
        return out
    name = f"catalogue {cat.catalogue} {cat.version}"
    flagged = {v.path for v in lexicon_violations(cat)}
    subjects = set(rb.subjects)
    items: dict[str, Any] = {}
    for i, t in enumerate(rb.record_types):
        path: PathKey = ("record_types", i)
        if t.item is None:
            add(path, f"record type {t.id!r} cites no item of {name}: only what the "
                "catalogue lists may be recorded")
            continue
        it = cat.item_by_id.get(t.item)
        if it is None:
            add((*path, "item"), f"record type {t.id!r} cites item {t.item!r}, which {name} "
                "does not list")
            continue
        items[t.id] = it
        pos = cat.items.index(it)
        if dotted(("items", pos)) in flagged:
            add((*path, "item"), f"item {t.item!r} of {name} is about a protected category")
        if not subjects <= set(it.subjects):
            add((*path, "item"), f"item {t.item!r} may be recorded about "
                f"{', '.join(it.subjects)} only; the rulebook applies to "
                f"{', '.join(sorted(subjects - set(it.subjects)))} too")
        roles = set(t.providers) or ({"reviewer"} if t.kind == "void" else set())
        extra = roles - set(it.providers)
        if extra:
            add((*path, "providers"), f"record type {t.id!r} lets {', '.join(sorted(extra))} "
                f"provide item {t.item!r}; {name} allows {', '.join(it.providers)}")
    for i, r in enumerate(rb.rules):
        it = items.get(r.record)
        if it is not None and it.max_validity is not None and (
                r.expires is None or r.expires > it.max_validity):
            add(("rules", i, "expires"), f"rule on {r.record!r} counts "
                + ("forever" if r.expires is None else f"{r.expires:g} days")
                + f"; item {it.id!r} may count for at most {it.max_validity:g} days")
    for i, a in enumerate(rb.attributes):
        it = items.get(a.record)
        if it is not None and it.max_validity is not None and (
                a.expires is None or a.expires > it.max_validity):
            add(("attributes", i, "expires"), f"attribute on {a.record!r} counts "
                + ("forever" if a.expires is None else f"{a.expires:g} days")
                + f"; item {it.id!r} may count for at most {it.max_validity:g} days")
    lists = {x.id: x for x in rb.lists}
    for i, x in enumerate(rb.lists):
        rec = x.enter_when.record
        it = items.get(rec) if rec else None
        if it is None:
            continue
        if it.max_validity is not None and (x.max_duration is None
                                            or x.max_duration > it.max_validity):
            add(("lists", i, "max_duration"), f"list {x.id!r} lasts "
                + ("without end" if x.max_duration is None else f"{x.max_duration:g} days")
                + f"; item {it.id!r} may count for at most {it.max_validity:g} days")
        if x.public and it.publicity != "public":
            add(("lists", i, "public"), f"list {x.id!r} is public but item {it.id!r} is "
                f"{it.publicity} in {name}")
    for i, c in enumerate(rb.consequences):
        if c.effect == "allow":
            continue
        path = ("consequences", i)
        if c.measure is None:
            add(path, f"consequence {c.effect} {c.action!r} cites no measure of {name}: "
                "only the measures the catalogue lists may be taken")
            continue
        m = cat.measure_by_id.get(c.measure)
        if m is None:
            add((*path, "measure"), f"consequence {c.action!r} cites measure {c.measure!r}, "
                f"which {name} does not list")
            continue
        pos = cat.measures.index(m)
        if dotted(("measures", pos)) in flagged:
            add((*path, "measure"), f"measure {c.measure!r} of {name} is about a protected "
                "category")
        want = "sanction" if c.effect == "deny" else "benefit"
        if m.kind != want:
            add((*path, "measure"), f"consequence {c.effect} {c.action!r} cites "
                f"{m.kind} {m.id!r}: a {c.effect} needs a {want}")
        if not subjects <= set(m.subjects):
            add((*path, "measure"), f"measure {m.id!r} applies to {', '.join(m.subjects)} "
                "only")
        if m.max_duration is not None:
            if c.duration is not None and c.duration > m.max_duration:
                add((*path, "duration"), f"consequence {c.action!r} lasts {c.duration:g} "
                    f"days; measure {m.id!r} at most {m.max_duration:g}")
            for key in ("on_list",):
                lid = getattr(c.when, key)
                named = lists.get(lid) if lid else None
                if named is not None and named.enter_when.record is not None and (
                        named.max_duration is None or named.max_duration > m.max_duration):
                    add((*path, "when", key), f"list {named.id!r} lasts "
                        + ("without end" if named.max_duration is None
                           else f"{named.max_duration:g} days")
                        + f"; measure {m.id!r} may last at most {m.max_duration:g} days")
    return out


def enforce_citations(rb: Rulebook, cat: Catalogue | None) -> None:
    """Refuse a rulebook that leaves its catalogue (RefusedRulebook)."""
    found = citation_violations(rb, cat)
    if found:
        src = source_name(rb)
        lines = [v.render(src) for v in found]
        raise RefusedRulebook(
            f"refused: rulebook {rb.rulebook!r} version {rb.version} goes beyond its "
            f"catalogue in {len(found)} place(s)\n  " + "\n  ".join(lines), lines)


__all__ = ["LINE_CATALOGUE", "Catalogue", "Item", "Measure", "catalogue_from_canonical",
           "citation_violations", "enforce_catalogue", "enforce_citations",
           "lexicon_violations", "load_catalogue", "parse_catalogue"]
