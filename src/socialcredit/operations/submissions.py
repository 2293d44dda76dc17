"""Submissions: every committed ingest by a principal, with its idempotency key.

A provider retrying a batch after a timeout must not store it twice, nor be told
something different the second time: the outcome of the first is kept (as answered) and
returned for a retry with the same key and the same content. The same key with other
content is a conflict, not a new batch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.operations.schema import submissions
from socialcredit.timeutil import format_instant


@dataclass(frozen=True)
class Submission:
    seq: int
    principal_id: str
    provider: str | None
    idempotency_key: str | None
    request_sha256: str | None
    source: str
    batch: int | None
    rows: int
    accepted: int
    duplicates: int
    submitted_at: int
    report: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"submission": self.seq, "principal": self.principal_id,
                "provider": self.provider, "idempotency_key": self.idempotency_key,
                "source": self.source, "batch": self.batch, "rows": self.rows,
                "accepted": self.accepted, "duplicates": self.duplicates,
                "submitted_at": format_instant(self.submitted_at)}


def _row(r: Any) -> Submission:
    return Submission(int(r.seq), r.principal_id, r.provider, r.idempotency_key,
                      r.request_sha256, r.source, r.batch, int(r.rows), int(r.accepted),
                      int(r.duplicates), int(r.submitted_at), json.loads(r.report))


def add(conn: Connection, *, principal_id: str, provider: str | None, key: str | None,
        request_sha256: str | None, source: str, batch: int | None, rows: int,
        accepted: int, duplicates: int, at: int, report: dict[str, Any]) -> int:
    res = conn.execute(submissions.insert().values(
        principal_id=principal_id, provider=provider, idempotency_key=key,
        request_sha256=request_sha256, source=source, batch=batch, rows=rows,
        accepted=accepted, duplicates=duplicates, submitted_at=at,
        report=json.dumps(report, sort_keys=True)))
    pk = res.inserted_primary_key
    assert pk is not None
    return int(pk[0])


def by_key(conn: Connection, principal_id: str, key: str) -> Submission | None:
    c = submissions.c
    r = conn.execute(select(submissions).where(c.principal_id == principal_id,
                                               c.idempotency_key == key)).first()
    return None if r is None else _row(r)


def get(conn: Connection, seq: int) -> Submission | None:
    r = conn.execute(select(submissions).where(submissions.c.seq == seq)).first()
    return None if r is None else _row(r)


def history(conn: Connection, provider: str | None, *, before: int | None = None,
            limit: int = 100) -> list[Submission]:
    """Newest first; `provider` None is every provider's; `before` a seq (keyset)."""
    c = submissions.c
    q = select(submissions).order_by(c.seq.desc()).limit(limit)
    if provider is not None:
        q = q.where(c.provider == provider)
    if before is not None:
        q = q.where(c.seq < before)
    return [_row(r) for r in conn.execute(q)]


__all__ = ["Submission", "add", "by_key", "get", "history"]
