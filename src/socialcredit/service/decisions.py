"""Decisions for relying parties: evaluated, logged, sealed into the public log."""

from __future__ import annotations

import uuid
from typing import Any

from socialcredit.decisions import log
from socialcredit.decisions.evaluate import Decision, evaluate
from socialcredit.events import Event
from socialcredit.service.context import Context
from socialcredit.service.standings import Standings


class Decisions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def decide(self, subject: str, action: str, program: str | None = None,
               at: int | None = None, *, record: bool = True,
               materialized: bool = False) -> Decision:
        """May `subject` do `action`, and on what terms? Logged in the decision log.

        By default the standing is computed live at `at` (exact, with every reason). With
        materialized=True it is read from the table `score --all` writes and ingest keeps
        current — the fast path for relying parties at volume; the decision then holds
        for the time that row was computed for. A decision about another time than now
        is marked hypothetical."""
        subject = self.ctx.subject_id(subject)
        standings = Standings(self.ctx)
        ledger = self.ctx.ledger
        st = standings.materialized(subject, program) if materialized and at is None \
            else None
        source = "materialized" if st is not None else "live"
        if st is None:
            st, pv = standings.in_force(subject, program, at)
        else:
            pv = ledger.version_in_force(st.program, st.at, st.known_at)
        ledger.ensure_operable(pv.rulebook)
        effect, grant, reasons = evaluate(pv.rulebook, st, action)
        with self.ctx.write() as conn:
            decided_at = ledger.tick(conn)
            d = Decision(str(uuid.uuid4()), subject, action, st.program, effect, grant,
                         reasons, st.at, st.known_at, decided_at, st, source,
                         hypothetical=at is not None and at != decided_at)
            if record:
                log.write(conn, d, pv.version, pv.sha256)
        return d

    def log(self, subject: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The decisions about a subject (or all), newest first: what the subject reads."""
        if subject is not None:
            subject = self.ctx.subject_id(subject)
        with self.ctx.read() as conn:
            return log.read(conn, subject, limit)

    def seal(self) -> list[dict[str, Any]]:
        """Commit every decision not yet sealed to the transparency log: one
        `decisions.batch` leaf per program with the count and a digest of the bodies."""
        with self.ctx.write() as conn:
            rows = log.unsealed(conn)
            if not rows:
                return []
            sealed = log.batches(rows)
            self.ctx.sink.emit(conn, [Event("decisions.batch", b) for b in sealed])
            log.mark_sealed(conn, [seq for seq, _, _ in rows], self.ctx.ledger.clock())
        return sealed


__all__ = ["Decisions"]
