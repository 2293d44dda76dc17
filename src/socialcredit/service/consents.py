"""Consent grants (subject → relying party, purpose, scope, expiry) and the access log
the subject reads."""

from __future__ import annotations

from typing import Any

from socialcredit.dueprocess import access, consent
from socialcredit.errors import SocialCreditError
from socialcredit.service.authz import subject_of
from socialcredit.service.context import Context


class Consents:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def grant(self, relying_party: str, purpose: str, scope: str, *,
              subject: str | None = None, expires_at: int | None = None) -> dict[str, Any]:
        """The subject lets one relying party see, for one purpose, its decisions (and,
        beyond `effect`, its tier, score or explanation) until `expires_at`."""
        ctx = self.ctx
        ctx.allow("consent.grant")
        subject = subject_of(ctx.principal, subject, "consent")
        ctx.allow("consent.grant", subject)
        with ctx.write() as conn:
            now = ctx.ledger.tick(conn)
            from socialcredit.dueprocess import principals

            rp = principals.get(conn, relying_party)
            if rp is None or rp.role != "relying_party" or rp.revoked_at is not None:
                raise SocialCreditError(f"no relying party {relying_party!r}",
                                        code="not_found")
            g = consent.add(conn, subject, relying_party, purpose, scope, now, expires_at)
            ctx.ledger.operation(conn, "consent.grant", {"grant_id": g.grant_id,
                                                         "relying_party": relying_party,
                                                         "scope": scope})
            return g.as_dict(now)

    def list(self, subject: str | None = None) -> list[dict[str, Any]]:
        """A subject's grants; for a relying party, the grants given to it."""
        ctx = self.ctx
        p = ctx.principal
        with ctx.read() as conn:
            now = ctx.ledger.tick(conn)
            if p.role == "relying_party":
                ctx.allow("consent.list")
                return [g.as_dict(now) for g in consent.to_party(conn, p.id)
                        if subject is None or g.subject == subject]
            ctx.allow("consent.list")
            subject = subject_of(p, subject, "consent grants")
            ctx.allow("consent.list", subject)
            return [g.as_dict(now) for g in consent.of_subject(conn, subject)]

    def revoke(self, grant_id: str) -> dict[str, Any]:
        """Revoked at once: the next decision no longer rests on it."""
        ctx = self.ctx
        ctx.allow("consent.revoke")
        with ctx.write() as conn:
            now = ctx.ledger.tick(conn)
            g = consent.get(conn, grant_id)
            if g is None:
                raise SocialCreditError(f"no consent grant {grant_id!r}", code="not_found")
            ctx.allow("consent.revoke", g.subject)
            consent.revoke(conn, grant_id, now)
            ctx.ledger.operation(conn, "consent.revoke", {"grant_id": grant_id})
            g2 = consent.get(conn, grant_id)
            assert g2 is not None
            return g2.as_dict(now)


class AccessLog:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def of(self, subject: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Who read the subject's standings and decisions: when, as whom, for what purpose,
        under which grant (reads of a whole population included)."""
        self.ctx.allow("access_log.read")
        subject = subject_of(self.ctx.principal, subject, "access log")
        self.ctx.allow("access_log.read", subject)
        with self.ctx.read() as conn:
            return access.of(conn, subject, limit)


__all__ = ["AccessLog", "Consents"]
