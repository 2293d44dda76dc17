"""Retention: a record whose publication period has ended, and that no listing or case
still needs, loses its personal data. A tombstone keeps the record's id, the SHA-256 of
its canonical content and the subject's log commitment, so the public log (which names
records by id and subjects by commitment) and any audit still verify; the data is gone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from socialcredit.dueprocess.schema import erasures
from socialcredit.ledger.model import Record
from socialcredit.rulebook.model import Rulebook
from socialcredit.timeutil import days_to_us


def record_sha256(r: Record) -> str:
    """SHA-256 of the record's canonical JSON (every stored field, sorted keys): what a
    holder of the record can later check against the tombstone."""
    fields = {"record_id": r.record_id, "provider": r.provider, "subject": r.subject,
              "type": r.type, "kind": r.kind, "occurred_at": r.occurred_at,
              "recorded_at": r.recorded_at, "value_num": r.value_num,
              "value_text": r.value_text, "evidence": r.evidence, "ref": r.ref}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def publication_end(r: Record, rbs: Sequence[Rulebook]) -> int | None:
    """The latest instant the record can count under these rulebooks (an upper bound from
    their periods), or None when some rule keeps it without end."""
    ends: list[int] = [r.recorded_at]
    for rb in rbs:
        for rule in rb.rules:
            if rule.record == r.type:
                if rule.expires is None:
                    return None
                ends.append(r.occurred_at + days_to_us(rule.expires))
        for a in rb.attributes:
            if a.record == r.type:
                if a.expires is None:
                    return None
                ends.append(r.occurred_at + days_to_us(a.expires))
        for x in rb.lists:
            if x.enter_when.record == r.type:
                if x.max_duration is None:
                    return None
                ends.append(r.recorded_at + days_to_us(x.notice + x.max_duration))
    return max(ends)


def tombstone(conn: Connection, r: Record, commitment: str, published_until: int,
              now: int) -> str:
    sha = record_sha256(r)
    conn.execute(erasures.insert().values(
        record_id=r.record_id, record_sha256=sha, commitment=commitment,
        recorded_at=r.recorded_at, published_until=published_until, erased_at=now))
    return sha


def tombstones(conn: Connection, commitment: str) -> list[dict[str, object]]:
    e = erasures.c
    return [dict(r._mapping) for r in conn.execute(
        select(erasures).where(e.commitment == commitment).order_by(e.erased_at,
                                                                    e.record_id))]


__all__ = ["publication_end", "record_sha256", "tombstone", "tombstones"]
