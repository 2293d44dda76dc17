"""A PostgreSQL ledger hash-partitioned by subject into 8 partitions, end to end through
the command line: `init --partitions 8`, ingest, `score --all`, `check`, `seal-decisions`,
`verify` and `log verify`; the rows of every large table are spread over the 8
partitions, each subject's rows in one; record and decision ids stay unique across
partitions, whether a duplicate comes through ingest or through SQL behind the ledger's
back. (The rest of tests/ledger and tests/service also runs on this layout: see
conftest.py here.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.errors import IngestError, LedgerError, UsageError
from socialcredit.ledger.partitioning import (
    PARTITIONED,
    PARTITIONS_ENV,
    partition_counts,
    partitions_of,
)
from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from tests.conftest import fresh_db_url
from tests.helpers import BASE, TEST_CATALOGUE, catalogue_for_tests

runner = CliRunner()
H = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
SUBJECTS = 240


@pytest.fixture
def pg_url(request: pytest.FixtureRequest, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty PostgreSQL schema; the layout is asked for explicitly, not by env."""
    monkeypatch.delenv(PARTITIONS_ENV, raising=False)
    yield from fresh_db_url(request, tmp_path, "postgresql")


def cli(*args: str, ok: bool = True) -> str:
    res = runner.invoke(app, list(args))
    if ok:
        assert res.exit_code == 0, res.output
    return res.output


def feed(tmp_path: Path) -> Path:
    """Records for SUBJECTS people: arrears and bonuses for all, a court ruling (which
    lists) for every fifth."""
    rows = [H]
    for i in range(SUBJECTS):
        s = f"person-{i:04d}"
        rows.append(f"bank-1:a{i},bank-1,{s},person,arrears,2025-11-0{1 + i % 9},,urn:a{i},\n")
        rows.append(f"bank-1:b{i},bank-1,{s},,bonus,2025-11-10,,,\n")
        if i % 5 == 0:
            rows.append(f"court-1:c{i},court-1,{s},,ruling,2025-10-01,,urn:c{i},\n")
    path = tmp_path / "feed.csv"
    path.write_text("".join(rows), encoding="utf-8")
    return path


def test_a_partitioned_ledger_end_to_end(pg_url: str, tmp_path: Path) -> None:
    rb = tmp_path / "rb.yaml"
    rb.write_text(BASE, encoding="utf-8")
    cat = tmp_path / "catalogue.yaml"
    cat.write_text(TEST_CATALOGUE, encoding="utf-8")
    out = cli("init", "--rulebook", str(rb), "--catalogue", str(cat), "--db", pg_url,
              "--partitions", "8")
    assert "8 partitions by subject" in out
    for p, role in (("bank-1", "bank"), ("court-1", "court")):
        cli("provider", "add", p, "--role", role, "--db", pg_url)
    report = json.loads(cli("ingest", str(feed(tmp_path)), "--db", pg_url, "--json"))
    stored = SUBJECTS * 2 + SUBJECTS // 5
    assert report["accepted"] == stored, report

    # the same file again: every id is stored already, nothing is added
    again = json.loads(cli("ingest", str(feed(tmp_path)), "--db", pg_url, "--json"))
    assert again["accepted"] == 0, again

    scored = json.loads(cli("score", "--all", "--db", pg_url,
                            "--quiet", "--json"))
    assert scored["subjects"] == SUBJECTS, scored
    effects = {}
    for i in range(0, SUBJECTS, 3):
        d = json.loads(cli("check", f"person-{i:04d}", "train",
                           "--db", pg_url, "--json"))
        effects[i] = d["effect"]
    # (a ruling lists only once its notice has run: not yet, in real time)
    assert set(effects.values()) == {"allow"}
    cli("seal-decisions", "--db", pg_url)
    verified = json.loads(cli("verify", "--db", pg_url, "--json"))
    assert verified["ok"], verified
    cli("log", "verify", "--db", pg_url)

    with Service.open(pg_url) as svc, svc.ledger.engine.connect() as conn:
        assert svc.partitions() == 8
        for table in PARTITIONED:
            parts = partitions_of(conn, table)
            assert parts == [f"{table}_p{i}" for i in range(8)]
            counts = partition_counts(conn, table)
            assert len(counts) == 8, (table, counts)  # every partition holds rows
            total = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            assert sum(counts.values()) == total
        assert sum(partition_counts(conn, "sc_records").values()) == stored
        assert sum(partition_counts(conn, "sc_decisions").values()) == len(effects)
        # a subject's records, standing and decisions sit in one partition
        where = {}
        for table in PARTITIONED:
            for subject, part in conn.execute(text(
                    f"SELECT DISTINCT subject, tableoid::regclass::text FROM {table}")):
                where.setdefault(subject, set()).add(part.rsplit("_p", 1)[1])
        assert where and all(len(parts) == 1 for parts in where.values())


def test_ids_stay_unique_across_partitions(pg_url: str, tmp_path: Path) -> None:
    rb = parse_rulebook(BASE, "base.yaml")
    with Service.create(rb, pg_url, catalogue=catalogue_for_tests(), partitions=8) as svc:
        svc.providers.add("bank-1", "bank")
        svc.records.ingest_text(H + "bank-1:x1,bank-1,alice,person,bonus,2025-11-10,,,\n"
                                    "bank-1:x2,bank-1,bob,person,bonus,2025-11-10,,,\n")
        # the same id about another subject (another partition): ingest refuses it
        with pytest.raises(IngestError, match="already in the ledger with other content"):
            svc.records.ingest_text(H + "bank-1:x1,bank-1,zoe,person,bonus,2025-11-11,,,\n")
        d = svc.decisions.decide("alice", "bike")
        engine = svc.ledger.engine
        with engine.connect() as conn:
            assert partition_counts(conn, "sc_records") != {}
            seq = conn.execute(text("SELECT min(seq) FROM sc_records")).scalar()
        # behind the ledger's back: PostgreSQL itself refuses a second x1, whatever the
        # subject, a reused seq, and a second decision id
        for statement in (
            "INSERT INTO sc_records (record_id, provider, subject, type, kind, occurred_at,"
            " recorded_at) VALUES ('bank-1:x1', 'bank-1', 'zoe', 'bonus', 'conduct', 1, 1)",
            "INSERT INTO sc_records (seq, record_id, provider, subject, type, kind,"
            f" occurred_at, recorded_at) VALUES ({seq}, 'bank-1:new', 'bank-1', 'yves',"
            " 'bonus', 'conduct', 1, 1)",
            "INSERT INTO sc_decisions (decision_id, decided_at, at, known_at, subject, action,"
            " program, version, sha256, effect, body) SELECT decision_id, decided_at, at,"
            " known_at, 'zoe', action, program, version, sha256, effect, body"
            " FROM sc_decisions",
            "UPDATE sc_records SET record_id = 'bank-1:x1' WHERE record_id = 'bank-1:x2'",
        ):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(statement))
        # a deleted record frees its key (the ledger itself deletes only on erasure)
        with engine.connect() as conn:
            trans = conn.begin()
            conn.execute(text("DELETE FROM sc_records WHERE record_id = 'bank-1:x1'"))
            assert conn.execute(text("SELECT record_id FROM sc_records_keys")).scalars().all() \
                == ["bank-1:x2"]
            trans.rollback()
            assert conn.execute(text("SELECT count(*) FROM sc_records_keys")).scalar() == 2
        assert svc.decisions.log("alice", 1)[0]["decision_id"] == d.decision_id


def test_the_layout_is_chosen_once_and_needs_postgresql(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rb = parse_rulebook(BASE, "base.yaml")
    with pytest.raises(UsageError):
        Service.create(rb, f"sqlite:///{tmp_path / 'l.db'}", partitions=8,
                       catalogue=catalogue_for_tests())
    with pytest.raises(UsageError):
        Service.create(rb, pg_url, partitions=0, catalogue=catalogue_for_tests())
    monkeypatch.setenv(PARTITIONS_ENV, "4")
    # the environment's default applies to new PostgreSQL ledgers only
    with Service.create(rb, f"sqlite:///{tmp_path / 'm.db'}",
                        catalogue=catalogue_for_tests()) as svc:
        assert svc.partitions() == 1
    with Service.create(rb, pg_url, catalogue=catalogue_for_tests()) as svc:
        assert svc.partitions() == 4
    with pytest.raises(LedgerError) as caught:
        Service.create_empty(pg_url, partitions=8)
    assert caught.value.code == "ledger.exists"
