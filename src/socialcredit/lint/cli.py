"""``socialcredit lint RULEBOOK [--profile P …] [--json]``.

Exit codes CI can rely on: 0 clean (information only), 1 warnings only, 2 errors
(baseline violations included, and a rulebook that does not load), 64 bad usage (no
rulebook, no such file, unknown profile or option). Click's own usage errors would exit
2, which CI would confuse with "errors found", so the command is mounted with
`ignore_unknown_options`/`allow_extra_args` and reports leftovers itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from socialcredit.errors import RulebookError
from socialcredit.lint import BASELINE, PROFILES, UnknownProfile, lint
from socialcredit.lint.findings import EXIT_ERRORS, EXIT_USAGE, LintReport
from socialcredit.rulebook.loader import load_rulebook

SHIPPED = Path(__file__).resolve().parent.parent / "rulebooks"
LINT_CONTEXT = {"ignore_unknown_options": True, "allow_extra_args": True}
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def resolve_rulebook(name: str) -> Path | None:
    """A path, or the name of a shipped rulebook (`sesame`, `corporate.yaml`)."""
    p = Path(name)
    if p.is_file():
        return p
    for cand in (SHIPPED / name, SHIPPED / f"{name}.yaml"):
        if cand.is_file():
            return cand
    return None


def _usage(message: str) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(f"usage error: {message}", markup=False,
                                               highlight=False)
    return typer.Exit(EXIT_USAGE)


def render(report: LintReport, console: Console) -> None:
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
    ctx: typer.Context,
    rulebook: Annotated[str | None, typer.Argument(
        help="A rulebook YAML file, or the name of a shipped rulebook.")] = None,
    profile: Annotated[list[str] | None, typer.Option(
        "--profile", "-p", help="A profile to apply (repeatable; default: all of "
        f"{', '.join(PROFILES)}). The baseline always applies.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Lint a rulebook: the baseline refusal plus legal profiles (exit 0 clean, 1
    warnings, 2 errors, 64 bad usage)."""
    if ctx.args:
        raise _usage(f"unexpected argument(s) {' '.join(ctx.args)}")
    if rulebook is None:
        raise _usage("name a RULEBOOK (a YAML file or a shipped name)")
    path = resolve_rulebook(rulebook)
    if path is None:
        raise _usage(f"{rulebook}: no such rulebook file (nor a shipped rulebook)")
    try:
        rb = load_rulebook(path)
    except RulebookError as exc:
        Console(stderr=True, soft_wrap=True).print(f"error: {exc}", markup=False,
                                                   highlight=False)
        raise typer.Exit(EXIT_ERRORS) from None
    try:
        report = lint(rb, profile or None)
    except UnknownProfile as exc:
        raise _usage(str(exc)) from None
    if json_:
        sys.stdout.write(json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        render(report, Console(soft_wrap=True, emoji=False))
    raise typer.Exit(report.exit_code)


__all__ = ["BASELINE", "LINT_CONTEXT", "lint_cmd", "render", "resolve_rulebook"]
