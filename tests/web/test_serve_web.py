"""`socialcredit serve` with its pages: on by default, across worker processes (one
session secret for all), and off with --no-web."""

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


def serving(db: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "socialcredit", "serve", "--db", str(db),
                             "--port", str(port), *args], stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return proc, base
        except httpx.TransportError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "serve did not answer in 60 s"
            time.sleep(0.1)


def test_serve_has_the_pages_on_every_worker_and_none_with_no_web(tmp_path: Path) -> None:
    db = tmp_path / "ledger.db"
    svc = Service.create(parse_rulebook(CITY, "city.yaml"), str(db),
                         catalogue=catalogue_for_tests())
    token = svc.principals.add("alice", "subject", subject="alice")["token"]
    svc.close()
    proc, base = serving(db, "--workers", "2")
    try:
        for _ in range(4):  # new connections: the workers take turns
            assert "An open, accountable social credit system" in httpx.get(base + "/").text
        with httpx.Client(base_url=base) as c:
            form = c.get("/signin").text
            csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            r = c.post("/signin", data={"token": token, "csrf": csrf})
            assert r.status_code == 303
        cookies = dict(c.cookies)
        for _ in range(6):  # whichever worker answers reads the session
            with httpx.Client(base_url=base, cookies=cookies) as again:
                assert again.get("/me").status_code == 200
    finally:
        proc.terminate()
        proc.wait(20)
    proc, base = serving(db, "--no-web")
    try:
        assert httpx.get(base + "/").status_code == 404
        assert httpx.get(base + "/api/v1/public/lists").status_code == 200
    finally:
        proc.terminate()
        proc.wait(20)
