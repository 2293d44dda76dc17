"""The subject's file (GDPR Art. 15, the FCRA file disclosure): everything the system
holds and did about one subject, in one answer — records with their status, standings
under every program with explanations, listings past and present, decisions and who
asked, notices and their delivery, cases, consent grants, erasures, and the subject's own
log leaves with proofs checked against the signed checkpoint."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from socialcredit.decisions import log as decision_log
from socialcredit.dueprocess import access, consent, effects, report
from socialcredit.dueprocess import cases as case_store
from socialcredit.dueprocess.retention import tombstones
from socialcredit.errors import LedgerError
from socialcredit.ledger.model import Record
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring import reference
from socialcredit.scoring.standing import Standing
from socialcredit.service.authz import subject_of
from socialcredit.service.context import Context
from socialcredit.service.log import mine
from socialcredit.service.notices import record_view, render_many, subject_notices
from socialcredit.service.standings import standing_at
from socialcredit.timeutil import format_instant
from socialcredit.transparency import merkle
from socialcredit.transparency.checkpoint import (
    latest_checkpoint,
    log_verifier,
    verify_checkpoint_note,
)
from socialcredit.transparency.events import canonical_json, reveal_salt, subject_commitment


def _status(r: Record, by_ref: dict[str, list[Record]], fx: list[effects.Effect],
            live: set[str]) -> str:
    if r.kind in ("resolution", "void"):
        return r.kind
    refs = by_ref.get(r.record_id, [])
    if any(x.kind == "void" for x in refs):
        return "voided"
    if any(e.kind == "withdraw" and e.record_id == r.record_id for e in fx):
        return "withdrawn"
    if any(e.kind == "repair" and e.record_id == r.record_id for e in fx):
        return "repaired"
    if r.record_id in live:
        return "resolved" if any(x.kind == "resolution" for x in refs) else "counting"
    return "resolved" if any(x.kind == "resolution" for x in refs) else "expired"


def counting(st: Standing) -> set[str]:
    out = {c.record_id for c in st.contributions}
    out |= {a.record_id for a in st.attributes if a.record_id}
    out |= {e.record_id for e in [*st.list_entries, *st.pending] if e.record_id}
    out |= {h["entry"]["record_id"] for h in st.suspended}
    return out


def _listings(ctx: Context, conn: Connection, subject: str, kind: str | None,
              records: list[Record], fx: list[effects.Effect], program: str, rb: Rulebook,
              now: Standing) -> list[dict[str, Any]]:
    """Every listing the subject had under a program: as announced (the engine's entry
    when the record was recorded), and where it stands now."""
    out = []
    triggers = {x.enter_when.record: x for x in rb.lists if x.enter_when.record}
    for r in records:
        x = triggers.get(r.type)
        if x is None or r.kind != "conduct":
            continue
        then = reference.standing(rb, subject, kind, records, r.recorded_at, r.recorded_at,
                                  program=program)
        announced = next((e for e in [*then.pending, *then.list_entries]
                          if e.record_id == r.record_id and e.list == x.id), None)
        state = "ended"
        current = next((e for e in now.list_entries if e.record_id == r.record_id), None)
        if current is not None:
            state = "in_force"
        elif any(e.record_id == r.record_id for e in now.pending):
            state = "pending"
        elif any(h["entry"]["record_id"] == r.record_id for h in now.suspended):
            state = "suspended"
        else:
            st = _status(r, {}, fx, set())
            voided = any(v.kind == "void" and v.ref == r.record_id for v in records)
            state = "withdrawn" if voided or st == "withdrawn" else (
                "ended_by_repair" if st == "repaired" else "ended")
        out.append({"program": program, "list": x.id, "label": x.label, "public": x.public,
                    "legal_basis": x.legal_basis, "record_id": r.record_id,
                    "reason": rb.types[r.type].label if r.type in rb.types else r.type,
                    "announced": announced.as_dict() if announced else None,
                    "now": current.as_dict() if current else None, "state": state,
                    "due_process": [{"kind": e.kind, "from": format_instant(e.start_at),
                                     "until": format_instant(e.end_at), "case_id": e.case_id}
                                    for e in fx if e.record_id == r.record_id
                                    and e.kind in ("suspend", "delay", "repair", "withdraw")]})
    return out


def _verified_log(conn: Connection, leaves: dict[str, Any]) -> dict[str, Any]:
    """The subject's leaves with each inclusion proof checked, and the checkpoint's
    signature checked with the log's public key."""
    cp = latest_checkpoint(conn)
    out = dict(leaves)
    if cp is None or not leaves.get("leaves"):
        return out
    root = bytes.fromhex(leaves["root"])
    size = leaves["tree_size"]
    try:
        _, cp_size, cp_root = verify_checkpoint_note(cp.note, log_verifier(conn))
        out["checkpoint_verified"] = cp_size == size and cp_root == root
    except Exception:  # a bad signature is a finding, not a crash
        out["checkpoint_verified"] = False
    out["checkpoint"] = cp.note
    for leaf in out["leaves"]:
        data = canonical_json(leaf["event"])
        leaf["verified"] = merkle.verify_inclusion(
            leaf["leaf_index"], size, merkle.leaf_hash(data),
            [bytes.fromhex(h) for h in leaf["path"]], root)
    return out


class Files:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def of(self, subject: str | None = None) -> dict[str, Any]:
        """The whole file, as plain data (the report renders it)."""
        ctx = self.ctx
        ctx.allow("file.read")
        subject = subject_of(ctx.principal, subject, "file")
        ctx.allow("file.read", subject)
        ledger = ctx.ledger
        with ctx.read() as conn:
            now = ledger.tick(conn)
            kind = ledger.subject_kind(subject, None, conn)
            records = ledger.records_of(subject, conn)
            fx = effects.of(conn, subject)
            by_ref: dict[str, list[Record]] = {}
            for r in records:
                if r.ref:
                    by_ref.setdefault(r.ref, []).append(r)
            standings, listings, live = [], [], set()
            rbs: dict[str, Rulebook] = {}
            for program in ledger.programs(conn):
                try:
                    st, pv = standing_at(ctx, subject, program, now, now, conn)
                except LedgerError:
                    continue
                rbs[program] = pv.rulebook
                standings.append(st.as_dict())
                live |= counting(st)
                listings += _listings(ctx, conn, subject, kind, records, fx, program,
                                      pv.rulebook, st)
            rows = []
            for r in sorted(records, key=lambda r: (r.recorded_at, r.record_id)):
                rb = next((rb for rb in rbs.values() if r.type in rb.types), None)
                rows.append({**record_view(rb, r),
                             "status": _status(r, by_ref, fx, live),
                             "programs": [p for p, rb in rbs.items() if r.type in rb.types]})
            cases = []
            for c in case_store.of_subject(conn, subject):
                d = c.as_dict(now)
                d["attachments"] = case_store.attachments_of(conn, c.case_id)
                cases.append(d)
            salt = reveal_salt(conn, subject)
            commitment = subject_commitment(subject, salt) if salt is not None else None
            body: dict[str, Any] = {
                "subject": subject, "subject_kind": kind,
                "generated_at": format_instant(now),
                "records": rows,
                "erased_records": [{k: (format_instant(v) if k.endswith("_at")  # type: ignore[arg-type]
                                        or k == "published_until" else v)
                                    for k, v in t.items() if k != "commitment"}
                                   for t in (tombstones(conn, commitment) if commitment else [])],
                "standings": standings,
                "listings": listings,
                "decisions": decision_log.read(conn, subject, 100_000),
                "access_log": access.of(conn, subject),
                "notices": render_many(ctx, conn, subject_notices(ctx, conn, subject)),
                "cases": cases,
                "consents": [g.as_dict(now) for g in consent.of_subject(conn, subject)],
            }
        leaves = mine(ctx, subject)
        with ctx.read() as conn:
            body["log"] = _verified_log(conn, leaves)
        with ctx.write() as conn:
            access.record(conn, ledger.tick(conn), ctx.principal, "file", subject)
        return body

    def html(self, subject: str | None = None) -> str:
        """The file as a self-contained HTML report, for people."""
        return report.html(self.of(subject))


__all__ = ["Files", "counting"]
