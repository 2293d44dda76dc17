"""Which program, and which version of it: one rule for the ledger, Parquet and Spark."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Settled:
    """What `pick_version` gives for one program at every instant at or after all of its
    versions took effect, as known at or after all were published: the one with the
    latest (effective_at, seq). Every decision about now asks at such an instant (a
    version effective in the future is the exception), so it need not scan them."""

    version: ProgramVersion
    effective: int  # the latest effective_at of the program's versions
    published: int  # the latest published_at

    def pick(self, versions: Sequence[ProgramVersion], at: int, known_at: int
             ) -> ProgramVersion:
        """pick_version(versions, program, at, known_at), `versions` those it was made from."""
        if at >= self.effective and known_at >= self.published:
            return self.version
        return pick_version(versions, self.version.program, at, known_at)


def settled_versions(versions: Sequence[ProgramVersion]) -> dict[str, Settled]:
    """Per program among `versions`, its `Settled`."""
    out: dict[str, Settled] = {}
    for pv in versions:
        got = out.get(pv.program)
        if got is None:
            out[pv.program] = Settled(pv, pv.effective_at, pv.published_at)
            continue
        best = got.version
        if (pv.effective_at, pv.seq) > (best.effective_at, best.seq):
            best = pv
        out[pv.program] = Settled(best, max(got.effective, pv.effective_at),
                                  max(got.published, pv.published_at))
    return out


def program_names(versions: Sequence[ProgramVersion]) -> list[str]:
    """Programs in order of first publication."""
    return list(dict.fromkeys(pv.program for pv in versions))


__all__ = ["Settled", "choose_program", "pick_version", "program_names", "settled_versions",
           "version_at"]
