"""The outbox: one row per notice, recipient and channel, delivered by `outbox run` with
retries and backoff; every attempt is kept. The idempotency key is fixed per row, so a
retried webhook or e-mail can be recognised by the receiver."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, func, select, update

from socialcredit.dueprocess.principals import StoredPrincipal
from socialcredit.dueprocess.schema import delivery_attempts, outbox
from socialcredit.timeutil import format_instant

MAX_ATTEMPTS = 5
BACKOFF_BASE_US = 60 * 1_000_000  # one minute, doubled after every failure
BACKOFF_CAP_US = 6 * 3600 * 1_000_000


def backoff(attempts: int) -> int:
    """Wait before attempt `attempts + 1`: 1, 2, 4, 8 … minutes, at most 6 hours."""
    return min(BACKOFF_BASE_US * (1 << max(attempts - 1, 0)), BACKOFF_CAP_US)


def enqueue(conn: Connection, notice_id: str, to: Sequence[StoredPrincipal], now: int) -> int:
    rows = []
    for p in to:
        for channel, address in (("email", p.email), ("webhook", p.webhook_url)):
            if address:
                rows.append({"notice_id": notice_id, "principal_id": p.principal_id,
                             "channel": channel, "address": address,
                             "idempotency_key": f"{notice_id}:{p.principal_id}:{channel}",
                             "status": "pending", "attempts": 0, "next_attempt_at": now,
                             "created_at": now, "delivered_at": None, "last_error": None})
    if rows:
        conn.execute(outbox.insert(), rows)
    return len(rows)


def due(conn: Connection, now: int, limit: int = 1000) -> list[Any]:
    c = outbox.c
    return list(conn.execute(select(outbox).where(c.status == "pending",
                                                  c.next_attempt_at <= now)
                             .order_by(c.next_attempt_at, c.seq).limit(limit)))


def attempt(conn: Connection, row: Any, now: int, ok: bool, detail: str, payload_sha256: str,
            *, permanent: bool = False) -> str:
    """Record one attempt; returns the row's new status."""
    attempts = int(row.attempts) + 1
    conn.execute(delivery_attempts.insert().values(outbox_seq=row.seq, at=now, ok=ok,
                                                   detail=detail[:2000],
                                                   payload_sha256=payload_sha256))
    if ok:
        status = "delivered"
    elif permanent or attempts >= MAX_ATTEMPTS:
        status = "failed"
    else:
        status = "pending"
    conn.execute(update(outbox).where(outbox.c.seq == row.seq).values(
        attempts=attempts, status=status, delivered_at=now if ok else None,
        last_error=None if ok else detail[:2000],
        next_attempt_at=now + backoff(attempts) if status == "pending" else
        row.next_attempt_at))
    return status


def of_notices(conn: Connection, notice_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """notice id -> its deliveries, each with every attempt."""
    c, a = outbox.c, delivery_attempts.c
    out: dict[str, list[dict[str, Any]]] = {}
    ids = list(notice_ids)
    rows = []
    for i in range(0, len(ids), 900):
        rows += list(conn.execute(select(outbox).where(c.notice_id.in_(ids[i:i + 900]))
                                  .order_by(c.seq)))
    seqs = [r.seq for r in rows]
    tries: dict[int, list[dict[str, Any]]] = {}
    for i in range(0, len(seqs), 900):
        for t in conn.execute(select(delivery_attempts).where(
                a.outbox_seq.in_(seqs[i:i + 900])).order_by(a.seq)):
            tries.setdefault(int(t.outbox_seq), []).append(
                {"at": format_instant(t.at), "ok": bool(t.ok), "detail": t.detail,
                 "payload_sha256": t.payload_sha256})
    for r in rows:
        out.setdefault(r.notice_id, []).append({
            "channel": r.channel, "principal": r.principal_id, "status": r.status,
            "attempts": r.attempts, "idempotency_key": r.idempotency_key,
            "delivered_at": format_instant(r.delivered_at), "last_error": r.last_error,
            "tries": tries.get(int(r.seq), [])})
    return out


def delivered_at(conn: Connection, notice_id: str) -> int | None:
    c = outbox.c
    return conn.execute(select(func.min(c.delivered_at)).where(
        c.notice_id == notice_id, c.status == "delivered")).scalar()


def all_failed(conn: Connection, notice_id: str) -> bool:
    """Whether every delivery of the notice failed for good (none pending or done)."""
    c = outbox.c
    statuses = {r[0] for r in conn.execute(select(c.status).where(c.notice_id == notice_id))}
    return statuses == {"failed"}


def counts(conn: Connection) -> dict[str, int]:
    c = outbox.c
    return {str(s): int(n) for s, n in conn.execute(
        select(c.status, func.count()).group_by(c.status))}


__all__ = ["BACKOFF_BASE_US", "MAX_ATTEMPTS", "all_failed", "attempt", "backoff", "counts",
           "delivered_at", "due", "enqueue", "of_notices"]
