"""Which program, and which version of it: one rule for the ledger, Parquet and Spark."""

from __future__ import annotations

from collections.abc import Sequence

from socialcredit.errors import LedgerError
from socialcredit.ledger.model import ProgramVersion
from socialcredit.timeutil import BEGINNING_OF_TIME, format_instant


def choose_program(names: Sequence[str], program: str | None) -> str:
    """The program a request is about: the one named, or the only one there is."""
    if program is None:
        if len(names) == 1:
            return names[0]
        if not names:
            raise LedgerError("this ledger hosts no program yet", code="program.unknown")
        raise LedgerError(f"this ledger hosts several programs ({', '.join(names)}); name "
                          "the program", code="program.ambiguous",
                          details=[{"field": "program", "message": "one of "
                                    + ", ".join(names)}])
    if program not in names:
        raise LedgerError(f"no program {program!r} in this ledger (programs: "
                          f"{', '.join(names) or 'none'})", code="program.unknown",
                          details=[{"field": "program", "message": f"unknown: {program!r}"}])
    return program


def pick_version(versions: Sequence[ProgramVersion], program: str, at: int, known_at: int
                 ) -> ProgramVersion:
    """The version of `program` in force at `at` as known at `known_at`: the latest
    effective ≤ at whose publication was recorded ≤ known_at (ties: later publication),
    so that any past standing reproduces exactly."""
    mine = [pv for pv in versions if pv.program == program]
    if not mine:
        raise LedgerError(f"no program {program!r} in this ledger", code="program.unknown")
    best: ProgramVersion | None = None
    for pv in mine:
        if pv.effective_at <= at and pv.published_at <= known_at and (
                best is None or (pv.effective_at, pv.seq) > (best.effective_at, best.seq)):
            best = pv
    if best is None:
        first = min(mine, key=lambda pv: pv.seq)
        raise LedgerError(
            f"no version of program {program!r} is in force at {format_instant(at)} as known "
            f"at {format_instant(known_at)}: it was first published at "
            f"{format_instant(first.published_at)}"
            + (f", effective from {format_instant(first.effective_at)}"
               if first.effective_at > BEGINNING_OF_TIME else ""),
            code="program.not_in_force")
    return best


def version_at(versions: Sequence[ProgramVersion], at: int, known_at: int
               ) -> ProgramVersion | None:
    """Among one program's versions, the one in force at `at` as known at `known_at`
    (pick_version's rule), or None where none was: no version, no rule."""
    best: ProgramVersion | None = None
    for pv in versions:
        if pv.effective_at <= at and pv.published_at <= known_at and (
                best is None or (pv.effective_at, pv.seq) > (best.effective_at, best.seq)):
            best = pv
    return best


def program_names(versions: Sequence[ProgramVersion]) -> list[str]:
    """Programs in order of first publication."""
    return list(dict.fromkeys(pv.program for pv in versions))


__all__ = ["choose_program", "pick_version", "program_names", "version_at"]
