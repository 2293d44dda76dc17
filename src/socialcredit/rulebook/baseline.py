"""The lines the system does not cross, checked before a rulebook may operate.

Written by hand because it is the product's own heart: a rulebook that scores a
protected characteristic, punishes one person for another's conduct, sanctions
without notice, never forgives, or takes negative records without evidence or a
legal basis is refused at `init`, `publish`, ingest and decision time. The full
linter (profiles for the EU AI Act, GDPR, FCRA, ...) builds on these findings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from socialcredit.errors import RefusedRulebook
from socialcredit.limits import MAX_LISTING_DAYS, MAX_PENALTY_DAYS, MAX_PUBLIC_LISTING_DAYS
from socialcredit.rulebook import lexicon
from socialcredit.rulebook.loader import PathKey, dotted, source_line, source_name
from socialcredit.rulebook.model import RecordType, Rulebook

LINE_PROTECTED = "protected characteristics"
LINE_OTHERS = "no punishment for another's conduct"
LINE_FOREVER = "redemption: nothing negative lasts forever"
LINE_NOTICE = "notice before any sanction"
LINE_EVIDENCE = "evidence and legal basis for negative records"
LINE_BOUNDS = "sanctions within bounded time"

# Protected categories: the lexicon (rulebook/lexicon.py), English and Chinese.
PROTECTED = lexicon.PROTECTED
# Data about other people's conduct or one's ties to them.
SOCIAL_TIES = ("personal_connections", "connections", "social_ties", "relatives", "contacts",
               "friends", "social_network", "associates")


@dataclass(frozen=True)
class Violation:
    line: str  # which line the system does not cross (README, "What it is not")
    path: str  # where in the rulebook (rules[3], lists[0].notice, ...)
    source_line: int | None
    why: str

    def render(self, source: str) -> str:
        where = f"{source}:{self.source_line}" if self.source_line else source
        return f"{where}: {self.path}: [{self.line}] {self.why}"


def words(*texts: str | None) -> set[str]:
    """Whole words and adjacent word pairs of the texts: what the lines match against."""
    out: set[str] = set()
    for text in texts:
        if not text:
            continue
        parts = [p for p in re.split(r"[^a-z0-9]+", text.lower()) if p]
        out.update(parts)
        out.update(f"{a}_{b}" for a, b in pairwise(parts))
    return out


def protected_category(t: RecordType) -> str | None:
    """The protected category a record type is about, if any (its id, label,
    description and category, in English or Chinese)."""
    return lexicon.protected_category(t.category, t.id, t.label, t.description)


def can_lower(rb: Rulebook, type_id: str) -> bool:
    """Whether a record of this type can lower a standing: a rule that takes points off,
    a per-unit reward whose type accepts negative values, a fact whose bins take points
    off, or a blacklist it enters."""
    t = rb.types.get(type_id)
    for i in rb.rules_by_type.get(type_id, ()):
        r = rb.rules[i]
        if r.may_be_negative():
            return True
        if (r.points_per_unit or 0) > 0 and t is not None and t.negative_values == "allowed":
            return True
    if any(a.record == type_id and any(b.points < 0 for b in a.bins) for a in rb.attributes):
        return True
    return any(x.kind == "black" and x.enter_when.record == type_id for x in rb.lists)


def is_social_tie(t: RecordType) -> bool:
    return bool(words(t.category, t.id).intersection(SOCIAL_TIES))


#: Findings by rulebook sha256: a rulebook is immutable and identified by the hash of its
#: content, and `init`, `publish` and every ingest and decision ask again, so the checks
#: run once per rulebook and process (bounded: the oldest entry goes first).
_FOUND: dict[str, tuple[Violation, ...]] = {}
_FOUND_MAX = 64


def baseline_violations(rb: Rulebook) -> list[Violation]:
    """Every line the rulebook crosses, each with where (cached by sha256)."""
    sha = rb.sha256
    found = _FOUND.get(sha)
    if found is None:
        found = tuple(_violations(rb))
        if len(_FOUND) >= _FOUND_MAX:
            _FOUND.pop(next(iter(_FOUND)))
        _FOUND[sha] = found
    return list(found)


def _violations(rb: Rulebook) -> list[Violation]:
    out: list[Violation] = []

    def add(line: str, path: PathKey, why: str) -> None:
        out.append(Violation(line, dotted(path), source_line(rb, path), why))

    types = rb.types
    uses: list[tuple[PathKey, str, bool, str]] = []  # (path, type id, negative, applies_to)
    for i, r in enumerate(rb.rules):
        t = types.get(r.record)
        negative = r.may_be_negative() or (
            (r.points_per_unit or 0) > 0 and t is not None and t.negative_values == "allowed")
        uses.append((("rules", i), r.record, negative, r.applies_to))
        if negative and r.expires is None:
            add(LINE_FOREVER, ("rules", i), f"rule on {r.record!r} takes points off and never "
                "expires: give it `expires:` (e.g. 5y) so that the subject can be forgiven"
                + (" (its type accepts negative values, which a per-unit reward turns into "
                   "a penalty)" if not r.may_be_negative() else ""))
        elif negative and r.expires is not None and r.expires > MAX_PENALTY_DAYS:
            add(LINE_BOUNDS, ("rules", i, "expires"), f"rule on {r.record!r} takes points off "
                f"for {r.expires:g} days: at most {MAX_PENALTY_DAYS / 365:g} years")
    for i, a in enumerate(rb.attributes):
        uses.append((("attributes", i), a.record, any(b.points < 0 for b in a.bins),
                     a.applies_to))
    for i, x in enumerate(rb.lists):
        cap = MAX_PUBLIC_LISTING_DAYS if x.public else MAX_LISTING_DAYS
        if x.kind == "black" and x.max_duration is not None and x.max_duration > cap:
            add(LINE_BOUNDS, ("lists", i, "max_duration"), f"blacklist {x.id!r} lasts up to "
                f"{x.max_duration:g} days: a {'public' if x.public else 'non-public'} listing "
                f"lasts at most {cap / 365:g} years")
        cat = lexicon.protected_category(x.id, x.label, x.description)
        if cat:
            add(LINE_PROTECTED, ("lists", i), f"list {x.id!r} is about {cat}: nobody may be "
                "listed on it")
    for i, x in enumerate(rb.lists):
        black = x.kind == "black"
        if x.enter_when.record:
            uses.append((("lists", i), x.enter_when.record, black, x.applies_to))
        elif x.applies_to != "self":
            add(LINE_OTHERS, ("lists", i, "applies_to"),
                f"list {x.id!r} applies to {x.applies_to!r}: one subject's standing must "
                "never list another")
        if black and x.notice <= 0:
            add(LINE_NOTICE, ("lists", i), f"blacklist {x.id!r} has no notice period: give "
                "`notice:` (e.g. 10d) so the subject can object before it takes effect")
        if black and x.enter_when.record and x.max_duration is None:
            add(LINE_FOREVER, ("lists", i), f"blacklist {x.id!r} has no max_duration: a "
                "listing must end (e.g. `max_duration: 2y`)")
    for i, c in enumerate(rb.consequences):
        cat = lexicon.protected_category(c.action, c.label, c.description, c.category)
        if cat and c.effect != "allow":
            add(LINE_PROTECTED, ("consequences", i), f"consequence for {c.action!r} is about "
                f"{cat}: no treatment may turn on it")
        if c.applies_to != "self":
            add(LINE_OTHERS, ("consequences", i, "applies_to"),
                f"consequence for {c.action!r} applies to {c.applies_to!r}: sanctions and "
                "rewards reach only the subject whose conduct earned them")

    # what the lexicon says of a type depends on the type alone: read it once per type,
    # not once per rule naming it (a large rulebook has many rules per type)
    categories: dict[str, str | None] = {}
    ties: dict[str, bool] = {}

    def category_of(t: RecordType) -> str | None:
        if t.id not in categories:
            categories[t.id] = protected_category(t)
        return categories[t.id]

    def tie(t: RecordType) -> bool:
        if t.id not in ties:
            ties[t.id] = is_social_tie(t)
        return ties[t.id]

    reported: set[str] = set()
    for path, type_id, negative, applies_to in uses:
        t = types.get(type_id)
        if t is None:
            continue
        what = f"record type {type_id!r}"
        cat = category_of(t)
        if cat:
            reported.add(type_id)
            add(LINE_PROTECTED, path, f"{what} is about {cat} (category "
                f"{t.category or 'undeclared'}): it may not be scored or listed")
        if applies_to != "self":
            add(LINE_OTHERS, (*path, "applies_to"), f"{what} counts against {applies_to!r}: "
                "one subject's records must never count against another")
        elif tie(t):
            add(LINE_OTHERS, path, f"{what} is about a subject's ties to others "
                f"(category {t.category}): relatives, friends and contacts are not scored")
        if negative:
            if t.evidence != "required":
                add(LINE_EVIDENCE, path, f"{what} takes points off or lists but its evidence "
                    "is optional: declare `evidence: required`")
            if not (t.legal_basis and t.legal_basis.strip()):
                add(LINE_EVIDENCE, path, f"{what} takes points off or lists but declares no "
                    "`legal_basis`")
    for i, t in enumerate(rb.record_types):
        cat = category_of(t) if t.id not in reported else None
        if cat:
            add(LINE_PROTECTED, ("record_types", i), f"record type {t.id!r} is about {cat} "
                f"(category {t.category or 'undeclared'}): it may not even be recorded")
    return out


def enforce_baseline(rb: Rulebook) -> None:
    """Raise RefusedRulebook naming every line crossed and the rule that crosses it."""
    found = baseline_violations(rb)
    if found:
        src = source_name(rb)
        lines = [v.render(src) for v in found]
        raise RefusedRulebook(
            f"refused: rulebook {rb.rulebook!r} version {rb.version} crosses "
            f"{len(found)} line(s) the system does not cross\n  " + "\n  ".join(lines),
            lines,
        )
