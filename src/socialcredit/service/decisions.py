"""Decisions for relying parties: evaluated on the standing due process leaves, within
the requester's consent, logged with who asked and why, noticed to the subject on a
deny, and sealed into the public log."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from socialcredit.db import memo
from socialcredit.decisions import log
from socialcredit.decisions.evaluate import Decision, evaluate, outcome
from socialcredit.dueprocess import access, consent
from socialcredit.dueprocess import notices as notice_store
from socialcredit.errors import SocialCreditError
from socialcredit.events import Event
from socialcredit.principals import Principal
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.standing import Standing, whole
from socialcredit.service.context import Context, WouldBlock
from socialcredit.service.notices import issue
from socialcredit.service.standings import materialized_standing, public_lists, standing_at
from socialcredit.timeutil import format_instant

FILE_RIGHT = ("You may obtain your whole file free of charge (records, standings, listings, "
              "decisions and who asked about you); ask within 60 days of this notice and at "
              "any other time.")
OBJECT_RIGHT = ("You may object to any record or listing behind this decision; a reviewer "
                "who did not report it decides with reasons.")


def needs_consent(rb: Rulebook, action: str) -> bool:
    """Whether deciding `action` reads more than public-list membership."""
    public = public_lists(rb)
    for c in rb.consequences:
        if c.action != action:
            continue
        for key, value in c.when.conditions().items():
            if key not in ("on_list", "not_on_list") or value not in public:
                return True
    return False


def adverse_action(rb: Rulebook, st: Standing, reasons: list[dict[str, Any]],
                   action: str, decided_at: int) -> dict[str, Any]:
    """What a refusal must tell the subject (FCRA §615(a)): the score used and its range
    where a score or tier decided, up to four key factors, the source, the date, and the
    rights to a free file and to object."""
    applying = [r for r in reasons if r["applies"] and r["effect"] == "deny"]
    conditions = [c for r in applying for c in r["conditions"]]
    lists = {x.id: x for x in rb.lists}
    out: dict[str, Any] = {
        "action": action, "date": format_instant(decided_at),
        "source": {"program": st.program, "rulebook": st.rulebook.as_dict(),
                   "consequences": [{"label": r.get("label"), "provider": r.get("provider"),
                                     "legal_basis": r.get("legal_basis")} for r in applying]},
        "lists": [{"list": c["value"], "label": lists[c["value"]].label,
                   "legal_basis": lists[c["value"]].legal_basis,
                   "records": c.get("records", [])}
                  for c in conditions if c["condition"] == "on_list" and c["value"] in lists],
        "rights": [FILE_RIGHT, OBJECT_RIGHT]}
    if any(c["condition"] in ("score_at_least", "score_below", "tier_at_least")
           for c in conditions):
        out["score"] = {"value": st.score, "range": [rb.scale.min, rb.scale.max],
                        "tier": st.tier}
        out["key_factors"] = [{"record_id": c.record_id, "type": c.type,
                               "label": c.label, "points": c.contribution}
                              for c in st.key_factors]
    return out


def _for_requester(aa: dict[str, Any], level: str) -> dict[str, Any]:
    """The adverse-action content a relying party passes on: factors by kind, not by
    record, and the score only where its grant shows scores."""
    out = {k: v for k, v in aa.items() if k not in ("score", "key_factors", "lists")}
    out["lists"] = [{k: v for k, v in x.items() if k != "records"} for x in aa["lists"]]
    if "key_factors" in aa:
        out["key_factors"] = [{"label": f["label"], "type": f["type"]}
                              for f in aa["key_factors"]]
    if "score" in aa and consent.at_least(level, "score"):
        out["score"] = aa["score"]
    elif "score" in aa:
        out["score"] = {"range": aa["score"]["range"],
                        "note": "the subject's notice gives the score used"}
    return out


_random = threading.local()
# a forked child must not hand out its parent's pooled ids again
os.register_at_fork(after_in_child=lambda: _random.__dict__.pop("hex", None))


#: the variant nibble (RFC 4122: 10xx) from a random hex digit's two low bits
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def new_decision_id() -> str:
    """A random (version 4) UUID, as uuid.uuid4() makes it, from random bytes drawn 32
    ids at a time (per thread): one system call and one UUID object per decision cost
    more than the rest of a decision read from memory. Each id is spelled when it is
    asked for: spelling 256 at once made every 256th decision ~0.5 ms slower; drawing
    256 ids' bytes at once (13 µs) made every 256th unlogged decision the slowest of
    its 256, 32 (2 µs) does not mark it."""
    local = _random.__dict__
    h: str | None = local.get("hex")
    i: int = local.get("at", 0)
    if h is None or i >= len(h):
        h = local["hex"] = os.urandom(16 * 32).hex()
        i = 0
    local["at"] = i + 32
    return (f"{h[i:i + 8]}-{h[i + 8:i + 12]}-4{h[i + 13:i + 16]}-{_VARIANT[h[i + 16]]}"
            f"{h[i + 17:i + 20]}-{h[i + 20:i + 32]}")


@dataclass(frozen=True)
class Prepared:
    """A decision read and evaluated, its rows still to commit (`Decisions.prepare`)."""

    unit: Callable[[Connection | None], tuple[Decision, dict[str, Any] | None]]
    commits: bool  # whether `unit` must run in a transaction (else with None)
    level: str  # what the requester may see
    rulebook: Rulebook

    def finish(self, done: tuple[Decision, dict[str, Any] | None]) -> Decision:
        """The decision as its requester is shown it, once `unit` has run."""
        d, aa = done
        if self.level != "full":
            view = consent.decision(d.body(), self.level, public_lists(self.rulebook))
            if aa is not None:
                view["adverse_action"] = _for_requester(aa, self.level)
            d = dataclasses.replace(d, disclosed=view)
        return d


def made(rb: Rulebook, st: Standing, subject: str, action: str, effect: str,
         granted: dict[str, Any], decided_at: int, *, decision_id: str, source: str,
         hypothetical: bool, principal: Principal, purpose: str | None,
         grant_id: str | None, level: str) -> tuple[Decision, dict[str, Any] | None]:
    """A decision and, for a refusal, its adverse-action content: what the logged path
    (a unit, in its transaction) and the unlogged one from memory both make. A refusal's
    reasons are built now (its notice gives them); others' when first asked for."""
    def reasons() -> list[dict[str, Any]]:
        return evaluate(rb, st, action)[2]

    why: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]] = reasons
    aa = None
    if effect == "deny":
        why = reasons()
        aa = adverse_action(rb, st, why, action, decided_at)
    # every field given: built as Decision(...) would (scoring/standing.py: whole)
    return whole(Decision, {
        "decision_id": decision_id, "subject": subject, "action": action,
        "program": st.program, "effect": effect, "grant": granted, "_reasons": why,
        "at": st.at, "known_at": st.known_at, "decided_at": decided_at,
        "standing": st, "source": source, "hypothetical": hypothetical,
        "requester": {"principal": principal.id, "role": principal.role},
        "purpose": purpose, "grant_id": grant_id, "disclosure": level,
        "adverse_action": aa, "disclosed": None}), aa


class Decisions:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def decide(self, subject: str, action: str, program: str | None = None,
               at: int | None = None, *, record: bool = True, materialized: bool = False,
               purpose: str | None = None, grant: str | None = None) -> Decision:
        """May `subject` do `action`, and on what terms? Logged in the decision log.

        By default the standing is computed live at `at` (exact, with every reason). With
        materialized=True it is read from the table `score --all` writes and ingest keeps
        current — the fast path for relying parties at volume; the decision then holds
        for the time that row was computed for (a subject with due-process effects is
        decided live). A decision about another time than now is marked hypothetical.

        A relying party needs the subject's consent grant (`grant`, or the one active
        grant for `purpose`) unless the action depends on public lists only; it is shown
        what the grant's scope allows. Anyone but the subject asking leaves an entry in
        the subject's access log; a deny (asked for now) is noticed to the subject."""
        if materialized and not record and at is None:
            d = self._from_memory(subject, action, program, purpose)
            if d is not None:
                return d
        p = self._prepare(subject, action, program, at, record=record,
                          materialized=materialized, purpose=purpose, grant=grant,
                          direct=True)
        if isinstance(p, Decision):
            return p
        return p.finish(self.ctx.commit(p.unit) if p.commits else p.unit(None))

    def _from_memory(self, subject: str, action: str, program: str | None,
                     purpose: str | None) -> Decision | None:
        """An unlogged decision about now that its requester sees whole (not a relying
        party's: its grant decides what it sees), when the process's cache gives the
        standing whole (`StandingCache.remembered`, SQLite): what `_prepare` makes of
        it then — its unit run without a transaction, nothing written — without a read
        transaction, a `Materialized`, a unit or a `Prepared`: the path a risk engine
        takes at volume (tests/service/test_unlogged_decisions.py holds them equal).
        None, having changed nothing, where `_prepare` must decide."""
        ctx = self.ctx
        cache = ctx.cache
        if cache is None or not cache.syncs_alone:
            return None
        subject = ctx.subject_id(subject)
        ctx.allow("decisions.decide", subject)
        principal = ctx.principal
        if principal.role == "relying_party":
            return None
        cache.sync()
        got = cache.remembered(program, subject, ctx.ledger.clock())
        if got is None:
            return None
        st, pv = got
        rb = pv.rulebook
        ctx.ledger.ensure_operable(rb)
        effect, granted = outcome(rb, st, action)
        return made(rb, st, subject, action, effect, granted, st.at, decision_id=new_decision_id(),
                    source="materialized", hypothetical=False, principal=principal,
                    purpose=purpose, grant_id=None, level="full")[0]

    async def decide_async(self, subject: str, action: str, program: str | None = None,
                           *, materialized: bool = False, purpose: str | None = None,
                           grant: str | None = None) -> Decision:
        """`decide` (logged, about now) for a caller on an event loop: a standing (and
        consent grants) the process's cache holds is read on the loop; anything that
        must be read from the database — a row not cached, a stale row recomputed, a
        live standing — is read on a worker thread, so a slow read does not stall the
        loop's other requests (health checks included). The decision's log rows then
        wait for their group's commit without holding a thread; it returns only once
        they are committed."""
        p = None
        if materialized and self.ctx.cache is not None and subject.isascii():
            try:  # from memory, or not at all
                p = self.prepare(subject, action, program, None, record=True,
                                 materialized=True, purpose=purpose, grant=grant,
                                 blocking=False)
            except WouldBlock:
                p = None
        if p is None:
            p = await asyncio.to_thread(
                functools.partial(self.prepare, subject, action, program, None,
                                  record=True, materialized=materialized,
                                  purpose=purpose, grant=grant))
        return p.finish(await self.ctx.commit_async(p.unit) if p.commits else p.unit(None))

    def prepare(self, subject: str, action: str, program: str | None = None,
                at: int | None = None, *, record: bool = True, materialized: bool = False,
                purpose: str | None = None, grant: str | None = None,
                blocking: bool = True) -> Prepared:
        """Everything of `decide` up to its commit: authorized, read (in at most one read
        transaction, none when the process's cache is current) and evaluated; the rows
        to log are built by the returned unit, inside the transaction that commits them.
        With blocking=False it raises `WouldBlock` rather than open that transaction
        (it has then changed nothing: it may be asked again)."""
        p = self._prepare(subject, action, program, at, record=record,
                          materialized=materialized, purpose=purpose, grant=grant,
                          blocking=blocking)
        assert isinstance(p, Prepared)
        return p

    def _prepare(self, subject: str, action: str, program: str | None, at: int | None, *,
                 record: bool, materialized: bool, purpose: str | None, grant: str | None,
                 blocking: bool = True, direct: bool = False) -> Prepared | Decision:
        """`prepare`; with direct=True, a decision that writes nothing and that its
        requester sees whole (an unlogged one, as a relying party's risk engine asks
        them at volume) is made at once and returned: no unit, no Prepared."""
        ctx = self.ctx
        subject = ctx.subject_id(subject)
        ctx.allow("decisions.decide", subject)
        principal = ctx.principal
        ledger = ctx.ledger
        with ctx.reads(blocking=blocking) as reads:
            found = materialized_standing(ctx, subject, program, reads) \
                if materialized and at is None else None
            if found is None:
                st, pv = standing_at(ctx, subject, program, at, conn=reads.conn())
                source = "live"
            else:
                st, source, pv = found.standing, found.source, found.version
            ledger.ensure_operable(pv.rulebook)
            level, grant_id = "full", None
            if principal.role == "relying_party":
                if found is not None and ctx.cache is not None:
                    # the cache was synced by the read above: grants are as current
                    g = consent.choose(ctx.cache.grants(reads, subject, principal.id),
                                       principal.id, st.at, purpose=purpose, grant_id=grant)
                else:
                    g = consent.find(reads.conn(), subject, principal.id,
                                     ledger.tick(reads.conn()), purpose=purpose,
                                     grant_id=grant)
                if g is None and needs_consent(pv.rulebook, action):
                    raise SocialCreditError(
                        f"deciding {action!r} reads more than public lists: it needs the "
                        f"subject's consent grant to {principal.id!r}",
                        code="consent.required")
                level = g.scope if g is not None else "lists"
                grant_id = g.grant_id if g is not None else None
                purpose = purpose if purpose is not None else (g.purpose if g else None)
        rb = pv.rulebook
        effect, granted = outcome(rb, st, action)
        decision_id = new_decision_id()

        def unit(conn: Connection | None) -> tuple[Decision, dict[str, Any] | None]:
            """The decision's rows, built in the transaction that commits them (with
            others, under a group committer): its log row, its access-log entry and,
            for a deny about now, the subject's notice; and a materialized row the read
            recomputed. Without a log row (record=False) nothing is written: the
            decision is made at the ledger's clock, from the standing's own instant."""
            if conn is None:
                decided_at = ctx.now() if at is not None else st.at
            else:
                # the committed clock is read once per group: the group's units do not
                # stamp it, so each would read the same value
                shared = memo(conn)
                if "committed" not in shared:
                    shared["committed"] = ledger.committed(conn)
                decided_at = max(ledger.clock(), shared["committed"])
            hypothetical = at is not None and at != decided_at
            d, aa = made(rb, st, subject, action, effect, granted, decided_at,
                         decision_id=decision_id, source=source, hypothetical=hypothetical,
                         principal=principal, purpose=purpose, grant_id=grant_id,
                         level=level)
            if found is not None and conn is not None:
                found.write(conn)
            if record and conn is not None:
                log.write(conn, d, pv.version, pv.sha256, rb)
                access.record(conn, decided_at, principal, "decision", subject,
                              program=st.program, purpose=purpose, grant_id=grant_id,
                              detail_text=access.decision_detail(decision_id, action,
                                                                 effect))
                if effect == "deny" and not hypothetical:
                    issue(ctx, conn, [notice_store.new(
                        "decision.deny", subject, decided_at, program=st.program,
                        decision_id=d.decision_id)], decided_at)
            return d, aa

        commits = record or (found is not None and found.writeback is not None)
        if direct and not commits and level == "full":
            return unit(None)[0]
        return Prepared(unit, commits, level, pv.rulebook)

    def log(self, subject: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The decisions about a subject (or all), newest first: what the subject reads.
        A relying party reads the decisions it asked for, as it was shown them."""
        ctx = self.ctx
        if subject is not None:
            subject = ctx.subject_id(subject)
        ctx.allow("decisions.log", subject)
        p = ctx.principal
        if p.role == "subject" and subject is None:
            subject = p.subject
        with ctx.write() as conn:
            rows = log.read(conn, subject, limit if p.role != "relying_party" else 100_000)
            if p.role == "relying_party":
                public = {pv.sha256: public_lists(pv.rulebook)
                          for pv in ctx.ledger.program_versions(None, conn)}
                rows = [_as_shown(b, public.get(b["rulebook"]["sha256"], set())) for b in rows
                        if (b.get("requester") or {}).get("principal") == p.id][:limit]
            else:
                access.record(conn, ctx.ledger.tick(conn), p, "decisions.log", subject,
                              detail={"limit": limit})
        return rows

    def seal(self) -> list[dict[str, Any]]:
        """Commit every decision not yet sealed to the transparency log: one
        `decisions.batch` leaf per program with the count and a digest of the bodies."""
        self.ctx.allow("decisions.seal")
        with self.ctx.write() as conn:
            rows = log.unsealed(conn)
            if not rows:
                return []
            sealed = log.batches(rows)
            self.ctx.sink.emit(conn, [Event("decisions.batch", b) for b in sealed])
            log.mark_sealed(conn, rows, self.ctx.ledger.clock())
        return sealed


def _as_shown(body: dict[str, Any], public: set[str]) -> dict[str, Any]:
    """A logged decision as its requester was shown it."""
    level = body.get("disclosure", "full")
    if level == "full":
        return body
    return consent.decision(body, level, public) | (
        {"adverse_action": _for_requester(body["adverse_action"], level)}
        if body.get("adverse_action") else {})


__all__ = ["Decisions", "Prepared", "adverse_action", "made", "needs_consent",
           "new_decision_id"]
