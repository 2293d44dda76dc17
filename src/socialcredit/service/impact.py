"""diff-impact on the real ledger: who would change tier, list or decision if V2
replaced V1. The ledger is read one partition of subjects at a time; each partition is
scored by the batch engine under both versions at the same (t, k) and handed to the
lab's comparison."""

from __future__ import annotations

from pathlib import Path

from socialcredit.errors import LedgerError
from socialcredit.lab.impact import ImpactComparison, ImpactReport
from socialcredit.rulebook.model import Rulebook
from socialcredit.rulebook.shipped import load_named
from socialcredit.scoring.batch import score_partition
from socialcredit.scoring.partitions import (
    DEFAULT_ROWS_PER_PARTITION,
    fetch_partition,
    subject_ranges,
)
from socialcredit.service.context import Context


class Impact:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def version(self, spec: str, t: int) -> tuple[Rulebook, str]:
        """A rulebook from `program@version`, a program id (its version in force at t), a
        rulebook file or a shipped rulebook's name — with a label saying which."""
        ledger = self.ctx.ledger
        programs = ledger.programs()
        if "@" in spec and not Path(spec).exists():
            program, version = spec.rsplit("@", 1)
            for pv in ledger.program_versions(program):
                if pv.version == version:
                    return pv.rulebook, f"{program} {version} (published)"
            raise LedgerError(f"{spec}: no version {version!r} of program {program!r} in "
                              f"this ledger (programs: {', '.join(programs) or 'none'})",
                              code="not_found")
        if spec in programs:
            pv = ledger.version_in_force(spec, t, t)
            return pv.rulebook, f"{spec} {pv.version} (in force)"
        rb = load_named(spec)
        return rb, f"{rb.rulebook} {rb.version} ({spec})"

    def diff(self, v1: str, v2: str, *, at: int | None = None, examples: int = 10,
             study: bool = False, rows_per_partition: int = DEFAULT_ROWS_PER_PARTITION
             ) -> ImpactReport:
        """Both versions over the same records at (t, k = t), default now. A V2 the
        engine would refuse is refused (it could not replace anything) unless `study`."""
        t = self.ctx.now() if at is None else at
        rb1, label1 = self.version(v1, t)
        rb2, label2 = self.version(v2, t)
        comparison = ImpactComparison(rb1, label1, rb2, label2, t, examples=examples,
                                      study=study)
        with self.ctx.read() as conn:
            n = self.ctx.ledger.count_records()
            parts = max(1, -(-n // max(rows_per_partition, 1)))
            for lo, hi in subject_ranges(conn, parts):
                r1, s1 = fetch_partition(conn, rb1, t, lo, hi)
                r2, s2 = fetch_partition(conn, rb2, t, lo, hi)
                comparison.add(score_partition(rb1, r1, s1, t, t),
                               score_partition(rb2, r2, s2, t, t))
        return comparison.finish()


__all__ = ["Impact"]
