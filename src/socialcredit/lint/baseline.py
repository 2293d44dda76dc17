"""The baseline profile: the lines the system does not cross, as findings.

It is not optional. The same checks refuse the rulebook at `init`, `publish`, ingest and
decision time; the linter only restates each refusal where the author can act on it,
with the line it crosses as the provision.
"""

from __future__ import annotations

import re

from socialcredit.lint.findings import Finding
from socialcredit.lint.triggers import protected_categories
from socialcredit.rulebook import baseline as bl
from socialcredit.rulebook.catalogue import LINE_CATALOGUE, Catalogue, citation_violations
from socialcredit.rulebook.loader import source_line
from socialcredit.rulebook.model import Rulebook

PROFILE = "baseline"
TITLE = "Lines the system does not cross (always applies; blocks operation)"

CODES: dict[str, str] = {
    bl.LINE_PROTECTED: "BASE-PROTECTED",
    bl.LINE_OTHERS: "BASE-OTHERS",
    bl.LINE_FOREVER: "BASE-FOREVER",
    bl.LINE_NOTICE: "BASE-NOTICE",
    bl.LINE_EVIDENCE: "BASE-EVIDENCE",
    bl.LINE_BOUNDS: "BASE-BOUNDS",
    LINE_CATALOGUE: "BASE-CATALOGUE",
}
PROVISIONS: dict[str, str] = {
    bl.LINE_PROTECTED: "Lines the system does not cross: no scoring or listing on "
                       "a protected category",
    bl.LINE_OTHERS: "Lines the system does not cross: one subject's records never "
                    "count against another (relatives, friends, contacts)",
    bl.LINE_FOREVER: "Lines the system does not cross: negative points and "
                     "sanctions expire",
    bl.LINE_NOTICE: "Lines the system does not cross: lists give notice before "
                    "effect",
    bl.LINE_EVIDENCE: "Lines the system does not cross: negative records need "
                      "evidence and a legal basis",
    bl.LINE_BOUNDS: "Lines the system does not cross: a penalty counts at most 10 years, a "
                    "public listing lasts at most 5 years, any other at most 10",
    LINE_CATALOGUE: "Lines the system does not cross: only what a published catalogue "
                    "allows may be recorded or done (every record type cites an item, "
                    "every deny and benefit a measure)",
}


def _also(rb: Rulebook, v: bl.Violation) -> str:
    """The baseline names the first protected category it finds; a variable such as
    `personal_status_and_sex` is about two, and the author should hear both."""
    m = re.match(r"^(rules|attributes|lists)\[(\d+)\]$", v.path)
    if v.line != bl.LINE_PROTECTED or m is None:
        return ""
    section, i = m.group(1), int(m.group(2))
    type_id: str | None
    extra: str | None
    if section == "rules":
        type_id, extra = rb.rules[i].record, None
    elif section == "attributes":
        type_id, extra = rb.attributes[i].record, rb.attributes[i].category
    else:
        type_id, extra = rb.lists[i].enter_when.record, None
    t = rb.types.get(type_id or "")
    if t is None:
        return ""
    cats = protected_categories(t.category, t.id, t.label, extra)
    return f" (protected categories: {'; '.join(cats)})" if len(cats) > 1 else ""


def check(rb: Rulebook, catalogue: Catalogue | None = None) -> list[Finding]:
    """Every baseline violation, as an error; the engine refuses the rulebook. The
    rulebook is checked against `catalogue`, else against the shipped catalogue it
    names."""
    found = bl.baseline_violations(rb)
    if rb.catalogue is not None and catalogue is None:
        from socialcredit.rulebook.shipped import shipped_catalogue

        catalogue = shipped_catalogue(rb.catalogue.id, rb.catalogue.version)
        if catalogue is None:
            found.append(bl.Violation(
                LINE_CATALOGUE, "catalogue", source_line(rb, ("catalogue",)),
                f"catalogue {rb.catalogue.id!r} version {rb.catalogue.version} does not "
                "ship with socialcredit: lint with the catalogue file to check the "
                "citations"))
    if rb.catalogue is None or catalogue is not None:
        found.extend(citation_violations(rb, catalogue))
    return [Finding(PROFILE, CODES.get(v.line, "BASE"), "error", v.path, v.source_line,
                    PROVISIONS.get(v.line, v.line),
                    f"{v.why}{_also(rb, v)} — the engine refuses to operate this rulebook")
            for v in found]
