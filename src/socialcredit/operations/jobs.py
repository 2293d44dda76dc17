"""Background jobs: a row per job with its state and progress, written by the thread that
runs it and read by anyone who may (from any worker process)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from socialcredit.operations.schema import jobs
from socialcredit.timeutil import format_instant

STATUSES = ("queued", "running", "done", "failed")


@dataclass(frozen=True)
class Job:
    job_id: str
    kind: str
    principal_id: str
    params: dict[str, Any]
    status: str
    done: int
    total: int | None
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: int
    started_at: int | None
    heartbeat_at: int | None
    finished_at: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "kind": self.kind, "principal": self.principal_id,
                "params": self.params, "status": self.status,
                "progress": {"done": self.done, "total": self.total,
                             "fraction": (min(self.done / self.total, 1.0)
                                          if self.total else None)},
                "result": self.result, "error": self.error,
                "created_at": format_instant(self.created_at),
                "started_at": format_instant(self.started_at),
                "heartbeat_at": format_instant(self.heartbeat_at),
                "finished_at": format_instant(self.finished_at)}


def _row(r: Any) -> Job:
    return Job(r.job_id, r.kind, r.principal_id, json.loads(r.params), r.status,
               int(r.done), r.total, json.loads(r.result) if r.result else None,
               json.loads(r.error) if r.error else None, int(r.created_at), r.started_at,
               r.heartbeat_at, r.finished_at)


def new(conn: Connection, kind: str, principal_id: str, params: dict[str, Any],
        at: int) -> str:
    job_id = f"job-{uuid.uuid4().hex[:20]}"
    conn.execute(jobs.insert().values(job_id=job_id, kind=kind, principal_id=principal_id,
                                      params=json.dumps(params, sort_keys=True),
                                      status="queued", done=0, total=None, created_at=at))
    return job_id


def start(conn: Connection, job_id: str, at: int, total: int | None) -> None:
    conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(
        status="running", started_at=at, heartbeat_at=at, total=total))


def progress(conn: Connection, job_id: str, done: int, at: int) -> None:
    conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(done=done,
                                                                     heartbeat_at=at))


def finish(conn: Connection, job_id: str, at: int, result: dict[str, Any] | None = None,
           error: dict[str, Any] | None = None) -> None:
    values: dict[str, Any] = {"status": "failed" if error else "done", "finished_at": at,
                              "heartbeat_at": at,
                              "result": json.dumps(result, sort_keys=True) if result else None,
                              "error": json.dumps(error, sort_keys=True) if error else None}
    if error is None:
        values["done"] = jobs.c.total if result is None else result.get("done", jobs.c.done)
    conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(**values))


def get(conn: Connection, job_id: str) -> Job | None:
    r = conn.execute(select(jobs).where(jobs.c.job_id == job_id)).first()
    return None if r is None else _row(r)


def recent(conn: Connection, limit: int = 100, before: int | None = None,
           kind: str | None = None) -> list[Job]:
    """Newest first (only jobs of `kind`, if given); `before` a created_at (keyset)."""
    q = select(jobs).order_by(jobs.c.created_at.desc(), jobs.c.job_id.desc()).limit(limit)
    if before is not None:
        q = q.where(jobs.c.created_at < before)
    if kind is not None:
        q = q.where(jobs.c.kind == kind)
    return [_row(r) for r in conn.execute(q)]


def unfinished(conn: Connection) -> list[Job]:
    return [_row(r) for r in conn.execute(select(jobs).where(
        jobs.c.status.in_(("queued", "running"))))]


__all__ = ["STATUSES", "Job", "finish", "get", "new", "progress", "recent", "start",
           "unfinished"]
