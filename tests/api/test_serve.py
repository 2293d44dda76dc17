"""`socialcredit serve` as an operator runs it: a process answering on 127.0.0.1."""

from __future__ import annotations

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
