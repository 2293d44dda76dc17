"""The baseline profile: the lines the system does not cross (DESIGN.md), as findings.

It is not optional. The same checks refuse the rulebook at `init`, `publish`, ingest and
decision time; the linter only restates each refusal where the author can act on it,
with the line of DESIGN.md it crosses as the provision.
"""

from __future__ import annotations

from socialcredit.lint.findings import Finding
from socialcredit.rulebook import baseline as bl
from socialcredit.rulebook.model import Rulebook

PROFILE = "baseline"
TITLE = "Lines the system does not cross (always applies; blocks operation)"

CODES: dict[str, str] = {
    bl.LINE_PROTECTED: "BASE-PROTECTED",
    bl.LINE_OTHERS: "BASE-OTHERS",
    bl.LINE_FOREVER: "BASE-FOREVER",
    bl.LINE_NOTICE: "BASE-NOTICE",
    bl.LINE_EVIDENCE: "BASE-EVIDENCE",
}
PROVISIONS: dict[str, str] = {
    bl.LINE_PROTECTED: "DESIGN.md, Lines the system does not cross: no scoring or listing on "
                       "a protected category",
    bl.LINE_OTHERS: "DESIGN.md, Lines the system does not cross: one subject's records never "
                    "count against another (relatives, friends, contacts)",
    bl.LINE_FOREVER: "DESIGN.md, Lines the system does not cross: negative points and "
                     "sanctions expire",
    bl.LINE_NOTICE: "DESIGN.md, Lines the system does not cross: lists give notice before "
                    "effect",
    bl.LINE_EVIDENCE: "DESIGN.md, Lines the system does not cross: negative records need "
                      "evidence and a legal basis",
}


def check(rb: Rulebook) -> list[Finding]:
    """Every baseline violation, as an error; the engine refuses the rulebook."""
    return [Finding(PROFILE, CODES.get(v.line, "BASE"), "error", v.path, v.source_line,
                    PROVISIONS.get(v.line, v.line),
                    f"{v.why} — the engine refuses to operate this rulebook")
            for v in bl.baseline_violations(rb)]
