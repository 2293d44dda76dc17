"""Retention: a record past its publication period that nothing needs is erased; its
tombstone keeps the hash, the log and audits still verify, past standings say "erased",
and no operation — nor the database itself — gives the erased data back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import MetaData, create_engine, select

from socialcredit.db import resolve_db_url
from socialcredit.dueprocess.retention import record_sha256
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.conftest import Clock
from tests.dueprocess.rulebooks import CITY, CSV_HEAD

SECRET_EVIDENCE = "urn:utility:invoice:SECRET-EVIDENCE-77"
SECRET_VALUE = "SECRET-VALUE-42"
RECORDS = CSV_HEAD + (
    f"util-1:f1,util-1,alice,person,late.fee,2026-01-04,{SECRET_VALUE},{SECRET_EVIDENCE},\n"
    "util-1:f2,util-1,alice,,late.fee,2026-01-04,x,urn:utility:2,\n"
    "court-01:1,court-01,alice,,court.finding,2026-01-04,x,urn:court:1,\n")


def everything(db_url: str) -> str:
    """Every row of every table of the database, as text."""
    engine = create_engine(resolve_db_url(db_url))
    md = MetaData()
    out = []
    with engine.connect() as conn:
        md.reflect(conn)
        for table in md.sorted_tables:
            for row in conn.execute(select(table)):
                out.append(repr(tuple(row)))
    engine.dispose()
    return "\n".join(out)


def test_retention_erases_what_nothing_needs_and_nothing_reads_it_back(
        make_ledger: Callable[..., Service], clock: Clock, db_url: str,
        tmp_path: Path) -> None:
    clock.set("2026-01-05T09:00:00Z")
    op = make_ledger(CITY, {"court-01": "court", "util-1": "utility"})
    op.principals.add("alice", "subject", subject="alice", email="alice@example.org")
    op.records.ingest_text(RECORDS)
    alice = op.acting_as("alice")
    with op.ledger.engine.connect() as conn:
        original = op.ledger.record("util-1:f1", conn)
    assert original is not None
    clock.set("2026-01-10T00:00:00Z")
    op.decisions.decide("alice", "bike.deposit")  # rests on f1 among its key factors
    assert SECRET_VALUE in json.dumps(alice.files.of())
    clock.set("2027-01-05T00:00:00Z")
    alice.cases.object("util-1:f2", "it was paid")  # an open case keeps f2
    clock.set("2027-01-10T00:00:00Z")

    report = op.retention.run()
    assert [(r["record_id"], r["record_sha256"]) for r in report["records"]] == [
        ("util-1:f1", record_sha256(original))]
    assert op.retention.run()["erased"] == 0  # nothing twice

    # the log and its audit still verify, and say what was erased
    assert op.log.verify().ok
    leaves = [json.loads(d) for _, d, _ in op.log.leaves()]
    erased = [x for x in leaves if x["kind"] == "record.erased"]
    assert [(x["record_id"], x["record_sha256"]) for x in erased] == [
        ("util-1:f1", record_sha256(original))]
    # past standings say "erased" instead of silently changing; the present does not
    past = op.standings.of("alice", at=parse_instant("2026-06-01"))
    assert past.erased and "erased" in past.notes[-1]
    assert past.as_dict()["erased"] is True
    assert not op.standings.of("alice").erased
    f = alice.files.of()
    assert [x["record_id"] for x in f["erased_records"]] == ["util-1:f1"]
    assert {r["record_id"] for r in f["records"]} == {"util-1:f2", "court-01:1"}

    # no operation reads the erased data back
    export = tmp_path / "export"
    op.population.export(export)
    op.log.export(tmp_path / "log")
    outputs = [json.dumps(alice.files.of()), alice.files.html(), json.dumps(alice.notices.of()),
               json.dumps(op.decisions.log("alice")), json.dumps(alice.access.of()),
               json.dumps(op.standings.of("alice", at=parse_instant("2026-06-01")).as_dict()),
               json.dumps(op.standings.view("alice", at=parse_instant("2026-02-01"))),
               json.dumps([s.as_dict() for s in op.standings.all(
                   at=parse_instant("2026-06-01"))]),
               json.dumps(op.cases.queue()), json.dumps(op.log.mine("alice")),
               "\n".join(d.decode() for _, d, _ in op.log.leaves())]
    outputs += [p.read_bytes().decode("latin-1") for p in [*export.rglob("*"),
                                                           *(tmp_path / "log").rglob("*")]
                if p.is_file()]
    for text in outputs:
        assert SECRET_VALUE not in text and SECRET_EVIDENCE not in text
    dump = everything(db_url)
    assert SECRET_VALUE not in dump and SECRET_EVIDENCE not in dump
    assert "urn:utility:2" in dump  # what is still needed stays


def test_a_record_still_counting_or_listed_is_kept(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    clock.set("2026-01-05T09:00:00Z")
    op = make_ledger(CITY, {"court-01": "court", "util-1": "utility"})
    op.records.ingest_text(RECORDS)
    clock.set("2026-12-01T00:00:00Z")
    assert op.retention.run()["erased"] == 0
    clock.set("2028-01-16T00:00:00Z")  # the listing ended on 2028-01-15
    ids = {r["record_id"] for r in op.retention.run()["records"]}
    assert ids == {"util-1:f1", "util-1:f2", "court-01:1"}


def test_a_voided_record_is_erased_with_its_void(
        make_ledger: Callable[..., Service], clock: Clock) -> None:
    clock.set("2026-01-05T09:00:00Z")
    op = make_ledger(CITY, {"court-01": "court", "util-1": "utility"})
    op.principals.add("rev", "reviewer")
    op.records.ingest_text(RECORDS)
    case = op.cases.object("court-01:1", "not alice")["case_id"]
    op.acting_as("rev").cases.decide(case, "voided", "wrong person")
    ids = {r["record_id"] for r in op.retention.run()["records"]}
    assert ids == {"court-01:1", f"rev:{case}:void"}  # in the reviewer's namespace
    assert op.log.verify().ok
    assert op.cases.get(case)["grounds"] is None  # the words went with the record
