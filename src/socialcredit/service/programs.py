"""Programs and their versions, and the catalogues they cite: publication, each with its
public-log leaf; providers and their roles."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from socialcredit.errors import LedgerError, SocialCreditError
from socialcredit.events import Event
from socialcredit.ledger.model import ProgramVersion
from socialcredit.lint import lint
from socialcredit.lint.findings import LintReport
from socialcredit.rulebook.baseline import enforce_baseline
from socialcredit.rulebook.catalogue import Catalogue, enforce_catalogue, enforce_citations
from socialcredit.rulebook.diff import rulebook_diff
from socialcredit.rulebook.loader import source_text
from socialcredit.rulebook.model import Rulebook
from socialcredit.rulebook.shipped import shipped_catalogue
from socialcredit.service.batches import provider_event
from socialcredit.service.context import Context
from socialcredit.timeutil import BEGINNING_OF_TIME, format_instant


def version_dict(pv: ProgramVersion) -> dict[str, Any]:
    return {"program": pv.program, "version": pv.version, "sha256": pv.sha256,
            "effective_at": format_instant(pv.effective_at),
            "published_at": format_instant(pv.published_at)}


@dataclass
class Review:
    """What publishing a rulebook would do: the linter's findings (under the catalogue
    it cites) and its changes against the version in force now."""

    rulebook: Rulebook
    report: LintReport
    diff: list[str]
    in_force: ProgramVersion | None
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return self.report.count("error")

    def as_dict(self) -> dict[str, Any]:
        return {"lint": self.report.as_dict(), "diff": self.diff,
                "against": version_dict(self.in_force) if self.in_force else None,
                "notes": self.notes}


class Catalogues:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def publish(self, catalogue: Catalogue) -> bool:
        """Publish a catalogue version (logged); False if it already was, unchanged."""
        self.ctx.allow("catalogues.publish")
        enforce_catalogue(catalogue)
        with self.ctx.write() as conn:
            return self.publish_in(conn, catalogue)

    def publish_in(self, conn: Connection, cat: Catalogue, published_at: int | None = None,
                   source: str | None = None) -> bool:
        enforce_catalogue(cat)
        ledger = self.ctx.ledger
        have = ledger.catalogue(conn, cat.catalogue, cat.version)
        if have is not None:
            if have.sha256 != cat.sha256:
                raise LedgerError(f"catalogue {cat.catalogue!r} version {cat.version} is "
                                  f"already published with other content (sha256 "
                                  f"{have.sha256[:12]}…): give the new catalogue a new "
                                  "`version:`", code="catalogue.conflict")
            return False
        at = ledger.stamp(conn) if published_at is None else published_at
        ledger.insert_catalogue(conn, cat, at,
                                source if source is not None else source_text(cat))
        ledger.operation(conn, "catalogue.publish", {"catalogue": cat.catalogue,
                                                     "version": cat.version,
                                                     "sha256": cat.sha256})
        self.ctx.sink.emit(conn, [Event("catalogue.published", {
            "catalogue": cat.catalogue, "version": cat.version, "sha256": cat.sha256,
            "published_at": format_instant(at)})])
        return True

    def list(self) -> list[dict[str, Any]]:
        self.ctx.allow("catalogues.read")
        with self.ctx.read() as conn:
            return [{"catalogue": c, "version": v, "sha256": sha,
                     "published_at": format_instant(at)}
                    for c, v, sha, at in self.ctx.ledger.catalogues(conn)]

    def get(self, catalogue: str, version: str) -> Catalogue:
        """One published catalogue version, whole (for reading it as a document)."""
        self.ctx.allow("catalogues.read")
        with self.ctx.read() as conn:
            cat = self.ctx.ledger.catalogue(conn, catalogue, version)
        if cat is None:
            raise SocialCreditError(f"no catalogue {catalogue!r} version {version!r}",
                                    code="not_found")
        return cat

    def resolve(self, conn: Connection, rulebook: Rulebook, given: Catalogue | None = None
                ) -> Catalogue | None:
        """The catalogue `rulebook` cites: the ledger's, else the one given or shipped
        (published then, in the same unit of work)."""
        ref = rulebook.catalogue
        if ref is None:
            return None
        ledger = self.ctx.ledger
        have = ledger.catalogue(conn, ref.id, ref.version)
        if have is not None:
            return have
        cat = given if given is not None and (given.catalogue, given.version) == (
            ref.id, ref.version) else shipped_catalogue(ref.id, ref.version)
        if cat is None:
            raise LedgerError(f"rulebook {rulebook.rulebook!r} cites catalogue {ref.id!r} "
                              f"version {ref.version}, which is neither published in this "
                              "ledger nor shipped: publish the catalogue first",
                              code="catalogue.missing")
        self.publish_in(conn, cat)
        return cat


class Programs:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def review(self, rulebook: Rulebook, catalogue: Catalogue | None = None) -> Review:
        """Lint `rulebook` (every profile, against the catalogue it cites: the ledger's,
        else `catalogue`, else the shipped one) and compare it with the version of its
        program in force now."""
        ledger = self.ctx.ledger
        with self.ctx.read() as conn:
            cat = None
            if rulebook.catalogue is not None:
                cat = ledger.catalogue(conn, rulebook.catalogue.id, rulebook.catalogue.version)
            now = ledger.tick(conn)
            versions = ledger.program_versions(rulebook.rulebook, conn)
        if cat is None and catalogue is not None and rulebook.catalogue is not None and (
                catalogue.catalogue, catalogue.version) == (rulebook.catalogue.id,
                                                            rulebook.catalogue.version):
            cat = catalogue
        in_force = None
        if versions:
            from socialcredit.ledger.versions import version_at

            in_force = version_at(versions, now, now) or versions[-1]
        return Review(rulebook, lint(rulebook, None, cat),
                      rulebook_diff(in_force.rulebook if in_force else None, rulebook),
                      in_force)

    def publish(self, rulebook: Rulebook, effective: int | None = None, *,
                catalogue: Catalogue | None = None, strict: bool = False) -> ProgramVersion:
        """Add a program or a new version of one, after the baseline, the catalogue it
        cites, and the agreement of shared record types with every other program.
        Publishing the same version twice is a no-op. With strict, any error the linter
        finds (in any profile) refuses the publication."""
        self.ctx.allow("programs.publish")
        enforce_baseline(rulebook)
        if strict:
            review = self.review(rulebook, catalogue)
            if review.errors:
                raise SocialCreditError(
                    f"rulebook {rulebook.rulebook!r} version {rulebook.version}: the linter "
                    f"found {review.errors} error(s); a strict publication refuses it\n  "
                    + "\n  ".join(f.render(review.report.source)
                                  for f in review.report.findings if f.severity == "error"),
                    code="rulebook.lint_errors",
                    details=[f.as_dict() for f in review.report.findings
                             if f.severity == "error"])
        with self.ctx.write() as conn:
            return self.publish_in(conn, rulebook, effective, catalogue=catalogue)

    def publish_in(self, conn: Connection, rulebook: Rulebook, effective: int | None,
                   published_at: int | None = None, source: str | None = None, *,
                   catalogue: Catalogue | None = None) -> ProgramVersion:
        """Publication inside the caller's unit of work. `published_at` is the ledger's
        clock unless an import carries a version's original publication time."""
        enforce_baseline(rulebook)
        ledger = self.ctx.ledger
        same = ledger.existing_version(rulebook, conn)
        if same is not None:
            return same
        existing = ledger.program_versions(None, conn)
        ledger.check_agreement(rulebook, existing)
        cat = Catalogues(self.ctx).resolve(conn, rulebook, catalogue)
        enforce_citations(rulebook, cat)
        published = ledger.stamp(conn) if published_at is None else published_at
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

    def add(self, provider: str, role: str, *, new_role: bool = False) -> bool:
        """Register a data provider with its role; False if it already was (same role).
        A role no published rulebook names is refused unless `new_role` (a typo such as
        `polcie` would otherwise register a provider that can submit nothing)."""
        self.ctx.allow("providers.add")
        with self.ctx.write() as conn:
            known = self.ctx.ledger.known_roles(conn)
            if role not in known and not new_role:
                guess = difflib.get_close_matches(role, sorted(known), n=1, cutoff=0.6)
                raise LedgerError(
                    f"role {role!r} is named by no published rulebook"
                    + (f" — did you mean {guess[0]!r}?" if guess else "")
                    + f" (roles the rulebooks name: {', '.join(sorted(known))}); register it "
                    "anyway only if a rulebook about to be published names it",
                    code="provider.unknown_role",
                    details=[{"field": "role", "message": f"unknown role {role!r}"}])
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


__all__ = ["Catalogues", "Programs", "Providers", "Review", "version_dict"]
