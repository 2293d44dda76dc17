"""Durability (issue 14 item 10): SQLite commits with synchronous=FULL unless told
otherwise, and `backup` / `restore` give back a ledger that verifies and reproduces every
standing, on SQLite (online backup API) and PostgreSQL (pg_dump / pg_restore)."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.db import SYNCHRONOUS_ENV, make_engine, resolve_db_url
from socialcredit.errors import UsageError
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.conftest import Clock
from tests.helpers import BASE, base_rulebook, catalogue_for_tests

runner = CliRunner()
H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
SUBJECTS = ("alice", "bob", "carol")


def synchronous(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    finally:
        engine.dispose()


def test_sqlite_commits_are_durable_by_default_and_normal_is_a_choice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    assert synchronous(url) == 2  # FULL
    assert synchronous(url + "?synchronous=normal") == 1
    monkeypatch.setenv(SYNCHRONOUS_ENV, "normal")
    assert synchronous(url) == 1
    assert synchronous(url + "?synchronous=full") == 2  # the URL wins
    monkeypatch.setenv(SYNCHRONOUS_ENV, "sometimes")
    with pytest.raises(UsageError, match="choose one of full, normal, extra"):
        make_engine(url)


@pytest.fixture
def target(db_url: str, pg_server: str | None, tmp_path: Path) -> Iterator[str]:
    """Where a backup of the `db_url` ledger is restored: a new SQLite file, or a new
    PostgreSQL database searched in the source's schema."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'restored.db'}"
        return
    assert pg_server is not None
    name = "r_" + uuid.uuid4().hex[:12]
    admin = create_engine(resolve_db_url(pg_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    schema = db_url.rsplit("search_path%3D", 1)[1]
    yield pg_server.rsplit("/", 1)[0] + f"/{name}?options=-csearch_path%3D{schema}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


def test_a_restored_ledger_verifies_and_reproduces_standings(
        make_ledger: Callable[..., Service], clock: Clock, db_url: str, target: str,
        tmp_path: Path) -> None:
    svc = make_ledger(BASE, PROVIDERS)
    svc.records.ingest_text(H + "court-1:c1,court-1,alice,person,ruling,2025-12-01,,e,\n"
                                "bank-1:a1,bank-1,bob,person,arrears,2025-12-03,,e,\n"
                                "bank-1:h1,bank-1,carol,person,hours,2025-12-04,6,,\n")
    clock.set("2026-02-01T00:00:00Z")
    svc.decisions.decide("alice", "train")
    svc.decisions.seal()
    before = {s: svc.standings.of(s).as_dict() for s in SUBJECTS}
    dest = tmp_path / "ledger.backup"
    res = runner.invoke(app, ["backup", str(dest), "--db", db_url, "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["records"] == 3 and info["format"] in ("sqlite", "pg_dump")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    # the ledger goes on after the backup; the backup keeps the state it was taken in
    svc.records.ingest_text(H + "bank-1:a2,bank-1,bob,,arrears,2026-01-20,,e,\n")

    res = runner.invoke(app, ["restore", str(dest), "--db", target])
    assert res.exit_code == 0, res.output
    assert "restored" in res.output and "3 records" in res.output
    res = runner.invoke(app, ["verify", "--db", target, "--pubkey", str(pubkey(svc, tmp_path))])
    assert res.exit_code == 0, res.output
    with Service.open(target, clock=clock) as restored:
        assert {s: restored.standings.of(s).as_dict() for s in SUBJECTS} == before
        assert restored.decisions.log("alice")[0]["effect"] == "deny"
        assert restored.log.tree.size() == info["log_size"]
    # a restore never overwrites a ledger
    res = runner.invoke(app, ["restore", str(dest), "--db", target])
    assert res.exit_code == 1 and "error[backup.invalid]" in res.output
    res = runner.invoke(app, ["backup", str(dest), "--db", db_url])
    assert res.exit_code == 1 and "never overwrites" in res.output


def pubkey(svc: Service, tmp_path: Path) -> Path:
    p = tmp_path / "log.pub"
    p.write_text(svc.log.pubkey() + "\n")
    return p


def test_a_backup_restores_only_into_its_own_kind_of_database(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    Service.create_empty(str(db)).close()
    dest = tmp_path / "b.backup"
    assert runner.invoke(app, ["backup", str(dest), "--db", str(db)]).exit_code == 0
    res = runner.invoke(app, ["restore", str(dest), "--db",
                              "postgresql://nobody@127.0.0.1:1/none"])
    assert res.exit_code == 1 and "a SQLite backup restores into a SQLite ledger" in res.output
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"not a backup at all")
    res = runner.invoke(app, ["restore", str(junk), "--db", str(tmp_path / "n.db")])
    assert res.exit_code == 1 and "not a ledger backup" in res.output


def test_a_postgresql_ledger_in_public_restores_into_a_new_database(
        pg_server: str | None, tmp_path: Path) -> None:
    """The usual production layout: a database of its own, tables in `public` (which the
    new database already has: the restore fills it rather than creating it again)."""
    if pg_server is None:
        pytest.skip("no PostgreSQL server")
    names = ["b_" + uuid.uuid4().hex[:12] for _ in range(2)]
    admin = create_engine(resolve_db_url(pg_server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for n in names:
            conn.execute(text(f"CREATE DATABASE {n}"))
    root = pg_server.rsplit("/", 1)[0]
    source, copy = (f"{root}/{n}" for n in names)
    try:
        with Service.create_empty(source) as svc:
            svc.programs.publish(base_rulebook(), catalogue=catalogue_for_tests())
            svc.providers.add("court-1", "court")
            svc.records.ingest_text(H + "court-1:c1,court-1,alice,person,ruling,2025-12-01,,e,\n")
            standing = svc.standings.of("alice", at=svc.now()).as_dict()
            svc.backup(tmp_path / "pg.backup")
        info = Service.restore(tmp_path / "pg.backup", copy)
        assert info["records"] == 1 and info["format"] == "pg_dump"
        with Service.open(copy) as restored:
            assert restored.log.verify_ledger().ok
            got = restored.standings.of("alice", at=parse_instant(standing["at"])).as_dict()
        for d in (got, standing):
            d.pop("projection", None)
        assert got == standing
    finally:
        with admin.connect() as conn:
            for n in names:
                conn.execute(text(f"DROP DATABASE {n} WITH (FORCE)"))
        admin.dispose()
