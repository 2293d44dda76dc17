"""Reading rulebooks: `rulebook show NAME|FILE` in plain words, `schema rulebook`.

A rulebook the engine refuses is still shown (with the refusal first): reading what a
system would do is how one criticises it.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from socialcredit.errors import UsageError

rulebook_app = typer.Typer(no_args_is_help=True,
                           help="Rulebooks in plain words, for subjects and journalists.")
schema_app = typer.Typer(no_args_is_help=True,
                         help="JSON Schemas for editors (the YAML language server) and CI.")


@rulebook_app.command("show")
def show(name_or_file: Annotated[str, typer.Argument(
             metavar="NAME|FILE", help="A shipped rulebook's name (rongcheng, sesame, …) or "
                                       "a rulebook YAML file.")],
         markdown: Annotated[bool, typer.Option(
             "--markdown", help="Markdown, for a web page or a wiki.")] = False,
         json_: Annotated[bool, typer.Option(
             "--json", help="JSON: each item's sentences and its declaration.")] = False
         ) -> None:
    """Describe a rulebook in plain words: what is recorded, who reports it, what it costs
    and for how long, each list and how it ends, and what follows from it."""
    from socialcredit.rulebook.describe import describe_data, describe_rulebook
    from socialcredit.rulebook.shipped import load_named

    if markdown and json_:
        raise UsageError("choose one of --markdown and --json")
    rb = load_named(name_or_file)
    if json_:
        sys.stdout.write(json.dumps(describe_data(rb), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(describe_rulebook(rb, "markdown" if markdown else "text"))


@schema_app.command("rulebook")
def schema_rulebook() -> None:
    """Print the JSON Schema of rulebooks (docs/schema/rulebook.schema.json)."""
    from socialcredit.rulebook.schema import schema_text

    sys.stdout.write(schema_text())


@schema_app.command("catalogue")
def schema_catalogue() -> None:
    """Print the JSON Schema of catalogues (docs/schema/catalogue.schema.json)."""
    from socialcredit.rulebook.schema import schema_text

    sys.stdout.write(schema_text("catalogue"))


__all__ = ["rulebook_app", "schema_app"]
