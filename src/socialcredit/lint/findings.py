"""Findings and the lint report: what a profile says about one rule, and the verdict.

A finding is meant to be acted on by the person who wrote the rulebook, so it always
names the rule (a path such as ``consequences[2]`` and the YAML line), the provision it
is measured against (quoted or cited), a severity, and why. The report is also read by
CI, so its exit code and JSON shape are part of the contract (docs/lint.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from socialcredit.rulebook.loader import PathKey, dotted, source_line, source_name
from socialcredit.rulebook.model import Rulebook

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")

# The command line's exit codes (one table for every command, docs/cli.md)
EXIT_CLEAN = 0
EXIT_ERRORS = 2  # a check found problems
EXIT_REFUSED = 3  # the rulebook crosses a line: the engine will not operate it


@dataclass(frozen=True)
class Finding:
    """One observation about one place in a rulebook, under one provision."""

    profile: str
    code: str
    severity: Severity
    path: str
    line: int | None
    provision: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "code": self.code, "severity": self.severity,
                "path": self.path, "line": self.line, "provision": self.provision,
                "message": self.message}

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return (f"{where}: {self.severity}: {self.path}: [{self.profile} {self.code}] "
                f"{self.message} ({self.provision})")


class Emitter:
    """Builds findings for one profile, resolving each path to its YAML line."""

    def __init__(self, rb: Rulebook, profile: str) -> None:
        self.rb = rb
        self.profile = profile
        self.findings: list[Finding] = []

    def __call__(self, code: str, severity: Severity, path: PathKey, provision: str,
                 message: str) -> None:
        self.findings.append(Finding(self.profile, code, severity, dotted(path) or "(rulebook)",
                                     source_line(self.rb, path), provision, message))


@dataclass
class LintReport:
    """Every finding for one rulebook under the requested profiles.

    `operable` says whether the engine would operate the rulebook at all: it is false as
    soon as the baseline (the lines the system does not cross) has a finding, whatever the
    profiles say.
    """

    rulebook: str
    version: str
    sha256: str
    source: str
    profiles: list[str]
    findings: list[Finding] = field(default_factory=list)

    @property
    def operable(self) -> bool:
        return not any(f.profile == "baseline" for f in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        """0 clean or warnings only, 2 any error, 3 a line crossed (the baseline)."""
        return self.exit_code_failing_on("error")

    def exit_code_failing_on(self, severity: Severity) -> int:
        """The exit code when findings of `severity` or worse count as failures."""
        if not self.operable:
            return EXIT_REFUSED
        if self.count("error") or (severity in ("warning", "info")
                                   and self.count("warning")) or (
                severity == "info" and self.count("info")):
            return EXIT_ERRORS
        return EXIT_CLEAN

    def by_profile(self, profile: str) -> list[Finding]:
        return [f for f in self.findings if f.profile == profile]

    def codes(self, profile: str | None = None) -> set[str]:
        return {f.code for f in self.findings if profile is None or f.profile == profile}

    def as_dict(self) -> dict[str, Any]:
        return {
            "rulebook": self.rulebook,
            "version": self.version,
            "sha256": self.sha256,
            "source": self.source,
            "profiles": self.profiles,
            "operable": self.operable,
            "counts": {s: self.count(s) for s in SEVERITIES},
            "exit_code": self.exit_code,
            "findings": [f.as_dict() for f in self.findings],
        }


def new_report(rb: Rulebook, profiles: list[str]) -> LintReport:
    return LintReport(rb.rulebook, rb.version, rb.sha256, source_name(rb), profiles)
