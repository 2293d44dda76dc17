"""Notices: made where things happen (ingest, decisions, cases, the clock), rendered from
the ledger as it stood when they were made, delivered by the outbox.

A record notice tells the subject what was recorded (type, provider, dates, evidence,
legal basis), what it does (points and until when; listings, their measures and their
dates — read from the engine's standing, never recomputed), until when and how to object
or apply for repair, and where the public log holds it (an inclusion proof).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from socialcredit.dueprocess import cases as case_store
from socialcredit.dueprocess import effects, outbox
from socialcredit.dueprocess import notices as store
from socialcredit.dueprocess import principals as principal_store
from socialcredit.dueprocess.delivery import DeliveryConfig, Message
from socialcredit.dueprocess.notices import Notice
from socialcredit.errors import LedgerError, SocialCreditError
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import Record, records_of_rows
from socialcredit.ledger.validate import Row
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.reference import record_entries
from socialcredit.scoring.standing import ListEntry
from socialcredit.service.context import Context
from socialcredit.service.events import as_record
from socialcredit.service.standings import compute, standing_at
from socialcredit.timeutil import US_PER_SECOND, days_to_us, format_instant

RIGHTS = (
    "You may read your whole file — every record, standing, listing, decision and who "
    "asked about you — free of charge, at any time.",
    "You may object to any record or listing; a reviewer who did not report it decides, "
    "with reasons, within the program's review deadline.",
    "A relying party that refuses you because of this system must tell you the key "
    "factors and the source, and you may ask for your file and object.",
)


# -- making notices ------------------------------------------------------------------------

def issue(ctx: Context, conn: Connection, rows: Sequence[Notice], now: int,
          contacts: Mapping[str, list[principal_store.StoredPrincipal]] | None = None
          ) -> None:
    """Store notices and queue their delivery to every address of their audience
    (`contacts`: the subjects' addresses when the caller has read them already)."""
    if not rows:
        return
    store.insert(conn, rows)
    to: Mapping[str, list[principal_store.StoredPrincipal]]
    if contacts is not None:
        to = contacts
    else:
        subjects = sorted({n.subject for n in rows if n.audience == "subject" and n.subject})
        # (no subject principal at all: nobody has an address, none to look up)
        to = principal_store.contacts(conn, subjects) if subjects and \
            principal_store.has_any_subjects(conn) else {}
    ops = principal_store.operators_with_address(conn) if any(
        n.audience == "operator" for n in rows) else []
    for n in rows:
        who = ops if n.audience == "operator" else to.get(n.subject or "", [])
        if who:
            outbox.enqueue(conn, n.notice_id, who, now)


def alert(ctx: Context, conn: Connection, now: int, what: str, message: str,
          subject: str | None = None, **refs: Any) -> None:
    """A notice to the operator (a deadline missed, a notice undeliverable)."""
    issue(ctx, conn, [store.new("alert", subject, now, audience="operator",
                                detail={"alert": what, "message": message}, **refs)], now)


def for_records(ctx: Context, conn: Connection, rows: Sequence[Row], now: int,
                leaves: dict[tuple[str, str, str], int],
                new_subjects: Mapping[str, str] | None = None, *, whole: bool = False
                ) -> None:
    """Notices of records just stored (`rows`, in the order they were stored; `now`, the
    ingest's time): one per negative record and program it counts against. Listing dates
    come from the engine's standing at the moment of notice; where the subject has a
    delivery address and the rulebook says so, the listing is held until the notice is
    delivered (an effect). `new_subjects`: subjects these rows brought into the ledger
    (with their kinds), whose whole file is therefore these rows. A subject without
    due-process effects gets only the record entries of its standing computed
    (`reference.record_entries`); `whole`: its whole standing, as for one with effects
    (the plain path)."""
    ledger = ctx.ledger
    negative: dict[str, list[tuple[str, Rulebook]]] = {}
    for program in ledger.programs(conn):
        try:
            rb = ledger.version_in_force(program, now, now, conn).rulebook
        except LedgerError:
            continue
        for t in rb.record_types:
            if rb.is_negative(t.id):
                negative.setdefault(t.id, []).append((program, rb))
    picked = [r for r in rows if r.type in negative and r.kind == "conduct"]
    if not picked:
        return
    # A notice nobody can be sent and that announces no listing is not stored: it is the
    # record itself, rendered on demand (`subject_notices`). Bulk ingest stays fast.
    contacts = principal_store.contacts(conn, sorted({r.subject for r in picked})) if \
        principal_store.has_any_subjects(conn) else {}
    by_subject: dict[str, set[str]] = {}
    for r in picked:
        for program, rb in negative[r.type]:
            if r.type in rb.list_types:
                by_subject.setdefault(r.subject, set()).add(program)
    listing_subjects = sorted(by_subject)
    rulebooks = {program: rb for pairs in negative.values() for program, rb in pairs}
    entries: dict[tuple[str, str], list[Any]] = {}
    # one read of every listed subject's kind, effects and file (not one per subject);
    # of the file, what the record-triggered listings read: their trigger types, voids
    # and resolutions (the entries taken below are those of such listings)
    new_subjects = new_subjects or {}
    stored = [k for k in listing_subjects if k not in new_subjects]
    # a subject new with these rows was first seen now, as the kind they give
    kinds: dict[str, str] = {} if whole else {k: new_subjects[k] for k in listing_subjects
                                              if k in new_subjects}
    kinds.update(ledger.subject_kinds(conn, listing_subjects if whole else stored, now))
    list_types = {t for program in rulebooks for t in rulebooks[program].list_types}
    files = ledger.records_of_subjects(conn, stored, sorted(list_types))
    # a subject new with these rows has no other records: its file (what the query
    # would read back, in seq order) is made from the rows, as they were stored
    fresh = {k for k in listing_subjects if k in new_subjects}
    by: dict[str, list[Row]] = {}
    for r in rows if fresh else ():
        if r.subject in fresh and (r.type in list_types or r.kind in ("void", "resolution")):
            by.setdefault(r.subject, []).append(r)
    for subject, mine in by.items():
        # the same Records either way; the second without a frozen dataclass's __init__
        files[subject] = [as_record(r, now) for r in mine] if whole else records_of_rows(
            [(r.record_id, r.provider, r.type, r.kind, r.occurred_at,
              r.recorded_at if r.recorded_at is not None else now, r.value_num,
              r.value_text, r.evidence, r.ref, r.ingested_at) for r in mine], subject)
    fxs = effects.of_subjects(conn, listing_subjects)
    # a file of one record (a batch of findings about new persons): its entries depend on
    # the record's type, kind, instants and ref, not on whose or which record it is —
    # computed once for each such record and program, then given the record's id
    alone: dict[tuple[Any, ...], tuple[list[ListEntry], list[ListEntry]]] = {}
    for subject in listing_subjects:
        kind, records, fx = kinds.get(subject), files.get(subject, []), fxs.get(subject, [])
        for program in sorted(by_subject[subject]):
            if fx or whole:
                st = compute(rulebooks[program], program, subject, kind, records, fx, now,
                             now, now)
                pending, in_force = st.pending, st.list_entries
            elif len(records) == 1:
                pending, in_force = _alone(alone, rulebooks[program], program, kind,
                                           records[0], now)
            else:  # no due process: the standing's record entries, computed alone
                pending, in_force = record_entries(rulebooks[program], kind, records, now,
                                                   now)
            for e in [*pending, *in_force]:
                if e.record_id is not None:
                    entries.setdefault((program, e.record_id), []).append(e)
    if not entries and not contacts:
        return  # nothing listed and nobody to send to: no notice is stored
    # which (record, program) get a notice; their ids drawn once for all of them
    due: list[tuple[Row, str, Rulebook, Any]] = []
    for r in picked:
        for program, rb in negative[r.type]:
            got = entries.get((program, r.record_id))
            if got or r.subject in contacts:
                due.append((r, program, rb, got[0] if got else None))
    made: list[Notice] = []
    held: list[effects.Effect] = []
    # one detail per listing's (list, start): a batch's listings mostly share both, and
    # the store spells a shared detail once
    details: dict[tuple[str, int | None], dict[str, Any]] = {}
    for notice_id, (r, program, rb, listing) in zip(store.ids(len(due)), due, strict=True):
        detail: dict[str, Any] = {}
        leaf = None
        if listing is not None:
            detail = details.get((listing.list, listing.start)) or details.setdefault(
                (listing.list, listing.start),
                {"listing": {"list": listing.list, "start": listing.start}})
            leaf = leaves.get((program, listing.list, r.record_id))
        n = Notice(notice_id, "subject", r.subject, "record", now, program,
                   r.record_id, None, None, leaf, detail)
        made.append(n)
        if listing is not None and r.subject in contacts and rb.due.delays_undelivered():
            held.append(effects.Effect(r.subject, r.record_id, "delay", now, None, program,
                                       listing.list, notice_id=n.notice_id))
    issue(ctx, conn, made, now, None if whole else contacts)
    effects.add(conn, held)


def _alone(memo: dict[tuple[Any, ...], tuple[list[ListEntry], list[ListEntry]]],
           rb: Rulebook, program: str, kind: str | None, r: Record, now: int
           ) -> tuple[list[ListEntry], list[ListEntry]]:
    """`record_entries` of a file of one record `r`, from `memo` when a record alike
    (same program, subject kind, type, kind, instants and ref) was computed: its entries
    with r's id. With `ingest.FAST = False` ingest computes the whole standing instead
    (`whole`), which the fast-path test holds this equal to."""
    key = (program, kind, r.type, r.kind, r.occurred_at, r.recorded_at, r.ingested_at, r.ref)
    got = memo.get(key)
    if got is None:
        got = memo[key] = record_entries(rb, kind, [r], now, now)
    pending, in_force = got
    if not pending and not in_force:
        return got
    return ([replace(e, record_id=r.record_id) for e in pending],
            [replace(e, record_id=r.record_id) for e in in_force])


# -- rendering -------------------------------------------------------------------------------

def _record(conn: Connection, record_id: str) -> Record | None:
    c = s.records.c
    rows = conn.execute(s.records.select().where(c.record_id == record_id)).all()
    if not rows:
        return None
    r = rows[0]
    return Record(r.record_id, r.provider, r.subject, r.type, r.kind, r.occurred_at,
                  r.recorded_at, r.value_num, r.value_text, r.evidence, r.ref)


def record_view(rb: Rulebook | None, r: Record) -> dict[str, Any]:
    t = rb.types.get(r.type) if rb is not None else None
    return {"record_id": r.record_id, "type": r.type, "label": t.label if t else None,
            "kind": r.kind, "provider": r.provider, "occurred_at": format_instant(r.occurred_at),
            "recorded_at": format_instant(r.recorded_at), "value": r.value,
            "evidence": r.evidence, "legal_basis": t.legal_basis if t else None,
            "severity": t.severity if t else None, "ref": r.ref}


def _points(rb: Rulebook, program: str, r: Record) -> list[dict[str, Any]]:
    out = []
    for i in rb.rules_by_type.get(r.type, ()):
        rule = rb.rules[i]
        pts = rule.points if rule.points is not None else (
            (rule.points_per_unit or 0.0) * (r.value_num or 0.0))
        out.append({"program": program, "dimension": rule.dimension, "points": pts,
                    "half_life_days": rule.half_life, "resolved_points": rule.resolved_points,
                    "until": format_instant(r.occurred_at + days_to_us(rule.expires))
                    if rule.expires is not None else None})
    return out


def _listing(rb: Rulebook, program: str, e: Any) -> dict[str, Any]:
    x = next(x for x in rb.lists if x.id == e.list)
    measures = [{"action": c.action, "effect": c.effect, "label": c.label,
                 "provider": c.provider, "legal_basis": c.legal_basis}
                for c in rb.consequences if c.when.on_list == x.id]
    return {"program": program, "list": x.id, "label": x.label, "kind": x.kind,
            "public": x.public, "legal_basis": x.legal_basis,
            "court_ordered": bool(x.court_ordered),
            "notice_from": format_instant(e.notice_from), "start": format_instant(e.start),
            "end": format_instant(e.end), "measures": measures}


def _object_terms(rb: Rulebook, record_id: str, listings: list[dict[str, Any]],
                  notice_at: int, starts: list[int]) -> dict[str, Any]:
    due = rb.due
    window = due.objection_window
    timely_until = max([*starts, notice_at + days_to_us(window)] if window is not None
                       else starts) if (starts or window is not None) else None
    suspends = any(not x["court_ordered"] for x in listings)
    how = (f"To object, file an objection to record {record_id} with your grounds and any "
           f"documents; a reviewer decides within {due.review_days():g} days, or the record "
           "stops counting.")
    if timely_until is not None and listings:
        how += (f" An objection filed before {format_instant(timely_until)} "
                + ("suspends the listing until it is decided." if suspends else
                   "is reviewed, but a court has already ordered this listing, so it is not "
                   "suspended."))
    return {"until": format_instant(timely_until), "suspends_listing": suspends and bool(
        listings), "review_days": due.review_days(), "how": how}


def _repair_terms(rb: Rulebook, r: Record, starts: list[int]) -> dict[str, Any] | None:
    """When and how repair is possible: the minimum period after the record occurred and
    after each of its listings took effect."""
    rp = rb.repair_period(r.type)
    if rp is None:
        return None
    repair = rb.due.repair
    assert repair is not None
    after = days_to_us(rp.after)
    earliest = max([r.occurred_at + after, *(s + after for s in starts)])
    return {"after_days": rp.after, "conditions": list(rp.conditions),
            "from": format_instant(earliest),
            "reply_within_working_days": repair.reply_within or 10,
            "decide_within_working_days": repair.decide_within or 3,
            "how": (f"From {format_instant(earliest)} you may apply for credit repair (free "
                    "of charge)" + (f", showing: {', '.join(rp.conditions)}" if rp.conditions
                                 else "") + "; an accepted application is decided within "
                    f"{repair.decide_within or 3} working days.")}


def render(ctx: Context, conn: Connection, n: Notice) -> dict[str, Any]:
    """A notice as the subject reads it (and as it is delivered)."""
    from socialcredit.service.log import proof_of

    body: dict[str, Any] = {"notice_id": n.notice_id, "kind": n.kind, "subject": n.subject,
                            "audience": n.audience, "created_at": format_instant(n.created_at),
                            "program": n.program}
    ledger = ctx.ledger
    rb = None
    if n.program is not None:
        try:
            rb = ledger.version_in_force(n.program, n.created_at, n.created_at, conn).rulebook
        except LedgerError:
            rb = None
    if n.kind == "alert":
        body["headline"] = f"Operator alert: {n.detail.get('alert')}"
        body["alert"] = n.detail
        for key in ("record_id", "case_id"):
            if getattr(n, key):
                body[key] = getattr(n, key)
        return body
    if n.record_id is not None:
        r = _record(conn, n.record_id)
        if r is None or n.detail.get("erased"):
            body["record"] = {"record_id": n.record_id, "erased": True}
        else:
            body["record"] = record_view(rb, r)
            if n.kind in ("record", "listing.started") and rb is not None and n.program:
                st, _ = standing_at(ctx, r.subject, n.program, n.created_at, n.created_at, conn)
                found = [e for e in [*st.pending, *st.list_entries]
                         if e.record_id == r.record_id]
                listings = [_listing(rb, n.program, e) for e in found]
                body["points"] = _points(rb, n.program, r)
                body["listings"] = listings
                body["object"] = _object_terms(rb, r.record_id, listings, n.created_at,
                                               [e.start for e in found if e.start is not None])
                body["repair"] = _repair_terms(rb, r, [e.start for e in found
                                                       if e.start is not None])
                label = body["record"]["label"] or r.type
                first = (listings[0]["label"] or listings[0]["list"]) if listings else None
                body["headline"] = (f"Listing in effect: {first}"
                                    if n.kind == "listing.started" and first else
                                    f"A record about you: {label}")
    if n.kind == "decision.deny" and n.decision_id is not None:
        from socialcredit.decisions import log as decision_log

        d = decision_log.get(conn, n.decision_id)
        body["decision"] = d.get("adverse_action") if d else None
        body["headline"] = f"You were refused: {d['action']}" if d else "A refusal"
    if n.case_id is not None:
        c = case_store.get(conn, n.case_id)
        if c is not None:
            body["case"] = c.as_dict()
            if n.kind == "case.outcome":
                body["outcome"] = {"status": c.status, "reasons": c.reasons,
                                   **n.detail}
                body["headline"] = f"Decision on your {c.kind}: {c.status}"
            else:
                body["headline"] = f"Your {c.kind} was received"
    body.setdefault("headline", "A notice from the social credit system")
    body["rights"] = list(RIGHTS)
    if n.leaf_index is not None:
        body["proof"] = proof_of(ctx, conn, n.leaf_index)
    return body


def subject_notices(ctx: Context, conn: Connection, subject: str, limit: int = 1000
                    ) -> list[Notice]:
    """A subject's notices, newest first: those stored (sent, or announcing a listing, or
    about cases and decisions) and the record notices that were not stored because there
    was nobody to send them to — each negative record, under every program whose version
    in force when it was recorded counts it against the subject."""
    stored = store.of_subject(conn, subject, 100_000)
    have = {(n.record_id, n.program) for n in stored if n.kind == "record"}
    ledger = ctx.ledger
    virtual: list[Notice] = []
    for r in ledger.records_of(subject, conn):
        if r.kind != "conduct":
            continue
        for program in ledger.programs(conn):
            if (r.record_id, program) in have:
                continue
            try:
                rb = ledger.version_in_force(program, r.recorded_at, r.recorded_at,
                                             conn).rulebook
            except LedgerError:
                continue
            if rb.is_negative(r.type):
                key = hashlib.sha256(f"{r.record_id}\x00{program}".encode()).hexdigest()
                virtual.append(Notice(key[:32], "subject", subject, "record", r.recorded_at,
                                      program, r.record_id))
    out = sorted([*stored, *virtual], key=lambda n: (n.created_at, n.notice_id), reverse=True)
    return out[:limit]


def render_many(ctx: Context, conn: Connection, rows: Sequence[Notice],
                deliveries: bool = True) -> list[dict[str, Any]]:
    out = [render(ctx, conn, n) for n in rows]
    if deliveries:
        by = outbox.of_notices(conn, [n.notice_id for n in rows])
        for body in out:
            body["deliveries"] = by.get(body["notice_id"], [])
    return out


# -- the parts -------------------------------------------------------------------------------

class Notices:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def of(self, subject: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """A subject's notices, newest first, each with its deliveries."""
        from socialcredit.service.authz import subject_of

        self.ctx.allow("notices.read")
        subject = subject_of(self.ctx.principal, subject, "notices")
        self.ctx.allow("notices.read", subject)
        with self.ctx.read() as conn:
            return render_many(self.ctx, conn, subject_notices(self.ctx, conn, subject,
                                                               limit))

    def alerts(self, limit: int = 100) -> list[dict[str, Any]]:
        """The operator's alerts: missed deadlines, undeliverable notices."""
        self.ctx.allow("alerts.read")
        with self.ctx.read() as conn:
            return render_many(self.ctx, conn, store.alerts(conn, limit))


class Outbox:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def run(self, config: DeliveryConfig | None = None, limit: int = 1000) -> dict[str, Any]:
        """What the clock owes first (deadlines: listings that took effect, objections and
        repairs past their deadline), then every delivery that is due. A delivery that
        fails is retried with backoff; one that fails for good alerts the operator."""
        self.ctx.allow("outbox.run")
        from socialcredit.service.cases import sweep

        swept = sweep(self.ctx)
        cfg = config or DeliveryConfig.from_env()
        adapters = cfg.adapters()
        report: dict[str, Any] = {"swept": swept, "delivered": 0, "retrying": 0, "failed": 0,
                                  "waiting": 0}
        with self.ctx.write() as conn:
            now = self.ctx.ledger.tick(conn)
            rows = outbox.due(conn, now, limit)
        for row in rows:
            adapter = adapters.get(row.channel)
            if adapter is None:
                report["waiting"] += 1  # no mail server configured: stays pending
                continue
            with self.ctx.write() as conn:
                # an attempt (a delivery starts a held listing's clock) is a due-process
                # fact: it happens at this transaction's time
                now = self.ctx.ledger.stamp(conn)
                n = store.get(conn, row.notice_id)
                if n is None:
                    continue
                body = render(self.ctx, conn, n)
                subject_line, text = store.text(body)
                secret = None
                if row.channel == "webhook":
                    p = principal_store.get(conn, row.principal_id)
                    secret = p.webhook_secret if p is not None else None
                payload = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
                res = adapter.send(Message(n.notice_id, row.idempotency_key, row.address,
                                           subject_line, text, body, secret),
                                   now // US_PER_SECOND)
                status = outbox.attempt(conn, row, now, res.ok, res.detail,
                                        hashlib.sha256(payload).hexdigest(),
                                        permanent=res.permanent)
                if status == "delivered":
                    report["delivered"] += 1
                    self._delivered(conn, n, now)
                elif status == "failed":
                    report["failed"] += 1
                    if outbox.all_failed(conn, n.notice_id):
                        self._undeliverable(conn, n, now, res.detail)
                else:
                    report["retrying"] += 1
        with self.ctx.read() as conn:
            report["outbox"] = outbox.counts(conn)
        return report

    def _delivered(self, conn: Connection, n: Notice, now: int) -> None:
        """A listing notice delivered: the listing's clock starts (a held listing takes
        effect a notice period after delivery); the public log learns when."""
        held = [e for e in effects.of(conn, n.subject or "")
                if e.kind == "delay" and e.notice_id == n.notice_id and e.end_at is None]
        if not held:
            return
        effects.end(conn, notice_id=n.notice_id, kind="delay", at=now)
        from socialcredit.events import Event

        self.ctx.sink.emit(conn, [Event("list.notified", {
            "program": e.program, "list": e.list_id,
            "commitment": self.ctx.sink.commitment(conn, e.subject),
            "record_id": e.record_id, "delivered_at": format_instant(now)}) for e in held])

    def _undeliverable(self, conn: Connection, n: Notice, now: int, why: str) -> None:
        held = any(e.kind == "delay" and e.notice_id == n.notice_id
                   for e in effects.of(conn, n.subject or ""))
        alert(self.ctx, conn, now, "notice.undeliverable",
              f"notice {n.notice_id} ({n.kind}) to subject {n.subject} could not be "
              f"delivered on any channel ({why})"
              + ("; its listing stays without effect until it is delivered" if held else ""),
              n.subject, record_id=n.record_id)

    def status(self) -> dict[str, int]:
        self.ctx.allow("outbox.run")
        with self.ctx.read() as conn:
            return outbox.counts(conn)


def find_notice(conn: Connection, notice_id: str) -> Notice:
    n = store.get(conn, notice_id)
    if n is None:
        raise SocialCreditError(f"no notice {notice_id!r}", code="not_found")
    return n


__all__ = ["RIGHTS", "DeliveryConfig", "Notices", "Outbox", "alert", "find_notice",
           "for_records", "issue", "record_view", "render", "render_many", "subject_notices"]
