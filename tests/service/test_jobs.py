"""Background jobs end cleanly when their service closes: closing waits (bounded) for
the ledger's running jobs, so none is cut off halfway through a write, and a finished
job's thread leaves nothing behind in the process."""

from __future__ import annotations

import threading
from collections.abc import Callable

from socialcredit.service import Service
from socialcredit.service import jobs as jobs_module
from tests.dueprocess.rulebooks import CITY


def test_closing_waits_for_a_running_job_and_its_end_is_recorded(
        make_ledger: Callable[..., Service], db_url: str) -> None:
    svc = make_ledger(CITY)
    jobs = jobs_module.Jobs(svc.ctx)
    release = threading.Event()
    finished = threading.Event()

    def run(tick: Callable[[int], None]) -> dict[str, int]:
        release.wait(10)
        tick(1)
        finished.set()
        return {"done": 1}

    view = jobs.launch("test", {}, 1, run)
    assert view["status"] in ("queued", "running")
    closer = threading.Thread(target=svc.close)
    closer.start()
    closer.join(0.5)
    assert closer.is_alive()  # close is waiting for the job, not cutting it off
    release.set()
    closer.join(10)
    assert not closer.is_alive() and finished.is_set()
    assert view["job_id"] not in jobs_module._threads  # the thread left no trace
    with Service.open(db_url) as again:
        done = jobs_module.Jobs(again.ctx).get(view["job_id"], check=False)
    assert done["status"] == "done" and done["result"] == {"done": 1}


def test_a_job_still_running_after_the_wait_is_named(
        make_ledger: Callable[..., Service]) -> None:
    svc = make_ledger(CITY)
    release = threading.Event()
    view = jobs_module.Jobs(svc.ctx).launch("test", {}, None,
                                            lambda tick: {"ok": release.wait(10)})
    assert jobs_module.wait_for_jobs(svc.ctx.ledger, timeout=0.2) == [view["job_id"]]
    release.set()
    assert jobs_module.wait_for_jobs(svc.ctx.ledger, timeout=10) == []
