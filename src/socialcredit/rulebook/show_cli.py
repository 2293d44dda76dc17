"""``socialcredit rulebook show NAME|FILE [--markdown | --json]``: a rulebook in plain words.

Kept in its own module, like the other sub-commands, so that the CLI mounts it with one
line and starts without importing it. A rulebook the engine refuses is still shown (with
the refusal first): reading what a system would do is how one criticises it.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from socialcredit.errors import SocialCreditError


def rulebook_show_cmd(
        name_or_file: Annotated[str, typer.Argument(
            metavar="NAME|FILE", help="A shipped rulebook's name (rongcheng, sesame, …) or "
                                      "a rulebook YAML file.")],
        markdown: Annotated[bool, typer.Option(
            "--markdown", help="Markdown, for a web page or a wiki.")] = False,
        json_: Annotated[bool, typer.Option(
            "--json", help="JSON: each item's sentences and its declaration.")] = False,
) -> None:
    """Describe a rulebook in plain words: what is recorded, who reports it, what it
    costs and for how long, each list and how it ends, and what follows from it."""
    from socialcredit.rulebook.describe import describe_data, describe_rulebook
    from socialcredit.rulebook.shipped import resolve_rulebook

    err = Console(stderr=True, soft_wrap=True)
    if markdown and json_:
        err.print("usage error: choose one of --markdown and --json", markup=False)
        raise typer.Exit(2)
    try:
        rb = resolve_rulebook(name_or_file)
    except SocialCreditError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    if json_:
        sys.stdout.write(json.dumps(describe_data(rb), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(describe_rulebook(rb, "markdown" if markdown else "text"))


__all__ = ["rulebook_show_cmd"]
