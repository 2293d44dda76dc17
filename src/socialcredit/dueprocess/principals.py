"""The principal store: who may act, with which role, bound to which provider or subject,
reachable where; and their bearer tokens (issued, rotated, revoked, checked)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from socialcredit.dueprocess import credentials
from socialcredit.dueprocess.schema import principals, tokens
from socialcredit.errors import SocialCreditError
from socialcredit.principals import PROVIDER_BOUND, ROLES, Principal
from socialcredit.timeutil import format_instant

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$")


@dataclass(frozen=True)
class StoredPrincipal:
    principal_id: str
    role: str
    provider: str | None
    subject: str | None
    email: str | None
    webhook_url: str | None
    webhook_secret: str | None
    created_at: int
    revoked_at: int | None

    def principal(self) -> Principal:
        return Principal(self.principal_id, self.role, self.provider, self.subject)

    def as_dict(self) -> dict[str, Any]:
        """What may be shown: never the webhook secret."""
        return {"principal": self.principal_id, "role": self.role, "provider": self.provider,
                "subject": self.subject, "email": self.email, "webhook": self.webhook_url,
                "created_at": format_instant(self.created_at),
                "revoked_at": format_instant(self.revoked_at)}


def _row(r: Any) -> StoredPrincipal:
    return StoredPrincipal(r.principal_id, r.role, r.provider, r.subject, r.email,
                           r.webhook_url, r.webhook_secret, r.created_at, r.revoked_at)


def check_new(principal_id: str, role: str, provider: str | None,
              subject: str | None) -> None:
    """What a registration must satisfy, before anything is written."""
    if not _ID.match(principal_id):
        raise SocialCreditError(f"principal id {principal_id!r}: use letters, digits and . _ : "
                                "@ - (at most 200)", code="principal.invalid")
    if role not in ROLES:
        raise SocialCreditError(f"unknown role {role!r} (roles: {', '.join(ROLES)})",
                                code="principal.invalid")
    if role == "subject" and not subject:
        raise SocialCreditError("a subject principal is bound to one subject id",
                                code="principal.invalid")
    if role != "subject" and subject:
        raise SocialCreditError(f"only subject principals are bound to a subject ({role} "
                                "is not)", code="principal.invalid")
    if provider and role not in PROVIDER_BOUND:
        raise SocialCreditError(f"only {', '.join(PROVIDER_BOUND)} principals act for a "
                                "registered provider", code="principal.invalid")
    if role == "provider" and not provider:
        raise SocialCreditError("a provider principal acts for one registered provider",
                                code="principal.invalid")


def add(conn: Connection, p: StoredPrincipal) -> None:
    if get(conn, p.principal_id) is not None:
        raise SocialCreditError(f"principal {p.principal_id!r} already exists",
                                code="principal.exists")
    conn.execute(principals.insert().values(
        principal_id=p.principal_id, role=p.role, provider=p.provider, subject=p.subject,
        email=p.email, webhook_url=p.webhook_url, webhook_secret=p.webhook_secret,
        created_at=p.created_at, revoked_at=None))


def get(conn: Connection, principal_id: str) -> StoredPrincipal | None:
    r = conn.execute(select(principals).where(
        principals.c.principal_id == principal_id)).first()
    return None if r is None else _row(r)


def list_all(conn: Connection) -> list[StoredPrincipal]:
    return [_row(r) for r in conn.execute(
        select(principals).order_by(principals.c.principal_id))]


def revoke(conn: Connection, principal_id: str, now: int) -> None:
    conn.execute(update(principals).where(principals.c.principal_id == principal_id,
                                          principals.c.revoked_at.is_(None))
                 .values(revoked_at=now))
    conn.execute(update(tokens).where(tokens.c.principal_id == principal_id,
                                      tokens.c.revoked_at.is_(None)).values(revoked_at=now))


def issue_token(conn: Connection, principal_id: str, now: int, expires_at: int | None) -> str:
    token_id, token = credentials.new_token()
    conn.execute(tokens.insert().values(
        token_id=token_id, principal_id=principal_id,
        secret_hash=credentials.hash_secret(token), created_at=now, expires_at=expires_at,
        revoked_at=None))
    return token


def retire_tokens(conn: Connection, principal_id: str, until: int) -> int:
    """Every live token of the principal stops working at `until` (rotation's grace)."""
    c = tokens.c
    live = conn.execute(select(c.token_id, c.expires_at).where(
        c.principal_id == principal_id, c.revoked_at.is_(None))).all()
    n = 0
    for token_id, expires in live:
        if expires is None or expires > until:
            conn.execute(update(tokens).where(c.token_id == token_id).values(expires_at=until))
            n += 1
    return n


def tokens_of(conn: Connection, principal_id: str) -> list[dict[str, Any]]:
    c = tokens.c
    return [{"token_id": r.token_id, "created_at": format_instant(r.created_at),
             "expires_at": format_instant(r.expires_at),
             "revoked_at": format_instant(r.revoked_at)}
            for r in conn.execute(select(c.token_id, c.created_at, c.expires_at, c.revoked_at)
                                  .where(c.principal_id == principal_id)
                                  .order_by(c.created_at))]


def authenticate(conn: Connection, token: str, now: int) -> StoredPrincipal | None:
    """The live principal a token belongs to, or None (malformed, unknown, expired,
    revoked, or its principal revoked): callers answer every failure alike."""
    found = authenticate_until(conn, token, now)
    return None if found is None else found[0]


def authenticate_until(conn: Connection, token: str, now: int
                       ) -> tuple[StoredPrincipal, int | None] | None:
    """`authenticate`, with the token's expiry (None: it does not expire), so that a
    cache of verified tokens never outlives the token."""
    token_id = credentials.token_id_of(token)
    if token_id is None:
        return None
    row = conn.execute(select(tokens).where(tokens.c.token_id == token_id)).first()
    if row is None or row.revoked_at is not None or (
            row.expires_at is not None and row.expires_at <= now):
        return None
    if not credentials.verify_secret(token.strip(), row.secret_hash):
        return None
    p = get(conn, row.principal_id)
    if p is None or p.revoked_at is not None:
        return None
    return p, row.expires_at


def token_live(conn: Connection, principal_id: str, token_id: str, now: int) -> bool:
    """Whether a token already verified once (by its secret) still works for its
    principal: a web session stands on the token it was opened with, so rotating or
    revoking that token ends the session (after rotation's grace) without keeping the
    secret anywhere."""
    row = conn.execute(select(tokens.c.principal_id, tokens.c.expires_at,
                              tokens.c.revoked_at)
                       .where(tokens.c.token_id == token_id)).first()
    return (row is not None and row.principal_id == principal_id and row.revoked_at is None
            and (row.expires_at is None or row.expires_at > now))


def contacts(conn: Connection, subjects: list[str]) -> dict[str, list[StoredPrincipal]]:
    """subject -> its live subject principals that have a delivery address."""
    if not subjects:
        return {}
    c = principals.c
    out: dict[str, list[StoredPrincipal]] = {}
    for i in range(0, len(subjects), 900):
        for r in conn.execute(select(principals).where(
                c.subject.in_(subjects[i:i + 900]), c.role == "subject",
                c.revoked_at.is_(None))):
            p = _row(r)
            if p.email or p.webhook_url:
                out.setdefault(str(p.subject), []).append(p)
    return out


def operators_with_address(conn: Connection) -> list[StoredPrincipal]:
    c = principals.c
    return [p for p in (_row(r) for r in conn.execute(select(principals).where(
        c.role == "operator", c.revoked_at.is_(None)))) if p.email or p.webhook_url]


def has_any_subjects(conn: Connection) -> bool:
    """Whether any subject principal exists (ingest skips the contact look-up if not)."""
    c = principals.c
    return conn.execute(select(c.principal_id).where(c.role == "subject").limit(1)
                        ).first() is not None


__all__ = ["StoredPrincipal", "add", "authenticate", "authenticate_until", "check_new",
           "contacts", "get", "has_any_subjects", "issue_token", "list_all",
           "operators_with_address", "retire_tokens", "revoke", "tokens_of"]
