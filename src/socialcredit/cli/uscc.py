"""`socialcredit uscc CODE… [--json]`: check Unified Social Credit Codes by hand.

Operators meet codes on paper, in e-mails and in appeals; this command tells them
whether a code is sound, what each part means, and exactly which position is wrong,
before the code reaches the ledger. Exit 0 when every code is valid, 2 when any is not
(legacy codes — well-formed, lawful early codes that fail a check — count as valid only
with --accept-legacy).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from socialcredit.cli.errors import EXIT_FINDINGS, EXIT_OK

if TYPE_CHECKING:
    from rich.table import Table

    from socialcredit.identifiers.uscc import UsccParts, UsccResult

_STATUS_STYLE = {"valid": "green", "legacy": "yellow", "invalid": "red"}


def _describe(parts: UsccParts | None) -> str:
    """One line per part, so the table reads like the layout of the code."""
    if parts is None:
        return "-"

    def meaning(value: str | None) -> str:
        return "unknown" if value is None else value

    return "\n".join([
        f"1 authority {parts.authority_code}: {meaning(parts.authority)}",
        f"2 entity type {parts.entity_type_code}: {meaning(parts.entity_type)}",
        f"3-8 division {parts.division_code}: {meaning(parts.province)}",
        f"9-17 organization code {parts.organization_code}",
        f"18 check character {parts.check_character}",
    ])


def _table(results: list[UsccResult]) -> Table:
    from rich.table import Table

    table = Table(title="Unified Social Credit Codes (GB 32100-2015)", show_lines=True)
    table.add_column("code", no_wrap=True)
    table.add_column("status")
    table.add_column("parts")
    table.add_column("errors")
    for r in results:
        style = _STATUS_STYLE[r.status]
        table.add_row(r.code, f"[{style}]{r.status}[/{style}]", _describe(r.parts),
                      "\n".join(r.errors) or "-")
    return table


def uscc_command(codes: list[str], json_out: bool, accept_legacy: bool = False) -> int:
    """Validate `codes`, print a table or JSON, and return the exit code.

    JSON goes to stdout alone; warnings go to stderr so the JSON stays parseable."""
    from rich.console import Console

    from socialcredit.identifiers.uscc import validate

    results = [validate(c) for c in codes]
    err = Console(stderr=True, highlight=False)
    if json_out:
        print(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2))
    else:
        Console(highlight=False).print(_table(results))
    for r in results:
        if r.status == "legacy":
            failed = ", ".join(r.failed_checks)
            err.print(f"warning: {r.code} is legacy: well-formed but failed {failed}; "
                      "lawful early codes exist, confirm it with the registering authority",
                      markup=False, soft_wrap=True)
    ok = {"valid", "legacy"} if accept_legacy else {"valid"}
    return EXIT_OK if all(r.status in ok for r in results) else EXIT_FINDINGS


def uscc_cmd(
    codes: Annotated[list[str], typer.Argument(help="One or more 18-character codes.")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
    = False,
    accept_legacy: Annotated[bool, typer.Option(
        "--accept-legacy", help="Count legacy codes (lawful, failing a check) as valid.")]
    = False,
) -> None:
    """Validate and explain Unified Social Credit Codes (exit 0 if every code is valid,
    2 if not)."""
    raise typer.Exit(uscc_command(codes, json_, accept_legacy))


__all__ = ["uscc_cmd", "uscc_command"]
