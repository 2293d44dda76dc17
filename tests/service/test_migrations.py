"""Schema migrations: a ledger created by release 0.1.0 opens after `db upgrade`, with
every standing, decision and log leaf unchanged; one built by this release has exactly
the schema the migrations produce.

The 0.1.0 ledger is tests/fixtures/ledger-0.1.0.json: every row of every table, and what
0.1.0 computed from them, written by tests/fixtures/make_ledger_0_1_0.py run with the
0.1.0 code (git tag v0.1.0). Its rows are loaded into a database whose schema is the
pinned 0.1.0 one (revision 0001, without Alembic's table, as 0.1.0 left it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, text
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.db import resolve_db_url
from socialcredit.errors import LedgerError
from socialcredit.migrations import (
    HEAD,
    LEGACY,
    REVISIONS,
    alembic_heads,
    revision_of,
    target_metadata,
)
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "ledger-0.1.0.json"


def alembic_config(conn: Any) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "socialcredit:migrations")
    cfg.attributes["connection"] = conn
    return cfg


def build_0_1_0(db_url: str) -> dict[str, Any]:
    """The fixture's rows in a database with the pinned 0.1.0 schema; its expectations."""
    data = json.loads(FIXTURE.read_text(encoding="utf-8"))
    engine = create_engine(resolve_db_url(db_url))
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(text("DROP TABLE alembic_version"))  # 0.1.0 had no Alembic table
        md = MetaData()
        md.reflect(conn)
        for name, table in data["tables"].items():
            rows = [{c: (bytes.fromhex(v["hex"]) if isinstance(v, dict) else v)
                     for c, v in zip(table["columns"], row, strict=True)}
                    for row in table["rows"]]
            if rows:
                conn.execute(md.tables[name].insert(), rows)
        if conn.dialect.name == "postgresql":  # rows came with their keys: move sequences on
            for name in ("sc_programs", "sc_records", "sc_decisions", "sc_operations"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'seq'), "
                                  f"(SELECT max(seq) FROM {name}))"))
    engine.dispose()
    return dict(data["expected"])


def test_the_revision_list_is_alembics_chain(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert alembic_heads(conn) == list(REVISIONS)
    assert REVISIONS[-1] == HEAD


def test_a_0_1_0_ledger_is_refused_until_upgraded_then_reproduces_everything(
        db_url: str) -> None:
    expected = build_0_1_0(db_url)
    engine = create_engine(resolve_db_url(db_url))
    with engine.connect() as conn:
        assert revision_of(conn) == LEGACY
    with pytest.raises(LedgerError) as caught:
        Service.open(db_url)
    assert caught.value.code == "ledger.outdated"
    runner = CliRunner()
    res = runner.invoke(app, ["standing", "alice", "--db", db_url])
    assert res.exit_code == 1
    assert "error[ledger.outdated]" in res.output and "socialcredit db upgrade" in res.output

    res = runner.invoke(app, ["db", "upgrade", "--db", db_url, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == {"from": LEGACY, "to": HEAD}
    res = runner.invoke(app, ["db", "upgrade", "--db", db_url])
    assert res.exit_code == 0 and "current" in res.output  # upgrading twice is harmless
    with engine.connect() as conn:
        assert revision_of(conn) == HEAD
    engine.dispose()

    with Service.open(db_url) as svc:
        known = parse_instant("2026-03-26T00:00:00Z")
        for want in expected["standings"]:
            got = svc.standings.of(want["subject"], want["program"],
                                   parse_instant(want["at"]), known).as_dict()
            for d in (got, want):  # a projection is relative to when one asks
                d.pop("projection")
            assert got == want
        assert svc.decisions.log(None, 1000) == expected["decisions"]
        log = svc.log
        assert log.tree.size() == expected["log"]["size"]
        assert log.tree.root().hex() == expected["log"]["root"]
        assert [d.decode() for _, d, _ in log.leaves()] == expected["log"]["leaves"]
        assert log.checkpoint().note == expected["log"]["checkpoint"]
        assert log.verify().ok
        # and it keeps working: a new decision is logged and sealed after the old ones
        d = svc.decisions.decide("alice", "rental.bike", "rongcheng")
        assert svc.decisions.log("alice", 1)[0]["decision_id"] == d.decision_id
        assert svc.decisions.seal()[0]["count"] == 1
        assert svc.log.verify().ok


def test_a_new_ledger_has_the_schema_the_migrations_build(db_url: str, tmp_path: Path) -> None:
    """create_all + stamp (how `init` makes a ledger) and the revisions run from an
    empty database (how an old ledger gets here) give the same schema."""
    engine = create_engine(resolve_db_url(db_url))
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "head")
        mc = MigrationContext.configure(conn)
        assert compare_metadata(mc, target_metadata()) == []
        assert revision_of(conn) == HEAD
    engine.dispose()


def test_a_ledger_newer_than_this_release_is_refused(db_url: str) -> None:
    from socialcredit.rulebook.shipped import load_named

    Service.create(load_named("judgment-defaulters"), db_url).close()
    engine = create_engine(resolve_db_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(LedgerError) as caught:
        Service.open(db_url)
    assert caught.value.code == "ledger.too_new"
