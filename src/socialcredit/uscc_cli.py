"""``socialcredit uscc CODE… [--json]``: check Unified Social Credit Codes by hand.

Operators meet codes on paper, in e-mails and in appeals; this command tells them
whether a code is sound, what each part means, and exactly which position is wrong,
before the code reaches the ledger.

Exit codes: 0 if every code is valid or legacy (legacy codes get a warning on
stderr, because they are lawful but need a human look), 1 if any code is invalid,
2 is left to usage errors (Typer/Click already exit 2 for those).

Mounting: ``app.command("uscc")(uscc_cmd)`` on the main Typer app gives
``socialcredit uscc CODE…``. This module's own :data:`app` holds the single command,
so it runs standalone (``python -m socialcredit.uscc_cli CODE…``); mounted with
``add_typer(app, name="uscc")`` it would become a group and the command would read
``socialcredit uscc uscc CODE…``, so prefer ``app.command``.
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from socialcredit.uscc import UsccParts, UsccResult, validate

__all__ = ["app", "uscc_cmd", "uscc_command"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2  # reserved: usage errors, raised by Typer itself

_STATUS_STYLE = {"valid": "green", "legacy": "yellow", "invalid": "red"}


def _describe(parts: UsccParts | None) -> str:
    """One line per part, so the table reads like the layout of the code."""
    if parts is None:
        return "-"

    def meaning(value: str | None) -> str:
        return "unknown" if value is None else value

    return "\n".join(
        [
            f"1 authority {parts.authority_code}: {meaning(parts.authority)}",
            f"2 entity type {parts.entity_type_code}: {meaning(parts.entity_type)}",
            f"3-8 division {parts.division_code}: {meaning(parts.province)}",
            f"9-17 organization code {parts.organization_code}",
            f"18 check character {parts.check_character}",
        ]
    )


def _table(results: list[UsccResult]) -> Table:
    table = Table(title="Unified Social Credit Codes (GB 32100-2015)", show_lines=True)
    table.add_column("code", no_wrap=True)
    table.add_column("status")
    table.add_column("parts")
    table.add_column("errors")
    for r in results:
        style = _STATUS_STYLE[r.status]
        table.add_row(
            r.code,
            f"[{style}]{r.status}[/{style}]",
            _describe(r.parts),
            "\n".join(r.errors) or "-",
        )
    return table


def uscc_command(codes: list[str], json_out: bool) -> int:
    """Validate ``codes``, print a table or JSON, and return the exit code.

    Kept free of Typer so other commands (and tests) can call it directly.
    JSON goes to stdout alone; warnings go to stderr so the JSON stays parseable.
    """
    results = [validate(c) for c in codes]
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    if json_out:
        # print() rather than rich: rich would wrap or colour the JSON.
        print(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        out.print(_table(results))
    for r in results:
        if r.status == "legacy":
            failed = ", ".join(r.failed_checks)
            err.print(
                f"warning: {r.code} is legacy: well-formed but failed {failed}; "
                "lawful early codes exist, confirm it with the registering authority",
                markup=False,
                soft_wrap=True,
            )
    return EXIT_INVALID if any(r.status == "invalid" for r in results) else EXIT_OK


def uscc_cmd(
    codes: list[str] = typer.Argument(..., help="One or more 18-character codes."),
    json_: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Validate and explain Unified Social Credit Codes (GB 32100-2015)."""
    raise typer.Exit(uscc_command(codes, json_))


app = typer.Typer(
    name="uscc",
    help="Validate and explain Unified Social Credit Codes (GB 32100-2015).",
    add_completion=False,
)
app.command("uscc")(uscc_cmd)


if __name__ == "__main__":  # pragma: no cover
    app()
