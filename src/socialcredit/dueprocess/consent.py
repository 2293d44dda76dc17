"""Consent: a subject's grant to one relying party, for one purpose, of one scope, until
an expiry, revocable at once — and what each scope lets a relying party see.

Scopes, narrowest first: `effect` (the answer and the reasons in words), `tier`, `score`,
`explanation` (the records behind it). Without a grant a relying party sees only
membership of public lists (courts' defaulter lists are public by law), and may ask only
about actions that depend on nothing else.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from socialcredit.dueprocess.schema import consents
from socialcredit.errors import SocialCreditError
from socialcredit.ledger.store import driver_rows
from socialcredit.timeutil import format_instant

SCOPES = ("effect", "tier", "score", "explanation")
#: Disclosure levels: a public list only, the four scopes, everything (subject, operator).
LEVELS = ("lists", *SCOPES, "full")


def at_least(level: str, wanted: str) -> bool:
    return LEVELS.index(level) >= LEVELS.index(wanted)


@dataclass(frozen=True)
class Grant:
    grant_id: str
    subject: str
    relying_party: str
    purpose: str
    scope: str
    granted_at: int
    expires_at: int | None
    revoked_at: int | None

    def active(self, now: int) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def as_dict(self, now: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"grant_id": self.grant_id, "subject": self.subject,
               "relying_party": self.relying_party, "purpose": self.purpose,
               "scope": self.scope, "granted_at": format_instant(self.granted_at),
               "expires_at": format_instant(self.expires_at),
               "revoked_at": format_instant(self.revoked_at)}
        if now is not None:
            out["active"] = self.active(now)
        return out


def _grant(r: Any) -> Grant:
    return Grant(r.grant_id, r.subject, r.relying_party, r.purpose, r.scope, r.granted_at,
                 r.expires_at, r.revoked_at)


def add(conn: Connection, subject: str, relying_party: str, purpose: str, scope: str,
        now: int, expires_at: int | None) -> Grant:
    if scope not in SCOPES:
        raise SocialCreditError(f"scope {scope!r}: choose one of {', '.join(SCOPES)}",
                                code="consent.invalid")
    if not purpose.strip():
        raise SocialCreditError("a grant names its purpose", code="consent.invalid")
    if expires_at is not None and expires_at <= now:
        raise SocialCreditError("a grant's expiry must lie in the future",
                                code="consent.invalid")
    g = Grant(uuid.uuid4().hex, subject, relying_party, purpose.strip(), scope, now,
              expires_at, None)
    conn.execute(consents.insert().values(
        grant_id=g.grant_id, subject=subject, relying_party=relying_party, purpose=g.purpose,
        scope=scope, granted_at=now, expires_at=expires_at, revoked_at=None))
    return g


def get(conn: Connection, grant_id: str) -> Grant | None:
    r = conn.execute(select(consents).where(consents.c.grant_id == grant_id)).first()
    return None if r is None else _grant(r)


def of_subject(conn: Connection, subject: str) -> list[Grant]:
    c = consents.c
    return [_grant(r) for r in conn.execute(select(consents).where(c.subject == subject)
                                            .order_by(c.granted_at, c.grant_id))]


def to_party(conn: Connection, relying_party: str) -> list[Grant]:
    c = consents.c
    return [_grant(r) for r in conn.execute(select(consents).where(
        c.relying_party == relying_party).order_by(c.granted_at, c.grant_id))]


def revoke(conn: Connection, grant_id: str, now: int) -> None:
    conn.execute(update(consents).where(consents.c.grant_id == grant_id,
                                        consents.c.revoked_at.is_(None))
                 .values(revoked_at=now))


def between(conn: Connection, subject: str, relying_party: str) -> list[Grant]:
    """Every grant (active or not) of one subject to one relying party. Read with the
    driver's cursor: a decision about a subject not in the process's cache asks this
    once, and SQLAlchemy's statement and result machinery cost several times the
    indexed look-up itself."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return [Grant(*r) for r in driver_rows(conn, _BETWEEN.format(mark=mark),
                                           (subject, relying_party))]


_BETWEEN = (f"SELECT grant_id, subject, relying_party, purpose, scope, granted_at, "
            f"expires_at, revoked_at FROM {consents.name} "
            "WHERE subject = {mark} AND relying_party = {mark} "
            "ORDER BY granted_at, grant_id")


def find(conn: Connection, subject: str, relying_party: str, now: int, *,
         purpose: str | None = None, grant_id: str | None = None) -> Grant | None:
    """The active grant a request rests on: the one named (it must be this subject's to
    this party, for this purpose), or the only active one for the purpose."""
    return choose(between(conn, subject, relying_party), relying_party, now,
                  purpose=purpose, grant_id=grant_id)


def choose(grants: Sequence[Grant], relying_party: str, now: int, *,
           purpose: str | None = None, grant_id: str | None = None) -> Grant | None:
    """`find` among the grants of one subject to one relying party (`between`), wherever
    they were read from (a decision served from memory keeps them in its cache)."""
    if grant_id is not None:
        g = next((x for x in grants if x.grant_id == grant_id), None)
        if g is None:
            raise SocialCreditError(f"no consent grant {grant_id!r} from this subject to "
                                    f"{relying_party!r}", code="consent.required")
        if not g.active(now):
            raise SocialCreditError(f"consent grant {grant_id!r} was revoked or has expired",
                                    code="consent.required")
        if purpose is not None and purpose != g.purpose:
            raise SocialCreditError(f"consent grant {grant_id!r} is for the purpose "
                                    f"{g.purpose!r}, not {purpose!r}", code="consent.required")
        return g
    live = [g for g in grants if g.active(now) and (purpose is None or g.purpose == purpose)]
    if len(live) > 1:
        raise SocialCreditError("several consent grants apply: name the grant or the "
                                "purpose", code="consent.required")
    return live[0] if live else None


# -- what each level discloses ---------------------------------------------------------------

def _condition(c: dict[str, Any], level: str) -> dict[str, Any]:
    if level == "full" or at_least(level, "explanation"):
        return dict(c)
    out = {"condition": c["condition"], "value": c["value"], "holds": c["holds"]}
    if "tier" in c and at_least(level, "tier"):
        out["tier"] = c["tier"]
    if "score" in c and at_least(level, "score"):
        out["score"] = c["score"]
    return out


def decision(body: dict[str, Any], level: str, public_lists: set[str]) -> dict[str, Any]:
    """A decision as a relying party at `level` may see it."""
    if at_least(level, "explanation"):
        return body
    keep = ("decision_id", "subject", "action", "program", "effect", "grant", "at",
            "decided_at", "rulebook", "hypothetical", "purpose", "grant_id", "requester",
            "standing_source", "adverse_action")
    out = {k: body[k] for k in keep if k in body}
    out["reasons"] = [{k: r.get(k) for k in ("consequence", "action", "effect", "label",
                                             "legal_basis", "provider", "applies")}
                      | {"conditions": [_condition(c, level) for c in r["conditions"]]}
                      for r in body["reasons"]]
    out["lists"] = [x for x in body.get("lists", []) if x in public_lists]
    if at_least(level, "tier"):
        out["tier"] = body.get("tier")
    if at_least(level, "score"):
        out["score"] = body.get("score")
    out["disclosure"] = level
    return out


def standing(body: dict[str, Any], level: str, public_lists: set[str]) -> dict[str, Any]:
    """A standing as a relying party at `level` may see it."""
    if at_least(level, "explanation"):
        return body
    out: dict[str, Any] = {k: body[k] for k in ("subject", "program", "at", "rulebook")}
    out["lists"] = [x for x in body["lists"] if x in public_lists]
    if at_least(level, "tier"):
        out["tier"] = body["tier"]
    if at_least(level, "score"):
        out["score"] = body["score"]
    out["disclosure"] = level
    return out


__all__ = ["LEVELS", "SCOPES", "Grant", "add", "at_least", "between", "choose", "decision",
           "find", "get",
           "of_subject", "revoke", "standing", "to_party"]
