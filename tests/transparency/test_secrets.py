"""Secrets kept (issue 14 item 9): the signing key and the salt key live outside the
database, in files created 0600 (or behind an external signer); subject salts are
encrypted at rest, so a stolen database cannot link the public log's commitments to
subjects; SQLite files are created 0600; a password in a database URL never appears in
a message or in JSON. A ledger from before (key and salts in the database) keeps working
after `db upgrade`, which moves them out."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.db import resolve_db_url, sqlite_path
from socialcredit.errors import LedgerError, SocialCreditError
from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from socialcredit.transparency.checkpoint import Verifier
from socialcredit.transparency.events import parse_leaf
from socialcredit.transparency.keys import KEY_DIR_ENV, SIGNER_ENV
from tests.conftest import RULEBOOKS
from tests.helpers import BASE, catalogue_for_tests

runner = CliRunner()
H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
RULEBOOK = str(RULEBOOKS / "judgment-defaulters.yaml")


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def listed(make_ledger: Callable[..., Service]) -> Service:
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "court-1:c1,court-1,alice,person,ruling,2025-12-01,,e,\n"
                                "court-1:c2,court-1,bob,person,ruling,2025-12-01,,e,\n")
    return svc


def test_a_new_sqlite_ledger_keeps_its_keys_beside_it_private(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_DIR_ENV)
    db = tmp_path / "ledger.db"
    res = runner.invoke(app, ["init", "--rulebook", RULEBOOK, "--db", str(db)])
    assert res.exit_code == 0, res.output
    keys = tmp_path / "ledger.db.keys"
    assert mode(keys) == 0o700
    assert [p.name.split("-")[0] for p in sorted(keys.iterdir())] == ["signing"]
    for f in keys.iterdir():
        assert mode(f) == 0o600
    signing = next(keys.glob("signing-*.key")).read_text()
    assert signing.startswith("PRIVATE+KEY+socialcredit/ledger+")
    for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if p.exists():
            assert mode(p) == 0o600, p
    assert mode(db) == 0o600
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT private_key FROM tlog_keys")).scalar() is None
        raw = db.read_bytes()
    engine.dispose()
    # PRIVATE+KEY+<name>+<key hash>+<base64 key>: the key's base64 may itself hold a
    # "+", so it is the fifth field, not whatever follows the last "+"
    secret = signing.strip().split("+", 4)[4]
    assert len(secret) > 40
    assert secret.encode() not in raw


def test_the_database_alone_cannot_link_commitments_to_subjects(
        make_ledger: Callable[..., Service], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    svc = listed(make_ledger)
    commitments = {parse_leaf(d).get("commitment") for _, d, _ in svc.log.leaves()} - {None}
    assert len(commitments) == 2
    with svc.ledger.engine.connect() as conn:
        blobs = [bytes(b) for (b,) in conn.execute(text("SELECT salt FROM tlog_subject_salts"))]
        subjects = [s for (s,) in conn.execute(text("SELECT subject FROM sc_subjects"))]
    assert len(blobs) == 2 and {len(b) for b in blobs} == {61}
    # every stored value, and every 32-byte window of it, tried as the salt of every subject
    for blob in blobs:
        for key in [blob, *(blob[i:i + 32] for i in range(len(blob) - 31))]:
            for subject in subjects:
                c = hmac.new(key, subject.encode(), hashlib.sha256).hexdigest()
                assert c not in commitments
    # with the keys, the subject gets its salt and finds its leaves; without them, no one
    mine = svc.log.mine("alice")
    assert mine["commitment"] in commitments and len(mine["leaves"]) == 1
    monkeypatch.setenv(KEY_DIR_ENV, str(tmp_path / "elsewhere"))
    with pytest.raises(SocialCreditError, match="the key that encrypts salts is not in"):
        svc.log.mine("alice")


def test_signing_needs_the_key_directory(make_ledger: Callable[..., Service],
                                         monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path, key_dir: Path) -> None:
    svc = make_ledger(BASE, PROVIDERS)
    monkeypatch.setenv(KEY_DIR_ENV, str(tmp_path / "empty"))
    with pytest.raises(SocialCreditError, match="the log's signing key is not in"):
        svc.records.ingest_text(H + "court-1:c1,court-1,alice,person,ruling,2025-12-01,,e,\n")
    assert svc.ledger.count_records() == 0  # nothing half-written
    monkeypatch.setenv(KEY_DIR_ENV, str(key_dir))
    assert svc.records.ingest_text(H + "court-1:c1,court-1,alice,person,ruling,2025-12-01,,e,\n"
                                   ).accepted == 1


def test_an_external_signer_signs_and_no_key_file_is_written(
        db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.transparency import hsm_stub

    keys = tmp_path / "keys"
    monkeypatch.setenv(KEY_DIR_ENV, str(keys))
    monkeypatch.setenv(SIGNER_ENV, "tests.transparency.hsm_stub:signer")
    origin = f"hsm-{uuid.uuid4().hex[:8]}/log"
    before = len(hsm_stub.SIGNED)
    with Service.create_empty(db_url, origin=origin) as svc:
        svc.programs.publish(parse_rulebook(BASE), catalogue=catalogue_for_tests())
        pub = svc.log.pubkey()
        assert len(hsm_stub.SIGNED) > before
        assert not list(keys.glob("signing-*"))
        assert svc.log.verify(pub).ok


def test_db_upgrade_moves_the_key_and_salts_out_and_the_ledger_keeps_working(
        db_url: str) -> None:
    from tests.service.test_migrations import build_0_1_0

    build_0_1_0(db_url)
    path = sqlite_path(resolve_db_url(db_url))
    if path is not None:  # 0.1.0 left its file readable by everyone
        path.chmod(0o644)
    engine = create_engine(resolve_db_url(db_url))
    with engine.connect() as conn:
        pub = conn.execute(text("SELECT public_key FROM tlog_keys")).scalar_one()
        assert conn.execute(text("SELECT private_key FROM tlog_keys")).scalar() is not None
        old = {s: bytes(v) for s, v in conn.execute(
            text("SELECT subject, salt FROM tlog_subject_salts"))}
    assert {len(v) for v in old.values()} == {32}
    res = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert res.exit_code == 0, res.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT private_key FROM tlog_keys")).scalar() is None
        now = {s: bytes(v) for s, v in conn.execute(
            text("SELECT subject, salt FROM tlog_subject_salts"))}
    engine.dispose()
    assert now.keys() == old.keys() and {len(v) for v in now.values()} == {61}
    if path is not None:
        assert mode(path) == 0o600
    with Service.open(db_url) as svc:
        vkey = svc.log.pubkey()
        for subject, salt in old.items():  # the same salts, so the same commitments
            assert svc.log.mine(subject)["salt"] == salt.hex()
        svc.decisions.decide("alice", "rental.bike", "rongcheng")
        svc.decisions.seal()  # signs a checkpoint with the moved key
        assert svc.log.verify(vkey).ok
        assert Verifier.parse(vkey).public_key == bytes(pub)  # the same key signs on


# -- passwords never printed -----------------------------------------------------------------

@pytest.fixture
def pg_schema(pg_server: str | None) -> Iterator[str]:
    """A base URL (no password) to a fresh schema of the test server."""
    if pg_server is None:
        pytest.skip("no PostgreSQL server")
    schema = "t_" + uuid.uuid4().hex[:16]
    admin = create_engine(resolve_db_url(pg_server))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    yield f"{pg_server}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.mark.parametrize("password", ["s3cret-PW", "p@ss/w:rd"])
def test_passwords_are_redacted_from_output_and_errors(pg_schema: str, password: str) -> None:
    """The test server trusts local connections, so any password gets in: each command
    runs for real and must not print it (raw, or URL-escaped as it should be)."""
    escaped = password.replace("@", "%40").replace("/", "%2F")
    for first, pw in ((True, escaped), (False, password)):
        db = pg_schema.replace("postgresql://postgres@", f"postgresql://postgres:{pw}@")
        runs = [runner.invoke(app, args) for args in (
            ["init", "--rulebook", RULEBOOK, "--db", db, "--json"],
            ["init", "--rulebook", RULEBOOK, "--db", db],  # exists: the URL in the error
            ["standing", "x", "--db", db],
            ["log", "verify", "--db", db, "--json"],
            ["verify", "--db", db, "--json"],
            ["verify", "--db", db.replace("/postgres?", "/no_such_db?")])]
        for res in runs:
            assert password not in res.output and escaped not in res.output, res.output
            assert ("Traceback" not in res.output and res.exception is None) or \
                isinstance(res.exception, SystemExit), res.output
        if first:
            assert json.loads(runs[0].stdout)["db"].startswith(
                "postgresql+psycopg://postgres:***@127.0.0.1:")
            assert "a ledger already exists at postgresql+psycopg://postgres:***@" in \
                runs[1].output
            assert json.loads(runs[3].stdout)["source"].startswith(
                "postgresql+psycopg://postgres:***@")
        assert "error[database.failed]" in runs[5].output


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    res = runner.invoke(app, ["standing", "x", "--db",
                              "postgresql://u:hunter2@127.0.0.1:1/db?connect_timeout=2"])
    assert res.exit_code == 1
    assert res.output.startswith("error[database.failed]: the database failed:")
    assert "hunter2" not in res.output and len(res.output.splitlines()) == 1


def test_messages_hide_a_password_whatever_raises_them() -> None:
    err = LedgerError("no ledger at postgresql://u:hunter2@db.example/x?password=hunter2")
    assert "hunter2" not in err.message and "hunter2" not in json.dumps(err.as_dict())
    assert err.message == "no ledger at postgresql://u:***@db.example/x?password=***"
