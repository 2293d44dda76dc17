"""Shared fixtures: every ledger test runs on SQLite and on a real PostgreSQL server.

PostgreSQL comes from $SOCIALCREDIT_TEST_PG (CI starts a server and sets it); failing
that, the suite starts a throwaway server itself from the machine's binaries. Each
test gets its own schema, so tests never see each other's data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from socialcredit.db import resolve_db_url
from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.helpers import catalogue_for_tests

ROOT = Path(__file__).resolve().parent.parent
RULEBOOKS = ROOT / "src" / "socialcredit" / "rulebooks"


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "pg_ctl").exists():
            return cand
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Ledgers keep their signing and salt keys outside the database. A SQLite ledger
    finds them beside its file by default; a PostgreSQL one in the user's data directory,
    which tests must not touch: point every test at a throwaway key directory (key files
    are named by key, so ledgers sharing it never collide)."""
    from socialcredit.transparency.keys import KEY_DIR_ENV

    before = os.environ.get(KEY_DIR_ENV)
    path = tmp_path_factory.mktemp("keys")
    os.environ[KEY_DIR_ENV] = str(path)
    yield path
    if before is None:
        os.environ.pop(KEY_DIR_ENV, None)
    else:
        os.environ[KEY_DIR_ENV] = before


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str | None]:
    url = os.environ.get("SOCIALCREDIT_TEST_PG")
    if url:
        yield url
        return
    bindir = _pg_bin()
    if bindir is None:
        yield None
        return
    root = os.geteuid() == 0
    data = Path(tempfile.mkdtemp(prefix="sc-pg-"))
    port = _free_port()
    prefix = ["runuser", "-u", "postgres", "--"] if root else []
    if root:
        shutil.chown(data, "postgres", "postgres")
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data / "db"), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8"], check=True, capture_output=True)
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-w", "-l",
                    str(data / "log"), "-o", f"-p {port} -k {data} -h 127.0.0.1 -F", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data / "db"), "-m", "fast",
                        "stop"], capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


#: The backends every ledger test runs on. tests/ledger and tests/service add
#: PARTITIONED_PG, a PostgreSQL ledger hash-partitioned by subject into 8 partitions.
BACKENDS = ["sqlite", "postgresql"]
PARTITIONED_PG = "postgresql-8"


def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path, backend: str
                 ) -> Iterator[str]:
    """A fresh, empty database URL on `backend`; for PARTITIONED_PG, every ledger the
    test creates is partitioned ($SOCIALCREDIT_PG_PARTITIONS, which `init` and
    Service.create read for a new PostgreSQL ledger)."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    base = request.getfixturevalue("pg_server")
    if base is None:
        pytest.skip("no PostgreSQL server: set SOCIALCREDIT_TEST_PG or install postgresql")
    if backend == PARTITIONED_PG:
        from socialcredit.ledger.partitioning import PARTITIONS_ENV

        request.getfixturevalue("monkeypatch").setenv(PARTITIONS_ENV, "8")
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = create_engine(resolve_db_url(base))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    yield from fresh_db_url(request, tmp_path, request.param)


class Clock:
    """A settable ledger clock, so tests control recorded_at exactly."""

    def __init__(self, start: str = "2026-01-01T00:00:00Z") -> None:
        self.now = parse_instant(start)

    def __call__(self) -> int:
        return self.now

    def set(self, when: str) -> None:
        self.now = parse_instant(when)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_ledger(db_url: str, clock: Clock) -> Iterator[Callable[..., Service]]:
    """make_ledger(rulebook_yaml_text, providers={"bank-1": "bank"}) -> Service on a new
    ledger with that rulebook as its first program."""
    made: list[Service] = []

    def make(rulebook: str, providers: dict[str, str] | None = None) -> Service:
        rb = parse_rulebook(rulebook, "test.yaml")
        svc = Service.create(rb, db_url, clock=clock, catalogue=catalogue_for_tests())
        for p, role in (providers or {}).items():
            svc.providers.add(p, role)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        svc.close()


# -- real servers for notice delivery ---------------------------------------------------------

class Mailbox:
    """What a real local SMTP server (aiosmtpd) received."""

    def __init__(self) -> None:
        self.messages: list[object] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content,  # type: ignore[attr-defined]
                                                policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server() -> Iterator[tuple[str, Mailbox]]:
    """(smtp://127.0.0.1:PORT, mailbox) of an SMTP server running for the test."""
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = _free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        yield f"smtp://127.0.0.1:{port}", box
    finally:
        ctl.stop()


class Hooks:
    """What a real local HTTP server received; it answers each POST with the next status
    of `statuses` (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []


@pytest.fixture
def webhook_server() -> Iterator[tuple[str, Hooks]]:
    """(http://127.0.0.1:PORT/hook, received) of a stdlib HTTP server in a thread."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hooks = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hooks.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = hooks.statuses.pop(0) if hooks.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", hooks
    finally:
        server.shutdown()
        server.server_close()
