"""Options every command shares, defined once, and the helpers commands print with."""

from __future__ import annotations

import json
import sys
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import typer

from socialcredit.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from socialcredit.service import Service

DbOpt = Annotated[str | None, typer.Option(
    "--db", help="Ledger URL or SQLite path (default: $SOCIALCREDIT_DB, else "
                 "./socialcredit.db).", show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for machines.")]
ProgramOpt = Annotated[str | None, typer.Option(
    "--program", help="Program id (optional when the ledger hosts one program).",
    show_default=False)]
AtOpt = Annotated[str | None, typer.Option(
    "--at", help="Valid time t (ISO 8601 with a zone, or a date); default now.",
    show_default=False)]
AsOpt = Annotated[str | None, typer.Option(
    "--as", envvar="SOCIALCREDIT_AS",
    help="Act as this registered principal (`principal add`); default: the ledger's "
         "operator, as whoever runs the command line on the ledger's database is.",
    show_default=False)]
KnownAtOpt = Annotated[str | None, typer.Option(
    "--known-at", help="Transaction time k: what the ledger knew (default: --at).",
    show_default=False)]


def instant(value: str | None, option: str) -> int | None:
    """An option's instant in microseconds UTC, or a usage error naming the option."""
    if value is None:
        return None
    from socialcredit.timeutil import parse_instant

    try:
        return parse_instant(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


@cache
def out() -> Console:
    from rich.console import Console

    return Console(soft_wrap=True)


@cache
def err() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def say(text: str) -> None:
    """A line for people on stdout, printed as is (no markup, no highlighting)."""
    out().print(text, markup=False, highlight=False)


def emit_json(obj: Any) -> None:
    """JSON for machines on stdout; never NaN or Infinity (they are not JSON)."""
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def open_service(db: str | None, as_: str | None = None) -> Service:
    """The ledger at `db`, acted on by the operator or by the principal named `as_`."""
    from socialcredit.service import Service

    svc = Service.open(db)
    if as_ is None or as_ == "operator":
        return svc
    try:
        return svc.acting_as(as_)
    except BaseException:
        svc.close()
        raise


__all__ = ["AsOpt", "AtOpt", "DbOpt", "JsonOpt", "KnownAtOpt", "ProgramOpt", "emit_json", "err",
           "instant", "open_service", "out", "say"]
