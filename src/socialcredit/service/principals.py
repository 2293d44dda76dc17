"""Principals and their bearer tokens: added, listed, revoked, rotated by the operator;
a token resolved to its principal (the HTTP API only checks it)."""

from __future__ import annotations

import secrets
from typing import Any

from socialcredit.dueprocess import credentials
from socialcredit.dueprocess import principals as store
from socialcredit.dueprocess.principals import StoredPrincipal
from socialcredit.errors import SocialCreditError
from socialcredit.principals import Forbidden, Principal
from socialcredit.service.context import Context
from socialcredit.timeutil import days_to_us, format_instant

TOKEN_DAYS = 90.0  # a token's default lifetime


class Principals:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def add(self, principal_id: str, role: str, *, provider: str | None = None,
            subject: str | None = None, email: str | None = None,
            webhook: str | None = None, token_days: float | None = TOKEN_DAYS
            ) -> dict[str, Any]:
        """Register a principal and issue its first token (shown once: only its hash is
        kept). A reviewer without a provider acts for a provider of its own name with the
        role `reviewer` (registered if needed), under which it files voids. A webhook gets
        a signing secret, also shown once."""
        ctx = self.ctx
        ctx.allow("principals.manage")
        if role in ("reviewer", "appeal_reviewer") and provider is None:
            provider = principal_id
        store.check_new(principal_id, role, provider, subject)
        with ctx.write() as conn:
            now = ctx.ledger.tick(conn)
            if provider is not None:
                roles = ctx.ledger.providers(conn)
                if role in ("reviewer", "appeal_reviewer"):
                    if ctx.ledger.add_provider(conn, provider, "reviewer"):
                        ctx.ledger.operation(conn, "provider.add", {"provider": provider,
                                                                    "role": "reviewer"})
                elif provider not in roles:
                    raise SocialCreditError(f"no registered provider {provider!r}",
                                            code="not_found")
            secret = secrets.token_urlsafe(32) if webhook else None
            p = StoredPrincipal(principal_id, role, provider, subject, email, webhook, secret,
                                now, None)
            store.add(conn, p)
            token = store.issue_token(conn, principal_id, now, _expiry(now, token_days))
            ctx.ledger.operation(conn, "principal.add", {"principal": principal_id,
                                                         "role": role})
        return {**p.as_dict(), "token": token, "webhook_secret": secret}

    def list(self) -> list[dict[str, Any]]:
        self.ctx.allow("principals.manage")
        with self.ctx.read() as conn:
            return [{**p.as_dict(), "tokens": store.tokens_of(conn, p.principal_id)}
                    for p in store.list_all(conn)]

    def revoke(self, principal_id: str) -> dict[str, Any]:
        """The principal and every token of it stop working at once."""
        ctx = self.ctx
        ctx.allow("principals.manage")
        with ctx.write() as conn:
            now = ctx.ledger.tick(conn)
            _existing(conn, principal_id)
            store.revoke(conn, principal_id, now)
            ctx.ledger.operation(conn, "principal.revoke", {"principal": principal_id})
            p = store.get(conn, principal_id)
            assert p is not None
            return p.as_dict()

    def rotate(self, principal_id: str, *, token_days: float | None = TOKEN_DAYS,
               grace_days: float = 0.0) -> dict[str, Any]:
        """A new token; the old ones stop working after `grace_days` (default: now)."""
        ctx = self.ctx
        ctx.allow("principals.manage")
        with ctx.write() as conn:
            now = ctx.ledger.tick(conn)
            p = _existing(conn, principal_id)
            if p.revoked_at is not None:
                raise SocialCreditError(f"principal {principal_id!r} was revoked",
                                        code="principal.invalid")
            until = now + days_to_us(grace_days)
            retired = store.retire_tokens(conn, principal_id, until)
            token = store.issue_token(conn, principal_id, now, _expiry(now, token_days))
            ctx.ledger.operation(conn, "principal.rotate", {"principal": principal_id})
        return {"principal": principal_id, "token": token, "retired": retired,
                "old_tokens_until": format_instant(until)}

    def authenticate(self, token: str) -> Principal:
        """The principal a bearer token belongs to; Forbidden for any token that is
        malformed, unknown, expired or revoked (all alike)."""
        return self.verify(token)[0]

    def verify(self, token: str) -> tuple[Principal, int | None]:
        """`authenticate`, with the instant the token expires (None: never), for callers
        that keep verified tokens for a while (the HTTP API's cache): they must not keep
        one past its expiry."""
        with self.ctx.read() as conn:
            found = store.authenticate_until(conn, token, self.ctx.ledger.tick(conn))
        if found is None:
            raise Forbidden("the token is not valid (unknown, expired or revoked)")
        return found[0].principal(), found[1]

    @staticmethod
    def token_id_of(token: str) -> str | None:
        """The public id a well-formed token carries (not a check that it works)."""
        return credentials.token_id_of(token)

    def for_session(self, principal_id: str, token_id: str) -> Principal:
        """The live principal of a web session opened with the token `token_id`:
        Forbidden once that token is revoked, retired by a rotation (after its grace) or
        expired, or the principal revoked — a rotation ends the sessions of the old
        token, as it ends the token."""
        with self.ctx.read() as conn:
            p = _existing(conn, principal_id)
            live = store.token_live(conn, principal_id, token_id, self.ctx.ledger.tick(conn))
        if p.revoked_at is not None or not live:
            raise Forbidden(f"the session of {principal_id!r} has ended: sign in again")
        return p.principal()

    def get(self, principal_id: str) -> Principal:
        """A named, live principal (how the command line's `--as` acts as one)."""
        with self.ctx.read() as conn:
            p = _existing(conn, principal_id)
        if p.revoked_at is not None:
            raise Forbidden(f"principal {principal_id!r} was revoked")
        return p.principal()


def _existing(conn: Any, principal_id: str) -> StoredPrincipal:
    p = store.get(conn, principal_id)
    if p is None:
        raise SocialCreditError(f"no principal {principal_id!r}", code="not_found")
    return p


def _expiry(now: int, days: float | None) -> int | None:
    return None if days is None else now + days_to_us(days)


__all__ = ["TOKEN_DAYS", "Principals"]
