"""Programs and their versions: publication, with its public-log leaf."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from socialcredit.events import Event
from socialcredit.ledger.model import ProgramVersion
from socialcredit.rulebook.baseline import enforce_baseline
from socialcredit.rulebook.loader import source_text
from socialcredit.rulebook.model import Rulebook
from socialcredit.service.batches import provider_event
from socialcredit.service.context import Context
from socialcredit.timeutil import BEGINNING_OF_TIME, format_instant


def version_dict(pv: ProgramVersion) -> dict[str, Any]:
    return {"program": pv.program, "version": pv.version, "sha256": pv.sha256,
            "effective_at": format_instant(pv.effective_at),
            "published_at": format_instant(pv.published_at)}


class Programs:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def publish(self, rulebook: Rulebook, effective: int | None = None) -> ProgramVersion:
        """Add a program or a new version of one, after the baseline and the agreement of
        shared record types with every other program. Publishing the same version twice
        is a no-op."""
        self.ctx.allow("programs.publish")
        enforce_baseline(rulebook)
        with self.ctx.write() as conn:
            return self.publish_in(conn, rulebook, effective)

    def publish_in(self, conn: Connection, rulebook: Rulebook, effective: int | None,
                   published_at: int | None = None, source: str | None = None
                   ) -> ProgramVersion:
        """Publication inside the caller's unit of work. `published_at` is the ledger's
        clock unless an import carries a version's original publication time."""
        enforce_baseline(rulebook)
        ledger = self.ctx.ledger
        same = ledger.existing_version(rulebook, conn)
        if same is not None:
            return same
        existing = ledger.program_versions(None, conn)
        ledger.check_agreement(rulebook, existing)
        published = ledger.tick(conn) if published_at is None else published_at
        first = not any(pv.program == rulebook.rulebook for pv in existing)
        eff = effective if effective is not None else (
            BEGINNING_OF_TIME if first else published)
        pv = ledger.insert_version(conn, rulebook, eff, published,
                                   source if source is not None else source_text(rulebook))
        ledger.operation(conn, "publish", {"program": pv.program, "version": pv.version,
                                           "sha256": pv.sha256})
        self.ctx.sink.emit(conn, [Event("rulebook.published", {
            "program": pv.program, "version": pv.version, "sha256": pv.sha256,
            "effective_at": format_instant(eff), "published_at": format_instant(published)})])
        return pv

    def publish_report(self, rulebook: Rulebook, effective: int | None = None, *,
                       profiles: list[str] | None = None, dry_run: bool = False
                       ) -> dict[str, Any]:
        """Publish (or, dry_run, only examine) with what the publisher must see: the
        linter's findings under `profiles` (default: every profile) and the changes
        against the version in force now (everything, for a new program). A rulebook the
        baseline refuses is refused (`rulebook.refused`), as by `publish`."""
        from socialcredit.errors import LedgerError
        from socialcredit.lint import lint
        from socialcredit.rulebook.changes import changes

        self.ctx.allow("programs.publish")
        report = lint(rulebook, profiles)
        before: Rulebook | None = None
        against: dict[str, Any] | None = None
        with self.ctx.read() as conn:
            now = self.ctx.ledger.tick(conn)
            if rulebook.rulebook in self.ctx.ledger.programs(conn):
                try:
                    pv = self.ctx.ledger.version_in_force(rulebook.rulebook, now, now, conn)
                    before = pv.rulebook
                    against = version_dict(pv)
                except LedgerError:
                    before = None
        out: dict[str, Any] = {
            "kind": "rulebook", "program": rulebook.rulebook, "version": rulebook.version,
            "sha256": rulebook.sha256, "dry_run": dry_run,
            "lint": report.as_dict(), "against": against,
            "changes": changes(before, rulebook), "published": None}
        if not dry_run:
            out["published"] = version_dict(self.publish(rulebook, effective))
        return out

    def versions(self, program: str | None = None) -> list[ProgramVersion]:
        self.ctx.allow("programs.read")
        return self.ctx.ledger.program_versions(program)

    def names(self) -> list[str]:
        self.ctx.allow("programs.read")
        return self.ctx.ledger.programs()


class Providers:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def add(self, provider: str, role: str) -> bool:
        """Register a data provider with its role; False if it already was (same role)."""
        self.ctx.allow("providers.add")
        with self.ctx.write() as conn:
            added = self.add_in(conn, provider, role)
            if added is not None:
                self.ctx.sink.emit(conn, [added])
        return added is not None

    def add_in(self, conn: Connection, provider: str, role: str,
               registered_at: int | None = None) -> Event | None:
        """Registration inside the caller's unit of work; returns the event the public log
        must get (the caller emits it, batched with its others), None if the provider
        already was registered with that role."""
        ledger = self.ctx.ledger
        at = ledger.tick(conn) if registered_at is None else registered_at
        if not ledger.add_provider(conn, provider, role, at):
            return None
        ledger.operation(conn, "provider.add", {"provider": provider, "role": role})
        return provider_event(provider, role, at)

    def list(self) -> dict[str, str]:
        self.ctx.allow("providers.list")
        return self.ctx.ledger.providers()


__all__ = ["Programs", "Providers", "version_dict"]
