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
from socialcredit.rulebook.loader import PathKey, dotted, source_line, source_name
from socialcredit.rulebook.model import RecordType, Rulebook

LINE_PROTECTED = "protected characteristics"
LINE_OTHERS = "no punishment for another's conduct"
LINE_FOREVER = "redemption: nothing negative lasts forever"
LINE_NOTICE = "notice before any sanction"
LINE_EVIDENCE = "evidence and legal basis for negative records"

# Protected categories (GDPR Art. 9 and the project's own lines) -> words that name them.
# Matching is on whole words of a record type's category, id and label.
PROTECTED: dict[str, tuple[str, ...]] = {
    "racial or ethnic origin": ("race", "racial", "ethnic", "ethnicity", "ethnic_origin"),
    "national origin": ("national_origin", "nationality", "hukou", "foreign_worker",
                        "foreigner", "foreign_national", "citizenship", "immigrant",
                        "immigration_status", "migrant"),
    "political opinion or expression": ("political", "politics", "political_opinion",
                                        "opinion_expression", "dissent", "ideology"),
    "religion or belief": ("religion", "religious", "belief", "beliefs", "faith", "worship"),
    "trade-union membership": ("trade_union", "labour_union", "labor_union", "union_membership"),
    "assembly or protest": ("assembly", "protest", "protests", "rally", "rallies",
                            "demonstration", "petition", "petitioning"),
    "genetic or biometric data": ("genetic", "biometric", "biometrics", "dna", "facial"),
    "health": ("health", "medical", "disability", "illness", "diagnosis"),
    "sex life or sexual orientation": ("sex_life", "sexual", "sexual_orientation",
                                       "orientation"),
    "sex or gender": ("sex", "gender"),
    "family or marital status": ("family", "family_status", "marital", "marital_status",
                                 "marriage", "divorce", "personal_status"),
}
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
    """The protected category a record type is about, if any."""
    found = words(t.category, t.id, t.label)
    for name, keys in PROTECTED.items():
        if found.intersection(keys):
            return name
    return None


def is_social_tie(t: RecordType) -> bool:
    return bool(words(t.category, t.id).intersection(SOCIAL_TIES))


def baseline_violations(rb: Rulebook) -> list[Violation]:
    out: list[Violation] = []

    def add(line: str, path: PathKey, why: str) -> None:
        out.append(Violation(line, dotted(path), source_line(rb, path), why))

    types = rb.types
    uses: list[tuple[PathKey, str, bool, str]] = []  # (path, type id, negative, applies_to)
    for i, r in enumerate(rb.rules):
        uses.append((("rules", i), r.record, r.may_be_negative(), r.applies_to))
        if r.may_be_negative() and r.expires is None:
            add(LINE_FOREVER, ("rules", i), f"rule on {r.record!r} takes points off and never "
                "expires: give it `expires:` (e.g. 5y) so that the subject can be forgiven")
    for i, a in enumerate(rb.attributes):
        uses.append((("attributes", i), a.record, False, a.applies_to))
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
        if c.applies_to != "self":
            add(LINE_OTHERS, ("consequences", i, "applies_to"),
                f"consequence for {c.action!r} applies to {c.applies_to!r}: sanctions and "
                "rewards reach only the subject whose conduct earned them")

    for path, type_id, negative, applies_to in uses:
        t = types.get(type_id)
        if t is None:
            continue
        what = f"record type {type_id!r}"
        cat = protected_category(t)
        if cat:
            add(LINE_PROTECTED, path, f"{what} is about {cat} (category "
                f"{t.category or 'undeclared'}): it may not be scored or listed")
        if applies_to != "self":
            add(LINE_OTHERS, (*path, "applies_to"), f"{what} counts against {applies_to!r}: "
                "one subject's records must never count against another")
        elif is_social_tie(t):
            add(LINE_OTHERS, path, f"{what} is about a subject's ties to others "
                f"(category {t.category}): relatives, friends and contacts are not scored")
        if negative:
            if t.evidence != "required":
                add(LINE_EVIDENCE, path, f"{what} takes points off or lists but its evidence "
                    "is optional: declare `evidence: required`")
            if not (t.legal_basis and t.legal_basis.strip()):
                add(LINE_EVIDENCE, path, f"{what} takes points off or lists but declares no "
                    "`legal_basis`")
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
