"""`socialcredit serve` as an operator runs it: a process answering on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from tests.api.conftest import free_port
from tests.dueprocess.rulebooks import CITY
from tests.helpers import catalogue_for_tests


def test_serve_answers_health_readiness_and_refuses_without_a_token(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    Service.create(parse_rulebook(CITY, "city.yaml"), str(db),
                   catalogue=catalogue_for_tests()).close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "socialcredit", "serve", "--db", str(db),
                             "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                ok = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not answer in 30 s"
                time.sleep(0.1)
        assert ok.json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz").json()["migrations_current"] is True
        r = httpx.get(f"{base}/api/v1/me/file")
        assert r.status_code == 401 and r.json()["code"] == "unauthenticated"
        assert httpx.get(f"{base}/api/v1/public/lists").json()[0]["list"] == \
            "city_defaulters"
    finally:
        proc.terminate()
        proc.wait(10)
    # one JSON access-log line per request on standard error
    log = proc.stderr.read() if proc.stderr else ""
    assert '"route": "/api/v1/me/file"' in log and '"status": 401' in log


def test_a_worker_app_leaves_its_start_up_heap_out_of_full_collections(
        tmp_path: Path) -> None:
    """What a server builds at start-up is frozen out of the collector's full
    collections (they held every request in flight for ~80 ms each) and its thresholds
    raised, in the app a worker of `serve --workers N` makes — in a process of its own,
    as a worker is."""
    db = tmp_path / "ledger.db"
    Service.create(parse_rulebook(CITY, "city.yaml"), str(db),
                   catalogue=catalogue_for_tests()).close()
    code = ("import gc, os; from socialcredit.api.app import from_environment; "
            "before = gc.get_freeze_count(); from_environment(); "
            "print(before, gc.get_freeze_count(), gc.get_threshold()[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ,
                                          "SOCIALCREDIT_DB": str(db)}).stdout.split()
    before, after, threshold = int(out[0]), int(out[1]), int(out[2])
    assert before == 0 and after > 50_000, out
    assert threshold >= 10_000, out  # requests in flight are not promoted at once


def test_serve_warns_that_workers_on_a_sqlite_ledger_add_nothing(tmp_path: Path) -> None:
    """Several workers on one SQLite file queue on its write lock (measured: no gain, and
    503s under load); the operator is told so before the server starts."""
    db = tmp_path / "ledger.db"
    Service.create(parse_rulebook(CITY, "city.yaml"), str(db),
                   catalogue=catalogue_for_tests()).close()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "socialcredit", "serve", "--db", str(db),
                             "--port", str(port), "--workers", "2", "--no-web"],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json() == \
                    {"status": "ok"}
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not answer in 60 s"
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)
    log = proc.stderr.read() if proc.stderr else ""
    assert log.startswith("warning: 2 workers on a SQLite ledger") and "503" in log
