"""Public lists, for anyone (no principal): who is on a public list now, from when until
when, why and under which legal basis — searchable by subject id, by Unified Social Credit
Code and by an organization's registered name, as the courts' defaulter lists, Credit
China and the enterprise credit publicity system publish them.

Every listing shown is the engine's, with due process applied (a suspended, voided,
resolved or repaired listing is not shown), computed for the subjects whose records
trigger a public list. Looking up a public list is not a read of anyone's standing: it
leaves no access-log entry and shows membership of public lists only. Persons appear by
their subject id only; names are registered for organizations alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.errors import LedgerError, SocialCreditError
from socialcredit.identifiers.uscc import looks_like_uscc
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import ProgramVersion
from socialcredit.operations import names
from socialcredit.rulebook.model import ListDef, Rulebook
from socialcredit.scoring.standing import ListEntry
from socialcredit.service.context import Context
from socialcredit.service.standings import standing_at
from socialcredit.timeutil import days_to_us, format_instant

MAX_SCAN = 500  # candidate subjects examined per page at most (the page may be shorter)


def list_view(program: str, rb: Rulebook, x: ListDef) -> dict[str, Any]:
    """A public list as published: what puts one on it, how long, how it ends, what it
    stops one from doing, and the law it rests on."""
    t = rb.types.get(x.enter_when.record or "")
    resolved_by = sorted({r.id for r in rb.record_types if r.kind == "resolution"})
    return {"program": program, "list": x.id, "label": x.label, "kind": x.kind,
            "legal_basis": x.legal_basis, "court_ordered": bool(x.court_ordered),
            "enter_when": ({"record": x.enter_when.record,
                            "label": t.label if t is not None else None}
                           if x.enter_when.record else
                           {"score_below": x.enter_when.score_below}),
            "notice_days": x.notice, "max_duration_days": x.max_duration,
            "ends": {"max_duration_days": x.max_duration,
                     "resolution_types": resolved_by if x.enter_when.record else [],
                     "score_recovers": x.enter_when.record is None},
            "measures": [{"action": c.action, "effect": c.effect, "label": c.label,
                          "provider": c.provider, "legal_basis": c.legal_basis}
                         for c in rb.consequences if c.when.on_list == x.id]}


class PublicLists:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _in_force(self, conn: Connection, now: int, program: str | None
                  ) -> list[tuple[ProgramVersion, list[ListDef]]]:
        out = []
        for name in self.ctx.ledger.programs(conn):
            if program is not None and name != program:
                continue
            try:
                pv = self.ctx.ledger.version_in_force(name, now, now, conn)
            except LedgerError:
                continue
            public = [x for x in pv.rulebook.lists if x.public]
            if public:
                out.append((pv, public))
        if program is not None and program not in self.ctx.ledger.programs(conn):
            raise SocialCreditError(f"no program {program!r}", code="program.unknown")
        return out

    def lists(self, program: str | None = None) -> list[dict[str, Any]]:
        """Every public list of every program in force now."""
        self.ctx.allow("lists.public")
        with self.ctx.read() as conn:
            now = self.ctx.ledger.tick(conn)
            return [list_view(pv.program, pv.rulebook, x)
                    for pv, xs in self._in_force(conn, now, program) for x in xs]

    def entries(self, *, program: str | None = None, list_id: str | None = None,
                query: str | None = None, after: str | None = None, limit: int = 50
                ) -> dict[str, Any]:
        """Listings in force now on public lists, by subject id (keyset: `after` the last
        subject of the previous page). `query` finds a subject by its id (a USCC in any
        letter case) or organizations by their registered name (a part of it). A page
        holds at most `limit` subjects and examines at most MAX_SCAN candidates: `next`
        is where to continue, None at the end."""
        self.ctx.allow("lists.public")
        ledger = self.ctx.ledger
        with self.ctx.read() as conn:
            now = ledger.tick(conn)
            chosen = [(pv, [x for x in xs if list_id is None or x.id == list_id])
                      for pv, xs in self._in_force(conn, now, program)]
            chosen = [(pv, xs) for pv, xs in chosen if xs]
            if list_id is not None and not chosen:
                raise SocialCreditError(f"no public list {list_id!r} in force",
                                        code="not_found")
            only: list[str] | None = None
            found_names: dict[str, str] = {}
            if query is not None and query.strip():
                q = query.strip()
                only = [q, q.upper()] if looks_like_uscc(q.upper()) else [q]
                for hit in names.search(conn, q):
                    found_names[hit["subject"]] = hit["name"]
                    only.append(hit["subject"])
            items: list[dict[str, Any]] = []
            subjects = 0
            last: str | None = None
            for subject in self._candidates(conn, chosen, after, only):
                last = subject
                listed = self._listings(conn, subject, chosen, now)
                if listed:
                    subjects += 1
                    items += listed
                if subjects >= limit:
                    break
            else:
                last = None  # exhausted
            named = names.of(conn, sorted({i["subject"] for i in items}))
        for i in items:
            i["name"] = named.get(i["subject"])
        return {"at": format_instant(now), "items": items, "next": last}

    def _candidates(self, conn: Connection, chosen: list[tuple[ProgramVersion,
                                                                list[ListDef]]],
                    after: str | None, only: list[str] | None) -> Iterator[str]:
        """Subjects that may be on one of the lists, in id order, at most MAX_SCAN."""
        types = sorted({x.enter_when.record for _, xs in chosen for x in xs
                        if x.enter_when.record})
        score_lists = {x.id for _, xs in chosen for x in xs if x.enter_when.score_below}
        c = s.records.c
        found: set[str] = set()
        if types:
            q = select(c.subject).where(c.type.in_(types), c.kind == "conduct").distinct() \
                .order_by(c.subject).limit(MAX_SCAN)
            if after is not None:
                q = q.where(c.subject > after)
            if only is not None:
                q = q.where(c.subject.in_(only))
            found |= {str(x) for x in conn.execute(q).scalars()}
        if score_lists:  # candidates from the materialized table: score lists need a score
            m = s.standings.c
            q = select(m.subject, m.lists).order_by(m.subject).limit(MAX_SCAN * 4)
            if after is not None:
                q = q.where(m.subject > after)
            if only is not None:
                q = q.where(m.subject.in_(only))
            for subject, lists in conn.execute(q):
                if any(f'"{x}"' in lists for x in score_lists):
                    found.add(str(subject))
        yield from sorted(found)[:MAX_SCAN]

    def _listings(self, conn: Connection, subject: str,
                  chosen: list[tuple[ProgramVersion, list[ListDef]]], now: int
                  ) -> list[dict[str, Any]]:
        out = []
        for pv, xs in chosen:
            wanted = {x.id: x for x in xs}
            st, _ = standing_at(self.ctx, subject, pv.program, now, now, conn)
            for e in st.list_entries:
                if e.list in wanted:
                    out.append(self._item(conn, subject, st.subject_kind, pv, wanted[e.list],
                                          e))
        return out

    def _item(self, conn: Connection, subject: str, kind: str | None, pv: ProgramVersion,
              x: ListDef, e: ListEntry) -> dict[str, Any]:
        rb = pv.rulebook
        why: dict[str, Any] | None = None
        if e.record_id is not None:
            r = self.ctx.ledger.record(e.record_id, conn)
            t = rb.types.get(r.type) if r is not None else None
            if r is not None:
                why = {"record_id": r.record_id, "type": r.type,
                       "label": t.label if t else None, "provider": r.provider,
                       "occurred_at": format_instant(r.occurred_at),
                       "recorded_at": format_instant(r.recorded_at),
                       "legal_basis": t.legal_basis if t else None}
        else:
            why = {"score_below": x.enter_when.score_below}
        latest_end = (e.start + days_to_us(x.max_duration)
                      if e.start is not None and x.max_duration is not None else None)
        return {"subject": subject, "subject_kind": kind, "program": pv.program,
                "rulebook": {"id": pv.program, "version": pv.version, "sha256": pv.sha256},
                "list": x.id, "label": x.label, "legal_basis": x.legal_basis,
                "court_ordered": bool(x.court_ordered),
                "from": format_instant(e.start), "until": format_instant(e.end),
                "until_at_latest": format_instant(latest_end), "why": why}

    def organization(self, subject: str) -> dict[str, Any]:
        """One organization (or any subject) as the public sees it: its registered name
        and its listings in force on public lists, with the lists' terms."""
        self.ctx.allow("lists.public")
        key = subject.strip().upper() if looks_like_uscc(subject.strip().upper()) else subject
        ledger = self.ctx.ledger
        with self.ctx.read() as conn:
            now = ledger.tick(conn)
            chosen = self._in_force(conn, now, None)
            kind = ledger.subject_kind(key, now, conn)
            if kind is None:
                raise SocialCreditError(f"no subject {key!r} in the ledger", code="not_found")
            listed = self._listings(conn, key, chosen, now)
            name = names.of(conn, [key]).get(key)
        terms = {(i["program"], i["list"]) for i in listed}
        return {"subject": key, "subject_kind": kind, "name": name,
                "uscc": key if looks_like_uscc(key) else None, "at": format_instant(now),
                "listings": listed,
                "lists": [list_view(pv.program, pv.rulebook, x) for pv, xs in chosen
                          for x in xs if (pv.program, x.id) in terms]}

    def name(self, subject: str, name: str) -> dict[str, Any]:
        """Register (or change) an organization's public name. Persons have none here."""
        ctx = self.ctx
        ctx.allow("organizations.name")
        clean = " ".join(name.split())
        if not clean or len(clean) > names.MAX_NAME:
            raise SocialCreditError(f"a name has 1 to {names.MAX_NAME} characters",
                                    code="usage")
        with ctx.write() as conn:
            now = ctx.ledger.tick(conn)
            kind = ctx.ledger.subject_kind(subject, None, conn)
            if kind is None:
                raise SocialCreditError(f"no subject {subject!r} in the ledger",
                                        code="not_found")
            if kind != "organization":
                raise SocialCreditError(f"subject {subject!r} is a {kind}: only "
                                        "organizations have a registered name (a person's "
                                        "name stays out of the ledger)", code="usage")
            names.put(conn, subject, clean, ctx.principal.id, now)
            ctx.ledger.operation(conn, "organization.name", {"subject": subject})
        return {"subject": subject, "name": clean, "set_at": format_instant(now)}


__all__ = ["MAX_SCAN", "PublicLists", "list_view"]
