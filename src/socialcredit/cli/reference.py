"""The command reference (docs/cli.md) as the commands themselves describe it.

docs/cli.md embeds this output in cog blocks, so the reference is regenerated from the
live command tree (`cog -r docs/cli.md`) and a test fails when it is stale: a command or
option cannot exist without being documented.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from socialcredit.cli.errors import EXIT_BY_CODE, EXIT_MEANINGS, HINTS


def commands() -> Iterator[tuple[str, object]]:
    """(full command path, click command) of every command, depth first, in the order
    `--help` lists them."""
    import typer

    from socialcredit.cli.app import app

    root = typer.main.get_command(app)

    def walk(prefix: str, cmd: object) -> Iterator[tuple[str, object]]:
        yield prefix, cmd
        subs = getattr(cmd, "commands", None)
        if subs:
            for name in cmd.list_commands(None):  # type: ignore[attr-defined]
                yield from walk(f"{prefix} {name}", subs[name])

    yield from walk("socialcredit", root)


def help_text(path: str) -> str:
    """The plain-text `--help` of one command (no colours, no boxes), 88 columns wide."""
    import typer.core
    from typer.testing import CliRunner

    from socialcredit.cli.app import app

    rich, typer.core.HAS_RICH = typer.core.HAS_RICH, False
    try:
        res = CliRunner().invoke(app, [*path.split()[1:], "--help"], prog_name="socialcredit",
                                 env={**os.environ, "COLUMNS": "88"}, terminal_width=88)
    finally:
        typer.core.HAS_RICH = rich
    return res.output.rstrip() + "\n"


def markdown() -> str:
    """Every command's help as markdown sections."""
    out = []
    for path, _cmd in commands():
        level = "##" if path.count(" ") <= 1 else "###"
        out.append(f"{level} `{path}`\n\n```\n{help_text(path)}```\n")
    return "\n".join(out)


def exit_code_table() -> str:
    lines = ["| exit | meaning |", "| ---: | --- |"]
    lines += [f"| {code} | {meaning} |" for code, meaning in sorted(EXIT_MEANINGS.items())]
    lines += ["", "Error codes with another exit code than 1:", "",
              "| error code | exit |", "| --- | ---: |"]
    lines += [f"| `{c}` | {e} |" for c, e in sorted(EXIT_BY_CODE.items())]
    lines += ["", "Hints the command line adds to an error:", "",
              "| error code | hint |", "| --- | --- |"]
    lines += [f"| `{c}` | {h} |" for c, h in sorted(HINTS.items())]
    return "\n".join(lines) + "\n"


def error_code_table() -> str:
    from socialcredit.errors import CODES

    lines = ["| error code | meaning |", "| --- | --- |"]
    lines += [f"| `{c}` | {m} |" for c, m in CODES.items()]
    return "\n".join(lines) + "\n"


__all__ = ["commands", "error_code_table", "exit_code_table", "help_text", "markdown"]
