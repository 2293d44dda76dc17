"""Background jobs: long operations (`score --all`, an export) started by one request and
followed by others. The job runs in a thread of the process that started it and writes
its state and progress to the ledger database (`sc_jobs`), so any worker process can
report it. A job whose process stopped stays `running` with a heartbeat that no longer
moves: readers see it as `stale` after STALE_AFTER seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from socialcredit.errors import SocialCreditError
from socialcredit.operations import jobs as store
from socialcredit.service.context import Context
from socialcredit.timeutil import US_PER_SECOND, format_instant

STALE_AFTER = 120.0  # seconds without a heartbeat
HEARTBEAT = 0.5  # seconds between progress writes at most

#: the threads of jobs running in this process, by job id, with the ledger each writes
#: to (so closing a ledger can wait for its own jobs); a thread removes itself when done
_threads: dict[str, tuple[object, threading.Thread]] = {}
_threads_lock = threading.Lock()
#: how long closing a service waits for its ledger's running jobs (seconds)
CLOSE_WAIT = 30.0


def wait_for_jobs(ledger: object, timeout: float = CLOSE_WAIT) -> list[str]:
    """Wait for the jobs this process runs on `ledger` to end, up to `timeout` seconds in
    all; the ids of those still running. Closing a service calls it before the ledger's
    connections go, so a job is not cut off halfway through a write (and its end state,
    done or failed, is recorded). A job still running after the wait is left as a
    process stop would leave it: `running`, then `stale`."""
    deadline = time.monotonic() + timeout
    with _threads_lock:
        mine = [(job_id, t) for job_id, (owner, t) in _threads.items() if owner is ledger]
    left = []
    for job_id, t in mine:
        t.join(max(0.0, deadline - time.monotonic()))
        if t.is_alive():
            left.append(job_id)
    return left


class Jobs:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- starting --------------------------------------------------------------------

    def score(self, program: str | None = None, at: int | None = None,
              known_at: int | None = None) -> dict[str, Any]:
        """`score --all` as a job: every subject's standing into the materialized table,
        with progress in subjects."""
        from socialcredit.service.population import Population

        self.ctx.allow("population.score")
        pop = Population(self.ctx)
        name = self.ctx.ledger.resolve_program(program)  # refuse a bad program now
        params = {"program": name, "at": format_instant(at),
                  "known_at": format_instant(known_at)}
        total = self.ctx.ledger.count_subjects()

        def run(tick: Callable[[int], None]) -> dict[str, Any]:
            done = 0

            def progress(subjects: int, _records: int) -> None:
                nonlocal done
                done += subjects
                tick(done)

            r = pop.score_all(name, at, known_at, progress=progress)
            return {"program": r.program, "subjects": r.subjects,
                    "at": format_instant(r.at), "known_at": format_instant(r.known_at),
                    "done": r.subjects}

        return self.launch("score", params, total, run)

    def launch(self, kind: str, params: dict[str, Any], total: int | None,
               run: Callable[[Callable[[int], None]], dict[str, Any]]) -> dict[str, Any]:
        """Record a job of `kind` and run `run(tick)` in a thread (tick: progress, as
        units done of `total`); its result or error is the job's end state. For the
        service's own operations (scoring, exports): the caller authorizes."""
        ctx = self.ctx
        with ctx.write() as conn:
            job_id = store.new(conn, kind, ctx.principal.id, params, ctx.ledger.clock())

        def body() -> None:
            last, latest = 0.0, 0
            with ctx.write() as conn:
                store.start(conn, job_id, ctx.ledger.clock(), total)

            def tick(done: int) -> None:
                nonlocal last, latest
                latest = done
                now = time.monotonic()
                if now - last >= HEARTBEAT:
                    last = now
                    with ctx.write() as conn:
                        store.progress(conn, job_id, done, ctx.ledger.clock())

            try:
                result = run(tick)
            except SocialCreditError as exc:
                error = {"code": exc.code, "message": exc.message}
            except Exception as exc:  # a job's failure is its result, not a dead thread
                error = {"code": "job.failed", "message": f"{type(exc).__name__}: {exc}"}
            else:
                with ctx.write() as conn:  # the last tick, which the heartbeat may skip
                    store.progress(conn, job_id, latest, ctx.ledger.clock())
                    store.finish(conn, job_id, ctx.ledger.clock(), result=result)
                return
            with ctx.write() as conn:
                store.finish(conn, job_id, ctx.ledger.clock(), error=error)

        def thread() -> None:
            try:
                body()
            finally:
                with _threads_lock:
                    _threads.pop(job_id, None)

        t = threading.Thread(target=thread, name=f"socialcredit-{job_id}", daemon=True)
        view = self.get(job_id, check=False)  # as accepted: queued, whatever comes next
        with _threads_lock:
            _threads[job_id] = (ctx.ledger, t)
        t.start()
        return view

    # -- following -------------------------------------------------------------------

    def get(self, job_id: str, *, check: bool = True) -> dict[str, Any]:
        if check:
            self.ctx.allow("jobs.read")
        with self.ctx.read() as conn:
            j = store.get(conn, job_id)
        if j is None:
            raise SocialCreditError(f"no job {job_id!r}", code="not_found")
        return self._view(j)

    def list(self, limit: int = 50, before: int | None = None, *, kind: str | None = None,
             check: bool = True) -> list[dict[str, Any]]:
        """The latest jobs (of `kind`), newest first."""
        if check:
            self.ctx.allow("jobs.read")
        with self.ctx.read() as conn:
            return [self._view(j) for j in store.recent(conn, limit, before, kind)]

    def wait(self, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
        """Until the job ends (in this process) or `timeout` seconds pass."""
        with _threads_lock:
            running = _threads.get(job_id)
        if running is not None:
            running[1].join(timeout)
        return self.get(job_id)

    def _view(self, j: store.Job) -> dict[str, Any]:
        out = j.as_dict()
        out["stale"] = bool(j.status == "running" and j.heartbeat_at is not None and
                            (self.ctx.ledger.clock() - j.heartbeat_at)
                            > STALE_AFTER * US_PER_SECOND)
        return out


__all__ = ["CLOSE_WAIT", "STALE_AFTER", "Jobs", "wait_for_jobs"]
