"""The rulebook linter: the baseline refusal plus legal profiles, as located findings.

`lint(rb, profiles)` runs the baseline (always: it is what blocks operation) and the
named profiles (all of them when none is named). Each profile is one module with a
`check(rb) -> list[Finding]`; docs/lint.md quotes the provisions and explains the codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from socialcredit.errors import SocialCreditError
from socialcredit.lint import baseline, cn_credit_repair, eu_ai_act, fcra, gdpr
from socialcredit.lint.findings import (
    EXIT_CLEAN,
    EXIT_ERRORS,
    EXIT_REFUSED,
    Finding,
    LintReport,
    Severity,
    new_report,
)
from socialcredit.rulebook.catalogue import Catalogue
from socialcredit.rulebook.model import Rulebook

Check = Callable[[Rulebook], list[Finding]]

PROFILES: dict[str, tuple[str, Check]] = {
    eu_ai_act.PROFILE: (eu_ai_act.TITLE, eu_ai_act.check),
    gdpr.PROFILE: (gdpr.TITLE, gdpr.check),
    fcra.PROFILE: (fcra.TITLE, fcra.check),
    cn_credit_repair.PROFILE: (cn_credit_repair.TITLE, cn_credit_repair.check),
}
BASELINE = baseline.PROFILE


class UnknownProfile(SocialCreditError):
    """A profile name the linter does not know."""

    code = "lint.unknown_profile"


def lint(rb: Rulebook, profiles: Iterable[str] | None = None,
         catalogue: Catalogue | None = None) -> LintReport:
    """Lint `rb` under the baseline and `profiles` (default: every profile), checking its
    citations against `catalogue` (default: the shipped catalogue it names).

    Naming `baseline` is allowed and changes nothing: it always runs.
    """
    names = list(PROFILES) if profiles is None else list(dict.fromkeys(profiles))
    unknown = [p for p in names if p not in PROFILES and p != BASELINE]
    if unknown:
        raise UnknownProfile(f"unknown profile(s): {', '.join(unknown)} (known: "
                             f"{', '.join([BASELINE, *PROFILES])})")
    chosen = [p for p in names if p != BASELINE]
    report = new_report(rb, [BASELINE, *chosen])
    report.findings.extend(baseline.check(rb, catalogue))
    for name in chosen:
        report.findings.extend(PROFILES[name][1](rb))
    return report


__all__ = [
    "BASELINE",
    "EXIT_CLEAN",
    "EXIT_ERRORS",
    "EXIT_REFUSED",
    "PROFILES",
    "Finding",
    "LintReport",
    "Severity",
    "UnknownProfile",
    "lint",
]
