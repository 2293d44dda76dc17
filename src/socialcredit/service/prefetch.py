"""What decisions in flight need from the database, read for all of them at once.

A server answers a materialized decision from the process's cache
(service/standing_cache.py) when it holds the subject's row and, for a relying party,
its consent grants; a decision that misses reads them in a read transaction of its own,
on a worker thread. Under load many decisions miss at the same moment (a relying
party asks about many people once each), and the transaction's begin and end, the
statements and the thread hand-off cost more than the look-ups. A server gathers
those decisions and has them read here in one transaction (`StandingCache.prefetch`);
each decision is then made as before — authorized, access-logged and logged by
`Decisions.decide_async` — and finds what it needs in memory. What is read here is
only kept in the cache, never handed to anyone: a decision the principal may not make
is refused as before, and a subject whose row changed meanwhile is read again by its
decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from socialcredit.errors import SocialCreditError
from socialcredit.principals import Principal
from socialcredit.service.authz import authorize
from socialcredit.service.context import Context

#: one decision in flight: who asks, about whom, under which program (None: the default)
Ask = tuple[Principal, str, str | None]


def _key(ctx: Context, principal: Principal, subject: str, program: str | None
         ) -> tuple[str, str, str | None] | None:
    """(program, subject, relying party) as the cache keys them, or None for a decision
    that would not be made from the cache's row (refused, a subject id not plainly
    ASCII, an unknown program): that decision reads, and fails, as it always does."""
    cache = ctx.cache
    if cache is None or not isinstance(subject, str) or not subject.isascii():
        return None
    try:
        subject = ctx.subject_id(subject)
        authorize(principal, "decisions.decide", subject)
        name = cache.program(program)
    except SocialCreditError:
        return None
    return name, subject, principal.id if principal.role == "relying_party" else None


def in_memory(ctx: Context, principal: Principal, subject: str, program: str | None
              ) -> bool:
    """Whether the cache holds what a materialized decision needs (as of its last
    sync), or the decision would not read it from there anyway."""
    if ctx.cache is not None and not ctx.cache.synced:
        return False  # the programs are not known yet: `prefetch` syncs first
    key = _key(ctx, principal, subject, program)
    if key is None:
        return True
    assert ctx.cache is not None
    return ctx.cache.holds(*key)


def prefetch(ctx: Context, asks: Sequence[Ask]) -> int:
    """Read into the cache, in one read transaction, what the decisions `asks` need and
    it lacks; returns how many standing rows were read."""
    if ctx.cache is None:
        return 0
    if not ctx.cache.synced:
        ctx.cache.sync()
    keys = [k for k in (_key(ctx, *ask) for ask in asks) if k is not None]
    if not keys:
        return 0
    return ctx.cache.prefetch(keys)


__all__ = ["Ask", "in_memory", "prefetch"]
