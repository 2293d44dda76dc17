"""`socialcredit lint RULEBOOK [--profile P …] [--fail-on warning] [--json]`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from socialcredit.lint.findings import LintReport

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def render(report: LintReport, console: Console) -> None:
    from rich.markup import escape

    for f in report.findings:
        where = f"{report.source}:{f.line}" if f.line else report.source
        style = _STYLE[f.severity]
        console.print(f"{escape(where)}: [{style}]{f.severity}[/{style}]: {escape(f.path)}: "
                      f"\\[{f.profile} {f.code}] {escape(f.message)}\n    "
                      f"[dim]{escape(f.provision)}[/dim]", highlight=False)
    verdict = ("operable" if report.operable
               else "[bold red]REFUSED: the engine will not operate it[/bold red]")
    console.print(f"{escape(report.rulebook)} {escape(report.version)} "
                  f"(sha256 {report.sha256[:16]}…): {report.count('error')} error(s), "
                  f"{report.count('warning')} warning(s), {report.count('info')} info; "
                  f"profiles: {', '.join(report.profiles)}; {verdict}", highlight=False)


def lint_cmd(
    rulebook: Annotated[str, typer.Argument(
        help="A rulebook YAML file, or the name of a shipped rulebook.")],
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", "-p", help="A profile to apply (repeatable; default: all of eu-ai-act, "
        "gdpr, fcra, cn-credit-repair-2026). The baseline always applies.",
        show_default=False)] = None,
    fail_on: Annotated[str, typer.Option(
        "--fail-on", help="The least severe finding that fails the check: error or "
                          "warning.")] = "error",
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
    catalogue: Annotated[str | None, typer.Option(
        "--catalogue", help="Check citations against this catalogue (a YAML file or a "
                            "shipped name; default: the shipped one the rulebook names).",
        show_default=False)] = None,
) -> None:
    """Lint a rulebook: the baseline refusal plus legal profiles (exit 0 clean, 2
    findings, 3 a line crossed, 64 bad usage)."""
    from socialcredit.errors import UsageError
    from socialcredit.lint import lint
    from socialcredit.rulebook.shipped import load_catalogue_named, load_named

    if fail_on not in ("error", "warning"):
        raise UsageError(f"--fail-on: {fail_on!r} (error or warning)")
    rb = load_named(rulebook)
    cat = load_catalogue_named(catalogue) if catalogue else None
    report = lint(rb, profile or None, cat)
    if json_:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        from rich.console import Console

        render(report, Console(soft_wrap=True, emoji=False))
    raise typer.Exit(report.exit_code_failing_on("warning" if fail_on == "warning"
                                                 else "error"))


__all__ = ["lint_cmd", "render"]
