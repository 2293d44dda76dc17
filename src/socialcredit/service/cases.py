"""Objections, appeals and credit repair: filed by the subject (or the operator for it),
decided by a reviewer who did not report the record, within the rulebook's deadlines.

Every outcome is a notice and a public-log leaf; a void is a ledger void record filed by
the reviewing principal through ingest (so the log gets its `record.void` and `list.exit`
leaves); an amendment is a void plus the corrected record; a repair is an effect from
its grant on. `sweep` is the clock's work: objections past their deadline resolve in the
subject's favour (the record is voided, the operator alerted), late repair replies alert
the operator, listings that took effect are noticed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from socialcredit.decisions import log as decision_log
from socialcredit.dueprocess import cases as store
from socialcredit.dueprocess import effects
from socialcredit.dueprocess import notices as notice_store
from socialcredit.dueprocess.cases import Attachment, Case
from socialcredit.errors import LedgerError, SocialCreditError
from socialcredit.events import Event
from socialcredit.ledger.model import ProgramVersion, Record
from socialcredit.principals import Forbidden
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.standing import ListEntry
from socialcredit.service.context import Context
from socialcredit.service.ingest import Located, Records
from socialcredit.service.notices import alert, issue, record_view
from socialcredit.service.standings import standing_at
from socialcredit.timeutil import days_to_us, format_instant

SYSTEM_REVIEWER = effects.LAPSE_PROVIDER  # files the voids of objections not decided in time


def _record(ctx: Context, conn: Connection, record_id: str) -> Record:
    r = ctx.ledger.record(record_id, conn)
    if r is None:
        raise SocialCreditError(f"no record {record_id!r} in the ledger", code="not_found")
    return r


def _case(conn: Connection, case_id: str) -> Case:
    c = store.get(conn, case_id)
    if c is None:
        raise SocialCreditError(f"no case {case_id!r}", code="not_found")
    return c


def _programs(ctx: Context, conn: Connection, r: Record, now: int,
              program: str | None) -> list[ProgramVersion]:
    """The programs whose version in force now declares the record's type."""
    out = []
    for name in ctx.ledger.programs(conn):
        if program is not None and name != program:
            continue
        try:
            pv = ctx.ledger.version_in_force(name, now, now, conn)
        except LedgerError:
            continue
        if r.type in pv.rulebook.types:
            out.append(pv)
    if not out:
        raise SocialCreditError(f"record {r.record_id!r} counts in no program in force"
                                + (f" named {program!r}" if program else ""),
                                code="case.invalid")
    return out


def _entries(ctx: Context, conn: Connection, r: Record, program: str, now: int
             ) -> list[tuple[ListEntry, str]]:
    """The record's listings in a program now, from the engine: (entry, state)."""
    st, _ = standing_at(ctx, r.subject, program, now, now, conn)
    out = [(e, "pending") for e in st.pending if e.record_id == r.record_id]
    out += [(e, "in_force") for e in st.list_entries if e.record_id == r.record_id]
    for h in st.suspended:
        if h["entry"]["record_id"] == r.record_id:
            e = next(e for e in _held_entries(ctx, conn, r, program, now)
                     if e.list == h["entry"]["list"])
            out.append((e, "suspended"))
    return out


def _held_entries(ctx: Context, conn: Connection, r: Record, program: str, now: int
                  ) -> list[ListEntry]:
    """The engine's entries for the record without the due-process overlay (for the
    dates of a listing held back)."""
    from socialcredit.scoring import reference

    pv = ctx.ledger.version_in_force(program, now, now, conn)
    kind = ctx.ledger.subject_kind(r.subject, now, conn)
    st = reference.standing(pv.rulebook, r.subject, kind, ctx.ledger.records_of(r.subject, conn),
                            now, now, program=program)
    return [e for e in [*st.pending, *st.list_entries] if e.record_id == r.record_id]


def _void_type(rbs: Sequence[Rulebook]) -> str:
    for rb in rbs:
        for t in rb.record_types:
            if t.kind == "void":
                return t.id
    raise SocialCreditError("no program declares a void record type: a reviewer has no way "
                            "to withdraw the record", code="case.invalid")


def _commit(ctx: Context, conn: Connection, subject: str) -> str:
    return ctx.sink.commitment(conn, subject)


def _refers_to(body: dict[str, Any], record_id: str, lists: set[str]) -> bool:
    """Whether a logged decision rested on the record: named among its reasons' records
    or list entries, or (a materialized decision, which names no records) on a list the
    record triggers."""
    for reason in body.get("reasons", []):
        for c in reason.get("conditions", []):
            if record_id in c.get("records", []) or any(
                    e.get("record_id") == record_id for e in c.get("list_entries", [])):
                return True
            if body.get("standing_source") == "materialized" and c.get("condition") in (
                    "on_list", "not_on_list") and c.get("value") in lists:
                return True
    return False


def decisions_affected(conn: Connection, r: Record, rbs: Sequence[Rulebook]
                       ) -> list[dict[str, Any]]:
    """The decisions made about the subject since the record was recorded that rested on
    it ("you were refused a ticket on 3 May because of this record")."""
    lists = {x.id for rb in rbs for x in rb.lists if x.enter_when.record == r.type}
    return [{"decision_id": b["decision_id"], "action": b["action"], "effect": b["effect"],
             "decided_at": b["decided_at"], "program": b["program"],
             "requester": (b.get("requester") or {}).get("principal")}
            for b in decision_log.about_since(conn, r.subject, r.recorded_at)
            if not b.get("hypothetical") and _refers_to(b, r.record_id, lists)]


def _file_records(ctx: Context, conn: Connection, case_id: str,
                  rows: list[dict[str, Any]]) -> None:
    """Records a case files (voids, corrections) go through the one ingest path."""
    Records(ctx).ingest_in(conn, list(enumerate(rows, start=1)),
                           Located(f"case {case_id}", "row"), skip_invalid=False,
                           backfill=False)


def _check_files(files: Sequence[Attachment]) -> None:
    for f in files:
        if len(f.content) > store.MAX_ATTACHMENT:
            raise SocialCreditError(f"attachment {f.name!r} is larger than 10 MiB",
                                    code="case.invalid")


class Cases:
    """Objections and appeals."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def object(self, record_id: str, grounds: str, *, program: str | None = None,
               list_id: str | None = None, attachments: Sequence[Attachment] = ()
               ) -> dict[str, Any]:
        """Object to a record (and the listings it triggers, or one of them: `list_id`).
        Timely — before the listing takes effect, or within the rulebook's objection
        window — it suspends the listing until decided, unless a court ordered it."""
        ctx = self.ctx
        ctx.allow("cases.object")
        if not grounds.strip():
            raise SocialCreditError("an objection states its grounds", code="case.invalid")
        _check_files(attachments)
        with ctx.write() as conn:
            now = ctx.ledger.stamp(conn)  # a due-process fact: this transaction's time
            r = _record(ctx, conn, record_id)
            ctx.allow("cases.object", r.subject)
            if r.kind not in ("conduct", "fact"):
                raise SocialCreditError(f"record {record_id!r} is a {r.kind}: object to the "
                                        "record it refers to", code="case.invalid")
            if _voided(ctx, conn, r):
                raise SocialCreditError(f"record {record_id!r} was already withdrawn",
                                        code="case.invalid")
            if any(x.record_id == record_id and x.is_open and x.kind != "repair"
                   for x in store.of_subject(conn, r.subject)):
                raise SocialCreditError(f"record {record_id!r} is already under review",
                                        code="case.invalid")
            pvs = _programs(ctx, conn, r, now, program)
            due = now + min(days_to_us(pv.rulebook.due.review_days()) for pv in pvs)
            case = Case(store.new_id("objection"), "objection", r.subject, r.record_id,
                        program, list_id, None, now, ctx.principal.id, grounds.strip(),
                        "open", due_at=due)
            suspensions, not_suspended = [], []
            for pv in pvs:
                rb = pv.rulebook
                for e, state in _entries(ctx, conn, r, pv.program, now):
                    if list_id is not None and e.list != list_id:
                        continue
                    x = next(x for x in rb.lists if x.id == e.list)
                    window = rb.due.objection_window
                    timely = (e.start is not None and now < e.start) or (
                        window is not None and e.notice_from is not None
                        and now < e.notice_from + days_to_us(window))
                    item = {"program": pv.program, "list": e.list, "state": state,
                            "start": format_instant(e.start)}
                    if x.court_ordered:
                        not_suspended.append({**item, "why": "court_ordered"})
                    elif not timely:
                        not_suspended.append({**item, "why": "late"})
                    else:
                        suspensions.append(item)
            case.detail = {"suspends": suspensions, "not_suspended": not_suspended}
            store.insert(conn, case, attachments)
            effects.add(conn, [effects.Effect(r.subject, r.record_id, "suspend", now, None,
                                              x["program"], x["list"], case.case_id)
                               for x in suspensions]
                        + [effects.Effect(r.subject, r.record_id, "withdraw", due,
                                          case_id=case.case_id)])
            commitment = _commit(ctx, conn, r.subject)
            leaf = ctx.sink.emit(conn, [Event("case.filed", {
                "commitment": commitment, "case_id": case.case_id, "case_kind": "objection",
                "record_id": r.record_id, "filed_at": format_instant(now),
                "due_at": format_instant(due)})] + [Event("list.suspended", {
                    "program": x["program"], "list": x["list"], "commitment": commitment,
                    "record_id": r.record_id, "from": format_instant(now)})
                    for x in suspensions])[0]
            issue(ctx, conn, [notice_store.new("case.filed", r.subject, now,
                                               record_id=r.record_id, case_id=case.case_id,
                                               leaf_index=leaf)], now)
            return case.as_dict(now)

    def appeal(self, case_id: str, grounds: str, *,
               attachments: Sequence[Attachment] = ()) -> dict[str, Any]:
        """Appeal an objection's outcome, once, within the appeal window, to an appeal
        reviewer who did not decide it."""
        ctx = self.ctx
        ctx.allow("cases.appeal")
        if not grounds.strip():
            raise SocialCreditError("an appeal states its grounds", code="case.invalid")
        _check_files(attachments)
        with ctx.write() as conn:
            now = ctx.ledger.stamp(conn)  # a due-process fact: this transaction's time
            parent = _case(conn, case_id)
            ctx.allow("cases.appeal", parent.subject)
            if parent.kind != "objection" or parent.status not in ("upheld", "amended"):
                what = parent.status if parent.kind == "objection" else f"a {parent.kind}"
                raise SocialCreditError(
                    f"case {case_id} is {what}: only an objection that was upheld or amended "
                    "can be appealed", code="case.invalid")
            if any(x.parent_case == case_id for x in store.of_subject(conn, parent.subject)):
                raise SocialCreditError(f"objection {case_id} was already appealed (once is "
                                        "the limit)", code="case.invalid")
            assert parent.decided_at is not None and parent.record_id is not None
            r = _record(ctx, conn, parent.outcome.get("corrected_record_id")
                        or parent.record_id)
            pvs = _programs(ctx, conn, r, now, parent.program)
            window = min(days_to_us(pv.rulebook.due.appeal_days()) for pv in pvs)
            if now >= parent.decided_at + window:
                raise SocialCreditError(f"the appeal window closed at "
                                        f"{format_instant(parent.decided_at + window)}",
                                        code="case.invalid")
            due = now + min(days_to_us(pv.rulebook.due.review_days()) for pv in pvs)
            case = Case(store.new_id("appeal"), "appeal", r.subject, r.record_id,
                        parent.program, parent.list_id, case_id, now, ctx.principal.id,
                        grounds.strip(), "open", due_at=due)
            store.insert(conn, case, attachments)
            effects.add(conn, [effects.Effect(r.subject, r.record_id, "withdraw", due,
                                              case_id=case.case_id)])
            (leaf,) = ctx.sink.emit(conn, [Event("case.filed", {
                "commitment": _commit(ctx, conn, r.subject), "case_id": case.case_id,
                "case_kind": "appeal", "record_id": r.record_id,
                "filed_at": format_instant(now), "due_at": format_instant(due)})])
            issue(ctx, conn, [notice_store.new("case.filed", r.subject, now,
                                               record_id=r.record_id, case_id=case.case_id,
                                               leaf_index=leaf)], now)
            return case.as_dict(now)

    def queue(self) -> list[dict[str, Any]]:
        """Open cases for the acting reviewer, overdue first, then by deadline: objections
        and repair applications for reviewers, appeals for appeal reviewers, everything
        for the operator and auditors. Each with the record and the subject's grounds."""
        ctx = self.ctx
        ctx.allow("cases.queue")
        kinds = {"reviewer": ("objection", "repair"), "appeal_reviewer": ("appeal",)}.get(
            ctx.principal.role, store.KINDS)
        with ctx.read() as conn:
            now = ctx.ledger.tick(conn)
            rows = store.open_cases(conn, kinds)
            out = []
            for c in sorted(rows, key=lambda c: (c.deadline() or 0, c.filed_at)):
                d = c.as_dict(now)
                r = ctx.ledger.record(c.record_id, conn) if c.record_id else None
                d["record"] = record_view(_rulebook_for(ctx, conn, r, now), r) if r else None
                d["attachments"] = store.attachments_of(conn, c.case_id)
                out.append(d)
        out.sort(key=lambda d: not d.get("overdue", False))
        with ctx.write() as conn:
            from socialcredit.dueprocess import access

            for d in out:  # a reviewer reading a case reads the subject's record
                access.record(conn, now, ctx.principal, "case.review", d["subject"],
                              detail={"case_id": d["case_id"]})
        return out

    def of(self, subject: str | None = None) -> list[dict[str, Any]]:
        """A subject's cases (objections, appeals, repair applications), newest first,
        each with its deadline and outcome: how the subject follows them."""
        from socialcredit.service.authz import subject_of

        ctx = self.ctx
        ctx.allow("cases.read")
        subject = subject_of(ctx.principal, subject, "cases")
        ctx.allow("cases.read", subject)
        with ctx.read() as conn:
            now = ctx.ledger.tick(conn)
            rows = sorted(store.of_subject(conn, subject), key=lambda c: c.filed_at,
                          reverse=True)
            return [c.as_dict(now) for c in rows]

    def get(self, case_id: str) -> dict[str, Any]:
        ctx = self.ctx
        ctx.allow("cases.read")
        with ctx.read() as conn:
            c = _case(conn, case_id)
            ctx.allow("cases.read", c.subject)
            d = c.as_dict(ctx.ledger.tick(conn))
            d["attachments"] = store.attachments_of(conn, case_id)
            return d

    def decide(self, case_id: str, outcome: str, reasons: str, *,
               correction: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Decide an objection (reviewer) or an appeal (appeal reviewer, not the one who
        decided the objection): `upheld`, `voided` or `amended` (a corrected record
        replaces it: `correction` gives the fields that change). Reasons are required.
        The outcome notice lists the decisions made since on the withdrawn record."""
        ctx = self.ctx
        ctx.allow("cases.decide")
        p = ctx.principal
        if outcome not in store.OBJECTION_OUTCOMES:
            raise SocialCreditError(f"outcome {outcome!r}: choose "
                                    f"{', '.join(store.OBJECTION_OUTCOMES)}", code="case.invalid")
        if not reasons.strip():
            raise SocialCreditError("an outcome carries its reasons", code="case.invalid")
        if outcome == "amended" and not correction:
            raise SocialCreditError("an amendment gives the corrected fields",
                                    code="case.invalid")
        with ctx.read() as conn:
            c = _case(conn, case_id)
        ctx.allow("cases.decide", c.subject)
        if c.kind == "repair":
            raise SocialCreditError(f"case {case_id} is a repair application: decide it as "
                                    "one", code="case.invalid")
        want = "appeal_reviewer" if c.kind == "appeal" else "reviewer"
        if p.role != want:
            raise Forbidden(f"{p.role} {p.id!r} may not decide an {c.kind} (only {want})")
        if not c.is_open:
            raise SocialCreditError(f"case {case_id} is already {c.status}", code="case.closed")
        assert c.due_at is not None and c.record_id is not None
        if ctx.now() >= c.due_at:
            sweep(ctx)
            raise SocialCreditError(f"case {case_id} passed its deadline "
                                    f"({format_instant(c.due_at)}) and resolved in the "
                                    "subject's favour", code="case.closed")
        with ctx.write() as conn:
            now = ctx.ledger.stamp(conn)  # a due-process fact: this transaction's time
            r = _record(ctx, conn, c.record_id)
            if p.provider is not None and p.provider == r.provider:
                raise Forbidden(f"reviewer {p.id!r} reported record {r.record_id} and may not "
                                "review it")
            if c.parent_case is not None:
                parent = _case(conn, c.parent_case)
                if parent.decided_by == p.id:
                    raise Forbidden(f"{p.id!r} decided the objection and may not decide its "
                                    "appeal")
            pvs = _programs(ctx, conn, r, now, c.program)
            result: dict[str, Any] = {}
            if outcome in ("voided", "amended"):
                if p.provider is None:
                    raise SocialCreditError(f"reviewer {p.id!r} acts for no registered "
                                            "provider, so it cannot file a void",
                                            code="case.invalid")
                rows = [{"record_id": f"{p.provider}:{case_id}:void", "provider": p.provider,
                         "subject": r.subject, "type": _void_type([pv.rulebook for pv in pvs]),
                         "occurred_at": format_instant(now),
                         "evidence": f"urn:socialcredit:case:{case_id}", "ref": r.record_id}]
                result["void_record_id"] = rows[0]["record_id"]
                if outcome == "amended":
                    fixed = _corrected(r, dict(correction or {}), case_id)
                    rows.append(fixed)
                    result["corrected_record_id"] = fixed["record_id"]
                _file_records(ctx, conn, case_id, rows)
                result["decisions_affected"] = decisions_affected(
                    conn, r, [pv.rulebook for pv in pvs])
            resumed = self._close(conn, c, now, outcome)
            if outcome == "upheld":
                result["listings_resume"] = resumed
            c.status, c.decided_at, c.decided_by, c.reasons = outcome, now, p.id, reasons.strip()
            c.outcome = result
            store.save(conn, c)
            commitment = _commit(ctx, conn, c.subject)
            leaf = ctx.sink.emit(conn, [Event("case.decided", {
                "commitment": commitment, "case_id": case_id, "case_kind": c.kind,
                "record_id": r.record_id, "outcome": outcome,
                "decided_at": format_instant(now)})] + [Event("list.resumed", {
                    "program": x["program"], "list": x["list"], "commitment": commitment,
                    "record_id": r.record_id, "at": format_instant(now)}) for x in resumed])[0]
            issue(ctx, conn, [notice_store.new("case.outcome", c.subject, now,
                                               record_id=r.record_id, case_id=case_id,
                                               detail=result, leaf_index=leaf)], now)
            return c.as_dict(now)

    @staticmethod
    def _close(conn: Connection, c: Case, now: int, outcome: str) -> list[dict[str, Any]]:
        """End the case's suspensions; a decision in time cancels its lapse."""
        effects.end(conn, case_id=c.case_id, kind="suspend", at=now)
        if outcome != "lapsed":
            effects.cancel(conn, c.case_id, "withdraw")
        return list(c.detail.get("suspends", [])) if outcome == "upheld" else []


def _corrected(r: Record, fields: dict[str, Any], case_id: str) -> dict[str, Any]:
    allowed = {"value", "occurred_at", "evidence", "type"}
    bad = sorted(set(fields) - allowed)
    if bad:
        raise SocialCreditError(f"a correction may change {', '.join(sorted(allowed))}, "
                                f"not {', '.join(bad)}", code="case.invalid")
    return {"record_id": f"{r.record_id}~{case_id}", "provider": r.provider,
            "subject": r.subject, "type": fields.get("type", r.type),
            "occurred_at": fields.get("occurred_at", format_instant(r.occurred_at)),
            "value": fields.get("value", r.value), "evidence": fields.get("evidence",
                                                                          r.evidence)}


def _rulebook_for(ctx: Context, conn: Connection, r: Record | None, now: int
                  ) -> Rulebook | None:
    if r is None:
        return None
    for name in ctx.ledger.programs(conn):
        try:
            rb = ctx.ledger.version_in_force(name, now, now, conn).rulebook
        except LedgerError:
            continue
        if r.type in rb.types:
            return rb
    return None


class Repairs:
    """Credit repair: applications after the minimum publication period, with the
    conditions the rulebook names; free; replied to and decided in working days."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def apply(self, record_id: str, conditions: Mapping[str, str], *,
              program: str | None = None, statement: str | None = None,
              attachments: Sequence[Attachment] = ()) -> dict[str, Any]:
        """Apply to end a record's publication (its points and its listings) early."""
        ctx = self.ctx
        ctx.allow("repair.apply")
        _check_files(attachments)
        with ctx.write() as conn:
            now = ctx.ledger.stamp(conn)  # a due-process fact: this transaction's time
            r = _record(ctx, conn, record_id)
            ctx.allow("repair.apply", r.subject)
            if any(x.record_id == record_id and x.kind == "repair" and
                   (x.is_open or x.status == "granted")
                   for x in store.of_subject(conn, r.subject)):
                raise SocialCreditError(f"record {record_id!r} already has a repair "
                                        "application open or granted", code="case.invalid")
            pvs = [pv for pv in _programs(ctx, conn, r, now, program)
                   if pv.rulebook.repair_period(r.type) is not None]
            if not pvs:
                raise SocialCreditError(f"no program provides credit repair for "
                                        f"{r.type!r}: it ends at its maximum period, or "
                                        "through an objection", code="repair.ineligible")
            pv = pvs[0]
            rb = pv.rulebook
            rp = rb.repair_period(r.type)
            assert rp is not None and rb.due.repair is not None
            after = days_to_us(rp.after)
            earliest = r.occurred_at + after
            for e, state in _entries(ctx, conn, r, pv.program, now):
                if state == "pending" or e.start is None:
                    raise SocialCreditError(f"the listing {e.list} has not taken effect yet",
                                            code="repair.ineligible")
                earliest = max(earliest, e.start + after)
            if now < earliest:
                raise SocialCreditError(f"repair of {record_id!r} is possible from "
                                        f"{format_instant(earliest)} (after the minimum "
                                        f"publication period of {rp.after:g} days)",
                                        code="repair.ineligible")
            given = {k: v.strip() for k, v in conditions.items() if v and v.strip()}
            missing = [c for c in rp.conditions if c not in given]
            if missing:
                raise SocialCreditError(f"a repair of {r.type!r} needs: "
                                        f"{', '.join(missing)}", code="repair.ineligible")
            reply_due = store.add_working_days(now, rb.due.repair.reply_within or 10)
            case = Case(store.new_id("repair"), "repair", r.subject, r.record_id, pv.program,
                        None, None, now, ctx.principal.id, statement, "filed",
                        reply_due_at=reply_due,
                        detail={"conditions": given, "required": list(rp.conditions),
                                "decide_within": rb.due.repair.decide_within or 3})
            store.insert(conn, case, attachments)
            (leaf,) = ctx.sink.emit(conn, [Event("case.filed", {
                "commitment": _commit(ctx, conn, r.subject), "case_id": case.case_id,
                "case_kind": "repair", "record_id": r.record_id,
                "filed_at": format_instant(now), "due_at": format_instant(reply_due)})])
            issue(ctx, conn, [notice_store.new("case.filed", r.subject, now,
                                               record_id=r.record_id, case_id=case.case_id,
                                               leaf_index=leaf)], now)
            return case.as_dict(now)

    def decide(self, case_id: str, outcome: str, reasons: str) -> dict[str, Any]:
        """`accepted` (the reply: the decision is due within the decide period),
        `granted` (the record stops counting and its listings end, now) or `refused`."""
        ctx = self.ctx
        ctx.allow("repair.decide")
        p = ctx.principal
        if outcome not in store.REPAIR_OUTCOMES:
            raise SocialCreditError(f"outcome {outcome!r}: choose "
                                    f"{', '.join(store.REPAIR_OUTCOMES)}", code="case.invalid")
        if not reasons.strip():
            raise SocialCreditError("an outcome carries its reasons", code="case.invalid")
        with ctx.write() as conn:
            now = ctx.ledger.stamp(conn)  # a due-process fact: this transaction's time
            c = _case(conn, case_id)
            ctx.allow("repair.decide", c.subject)
            if c.kind != "repair":
                raise SocialCreditError(f"case {case_id} is an {c.kind}, not a repair "
                                        "application", code="case.invalid")
            if not c.is_open:
                raise SocialCreditError(f"case {case_id} is already {c.status}",
                                        code="case.closed")
            if outcome == "accepted" and c.status != "filed":
                raise SocialCreditError(f"case {case_id} was already accepted",
                                        code="case.invalid")
            assert c.record_id is not None
            r = _record(ctx, conn, c.record_id)
            if p.provider is not None and p.provider == r.provider:
                raise Forbidden(f"reviewer {p.id!r} reported record {r.record_id} and may not "
                                "decide its repair")
            events: list[Event] = []
            commitment = _commit(ctx, conn, c.subject)
            result: dict[str, Any] = {}
            if outcome == "accepted":
                c.status, c.accepted_at = "accepted", now
                c.due_at = store.add_working_days(now, int(c.detail.get("decide_within", 3)))
                c.reasons = reasons.strip()
                result["decide_by"] = format_instant(c.due_at)
            else:
                if outcome == "granted":
                    assert c.program is not None
                    ended = [e for e, state in _entries(ctx, conn, r, c.program, now)
                             if state != "pending"]
                    effects.add(conn, [effects.Effect(r.subject, r.record_id, "repair", now,
                                                      case_id=case_id)])
                    events.append(Event("record.repaired", {
                        "commitment": commitment, "record_id": r.record_id,
                        "at": format_instant(now)}))
                    events += [Event("list.exit", {
                        "program": c.program, "list": e.list, "commitment": commitment,
                        "end": format_instant(now), "reason": "repair",
                        "record_id": r.record_id}) for e in ended]
                    result["listings_ended"] = [{"program": c.program, "list": e.list}
                                                for e in ended]
                c.status, c.decided_at, c.decided_by = outcome, now, p.id
                c.reasons = reasons.strip()
            c.outcome = {**c.outcome, **result}
            store.save(conn, c)
            events.insert(0, Event("case.decided", {
                "commitment": commitment, "case_id": case_id, "case_kind": "repair",
                "record_id": r.record_id, "outcome": outcome,
                "decided_at": format_instant(now)}))
            leaf = ctx.sink.emit(conn, events)[0]
            issue(ctx, conn, [notice_store.new("case.outcome", c.subject, now,
                                               record_id=r.record_id, case_id=case_id,
                                               detail=result, leaf_index=leaf)], now)
            return c.as_dict(now)


# -- the clock's work ----------------------------------------------------------------------

def sweep(ctx: Context) -> dict[str, int]:
    """Deadlines and starts that passed with nobody acting: lapse overdue objections and
    appeals (in the subject's favour: a void filed by the system reviewer, the operator
    alerted), alert the operator to late repair replies and decisions, notice listings
    that took effect. Safe to run any number of times."""
    out = {"lapsed": 0, "repair_alerts": 0, "listings_started": 0}
    with ctx.write() as conn:
        now = ctx.ledger.tick(conn)
        for c in store.open_cases(conn):
            dl = c.deadline()
            if dl is None or now < dl:
                continue
            if c.kind == "repair":
                if not c.detail.get("alerted_at_" + c.status):
                    alert(ctx, conn, now, "repair.overdue",
                          f"repair application {c.case_id} of subject {c.subject} passed its "
                          f"{'reply' if c.status == 'filed' else 'decision'} deadline "
                          f"({format_instant(dl)})", c.subject, case_id=c.case_id,
                          record_id=c.record_id)
                    c.detail["alerted_at_" + c.status] = format_instant(now)
                    store.save(conn, c)
                    out["repair_alerts"] += 1
                continue
            _lapse(ctx, conn, c, now)
            out["lapsed"] += 1
        for n in notice_store.unstarted_listings(conn, now):
            if n.record_id is None or n.program is None or n.subject is None:
                continue
            try:
                st, _ = standing_at(ctx, n.subject, n.program, now, now, conn)
            except LedgerError:
                continue
            listing = n.detail["listing"]["list"]
            if any(e.record_id == n.record_id and e.list == listing for e in st.list_entries):
                issue(ctx, conn, [notice_store.new("listing.started", n.subject, now,
                                                   program=n.program, record_id=n.record_id,
                                                   leaf_index=n.leaf_index)], now)
                out["listings_started"] += 1
            elif not any(h["entry"]["record_id"] == n.record_id for h in st.suspended) and \
                    not any(e.record_id == n.record_id for e in st.pending):
                notice_store.settle(conn, n)  # voided, resolved, repaired: it never will
    return out


def _lapse(ctx: Context, conn: Connection, c: Case, now: int) -> None:
    assert c.record_id is not None and c.due_at is not None
    r = ctx.ledger.record(c.record_id, conn)
    result: dict[str, Any] = {"lapsed_at": format_instant(c.due_at)}
    if r is not None:
        if ctx.ledger.add_provider(conn, SYSTEM_REVIEWER, "reviewer"):
            ctx.ledger.operation(conn, "provider.add", {"provider": SYSTEM_REVIEWER,
                                                        "role": "reviewer"})
        pvs = _programs(ctx, conn, r, now, c.program)
        rid = f"{SYSTEM_REVIEWER}:{c.case_id}:lapse"  # in its provider's namespace
        row = {"record_id": rid, "provider": SYSTEM_REVIEWER,
               "subject": r.subject, "type": _void_type([pv.rulebook for pv in pvs]),
               "occurred_at": format_instant(c.due_at),
               "evidence": f"urn:socialcredit:case:{c.case_id}", "ref": r.record_id}
        if ctx.ledger.record(rid, conn) is None and not _voided(ctx, conn, r):
            _file_records(ctx, conn, c.case_id, [row])
            result["void_record_id"] = row["record_id"]
        result["decisions_affected"] = decisions_affected(conn, r,
                                                          [pv.rulebook for pv in pvs])
    Cases._close(conn, c, c.due_at, "lapsed")
    c.status, c.decided_at, c.decided_by = "lapsed", c.due_at, SYSTEM_REVIEWER
    c.reasons = ("not decided by its deadline: resolved in the subject's favour, the record "
                 "no longer counts")
    c.outcome = result
    store.save(conn, c)
    (leaf,) = ctx.sink.emit(conn, [Event("case.decided", {
        "commitment": _commit(ctx, conn, c.subject), "case_id": c.case_id,
        "case_kind": c.kind, "record_id": c.record_id, "outcome": "lapsed",
        "decided_at": format_instant(c.due_at)})])
    issue(ctx, conn, [notice_store.new("case.outcome", c.subject, now, record_id=c.record_id,
                                       case_id=c.case_id, detail=result, leaf_index=leaf)],
          now)
    alert(ctx, conn, now, "objection.overdue",
          f"{c.kind} {c.case_id} of subject {c.subject} was not decided by "
          f"{format_instant(c.due_at)}: it resolved in the subject's favour and record "
          f"{c.record_id} no longer counts", c.subject, case_id=c.case_id,
          record_id=c.record_id)


def _voided(ctx: Context, conn: Connection, r: Record) -> bool:
    return any(x.kind == "void" and x.ref == r.record_id
               for x in ctx.ledger.records_of(r.subject, conn))


__all__ = ["Attachment", "Cases", "Repairs", "decisions_affected", "sweep"]
