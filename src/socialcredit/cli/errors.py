"""The one table from error codes to exit codes, and how the CLI reports an error.

| exit | meaning |
| ---: | --- |
| 0 | success (for checks: nothing wrong found) |
| 1 | the operation failed: bad input, unknown program, missing ledger, … |
| 2 | a check ran and found problems (lint errors, an invalid code, a log that does not verify) |
| 3 | refused: the rulebook crosses a line the system does not cross |
| 4 | forbidden: the principal acting may not do this |
| 64 | usage: a malformed command line (unknown option, bad value) |
| 75 | temporary failure: the ledger was busy; nothing was stored, try again |

docs/cli.md carries the same table; a test holds them together.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, TyperException

from socialcredit.errors import SocialCreditError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FINDINGS = 2
EXIT_REFUSED = 3
EXIT_FORBIDDEN = 4
EXIT_USAGE = 64
EXIT_TEMPFAIL = 75  # sysexits.h EX_TEMPFAIL

EXIT_MEANINGS: dict[int, str] = {
    EXIT_OK: "success (for checks: nothing wrong found)",
    EXIT_ERROR: "the operation failed: bad input, unknown program, missing ledger, …",
    EXIT_FINDINGS: "a check ran and found problems (lint errors, an invalid code, a log "
                   "that does not verify)",
    EXIT_REFUSED: "refused: the rulebook crosses a line the system does not cross",
    EXIT_FORBIDDEN: "forbidden: the principal acting may not do this",
    EXIT_USAGE: "usage: a malformed command line (unknown option, bad value)",
    EXIT_TEMPFAIL: "temporary failure: the ledger was busy; nothing was stored, try again",
}

#: error code -> exit code; every other code exits 1
EXIT_BY_CODE: dict[str, int] = {
    "usage": EXIT_USAGE,
    "lint.unknown_profile": EXIT_USAGE,
    "rulebook.refused": EXIT_REFUSED,
    "catalogue.refused": EXIT_REFUSED,
    "rulebook.lint_errors": EXIT_FINDINGS,
    "forbidden": EXIT_FORBIDDEN,
    "consent.required": EXIT_FORBIDDEN,
    "database.busy": EXIT_TEMPFAIL,
    "database.conflict": EXIT_TEMPFAIL,
}
#: error codes a command is retried on, with backoff: nothing was stored
RETRYABLE = ("database.busy", "database.conflict")
#: seconds to wait before each retry (then give up with the error)
BACKOFF = (0.5, 1.0, 2.0)

#: error code -> what to do about it on the command line (messages stay interface-free)
HINTS: dict[str, str] = {
    "program.ambiguous": "choose one with --program",
    "ledger.missing": "create one with `socialcredit init --rulebook FILE`",
    "ledger.outdated": "run `socialcredit db upgrade` (back the ledger up first)",
    "ingest.rows_invalid": "fix the rows, or ingest the good ones with --skip-invalid",
    "log.missing": "create the ledger with `socialcredit init --rulebook FILE`",
    "rulebook.refused": "`socialcredit lint FILE` explains each line crossed; the policy lab "
                        "studies such a rulebook with --study",
    "catalogue.refused": "remove the items and measures the lexicon flags",
    "catalogue.missing": "publish it with `socialcredit catalogue publish FILE`, or give "
                         "it with --catalogue FILE",
    "rulebook.lint_errors": "`socialcredit lint FILE` explains each finding; publish without "
                            "--strict to publish anyway",
    "provider.unknown_role": "check the spelling; --new-role registers it anyway",
    "database.busy": "another writer held the ledger; run the command again",
    "database.conflict": "run the command again",
}


def _from_database(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("sqlalchemy", "psycopg", "sqlite3")


def exit_code(code: str) -> int:
    return EXIT_BY_CODE.get(code, EXIT_ERROR)


def report(exc: SocialCreditError) -> int:
    """Print the error (and the CLI's hint) on stderr; return the exit code."""
    from socialcredit.cli.options import err

    err().print(f"error[{exc.code}]: {exc.message}", markup=False, highlight=False)
    hint = HINTS.get(exc.code)
    if hint:
        err().print(f"hint: {hint}", markup=False, highlight=False)
    return exit_code(exc.code)


class Group(TyperGroup):
    """The root command group: errors become one clear message and the table's exit
    code, for every command, however it is invoked (console script or test runner).
    A command that failed because the ledger was busy (nothing was stored) is run again
    after a pause, a few times, before the error is reported."""

    def _with_retries(self, args: Sequence[str] | None, prog_name: str | None,
                      complete_var: str | None, **extra: Any) -> Any:
        import time

        from socialcredit.cli.options import err

        argv = list(args) if args is not None else sys.argv[1:]
        for delay in (*BACKOFF, None):
            try:
                return super().main(argv, prog_name, complete_var, standalone_mode=False,
                                    **extra)
            except SocialCreditError as exc:
                if exc.code not in RETRYABLE or delay is None:
                    raise
                err().print(f"{exc.code}: retrying in {delay:g} s", markup=False,
                            highlight=False)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             windows_expand_args: bool = True, **extra: Any) -> Any:
        try:
            rv = self._with_retries(args, prog_name, complete_var,
                                    windows_expand_args=windows_expand_args, **extra)
        except TyperException as exc:  # Click's errors: usage errors have exit code 2
            show = getattr(exc, "show", None)
            if show is not None:
                show()
            else:
                typer.echo(f"error: {exc.format_message()}", err=True)
            code = EXIT_USAGE if exc.exit_code == 2 else exc.exit_code
        except Abort:
            typer.echo("Aborted!", err=True)
            code = EXIT_ERROR
        except SocialCreditError as exc:
            code = report(exc)
        except Exception as exc:
            if not _from_database(exc):
                raise
            # a database that cannot be reached or refuses a statement: one line (the
            # driver's), with any password in a quoted URL hidden, not a traceback
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            code = report(SocialCreditError(f"the database failed: {first}",
                                            code="database.failed"))
        else:
            code = rv if isinstance(rv, int) else EXIT_OK
        if standalone_mode:
            sys.exit(code)
        if code:
            raise typer.Exit(code)
        return rv


__all__ = [
    "BACKOFF",
    "EXIT_BY_CODE",
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_MEANINGS",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_TEMPFAIL",
    "EXIT_USAGE",
    "HINTS",
    "RETRYABLE",
    "Group",
    "exit_code",
    "report",
]
