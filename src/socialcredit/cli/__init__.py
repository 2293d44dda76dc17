"""The command line: thin over the service layer, JSON for machines, tables for people."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # answered before anything heavy is imported
        from socialcredit import __version__

        print(f"socialcredit {__version__}")
        return
    from socialcredit.cli.app import app

    app(args=args, prog_name="socialcredit")


__all__ = ["main"]
