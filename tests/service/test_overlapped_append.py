"""Ingest with the records appended on a second thread (`Ledger.begin_insert`: bound into
a staging table a chunk at a time, each chunk appended by one INSERT … SELECT while the
next is hashed, the last while the listings' leaves and the batch's root are computed)
against the plain executemany.

For random feeds — valid and faulty rows, duplicates in the file, resolutions and voids,
backfills with their own recorded_at — ingested, then ingested again (every id already
stored: the optimistic append meets conflicts and the ingest is redone the precise way),
both ways must leave identical ledgers: the same records, value for value and storage
class for storage class, the same hashes, batches, leaves, subjects and notices, and the
same reports and errors. The threshold is lowered to one record and the chunks to three
rows so that every ingest of the property takes the overlapped path in several chunks.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.ledger import store
from socialcredit.service import batches
from tests.conftest import Clock
from tests.service.test_columnar_ingest import feeds, fresh, ledger_state, outcome

COLUMNS = ", ".join(f"typeof({c})" for c in store.Ledger.RECORD_COLUMNS)


def state(db: Path) -> dict[str, Any]:
    out = ledger_state(db)
    con = sqlite3.connect(db)
    try:
        out["storage"] = con.execute(f"SELECT {COLUMNS} FROM sc_records ORDER BY seq").fetchall()
        out["batches"] = con.execute(
            "SELECT batch, count(*), min(seq), max(seq) FROM sc_records GROUP BY batch "
            "ORDER BY batch").fetchall()
        out["temp"] = con.execute("SELECT name FROM sqlite_temp_master").fetchall()
    finally:
        con.close()
    return out


def both_ways(text: str, skip: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        path = d / "feed.csv"
        path.write_bytes(text.encode("utf-8"))
        results = []
        for threshold in (10**12, 1):
            monkeypatch.setattr(store, "OVERLAP_MIN_ROWS", threshold)
            # chunks of a few rows: a file's rows are appended in several statements
            monkeypatch.setattr(batches, "CHUNK_ROWS", 10**9 if threshold > 1 else 3)
            svc = fresh(d, f"ledger-{threshold}", clock)
            db = d / f"ledger-{threshold}.db"
            try:
                # twice: the second ingest meets every id already stored
                results.append([outcome(svc, db, path, True, skip),
                                outcome(svc, db, path, True, skip), state(db)])
            finally:
                svc.close()
        assert results[1] == results[0]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(feeds(), st.booleans())
def test_the_overlapped_append_leaves_the_ledger_the_plain_append_leaves(
        monkeypatch: pytest.MonkeyPatch, text: str, skip: bool) -> None:
    both_ways(text, skip, monkeypatch)


FEED = ("record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
        + "".join(f"bank-1:r{i},bank-1,s{i % 40},person,{'arrears' if i % 4 else 'hours'},"
                  f"2025-06-01T00:00:00Z,{'' if i % 4 else i % 9},ev,\n" for i in range(400)))


def stored(db: Path) -> tuple[int, int, list[Any]]:
    con = sqlite3.connect(db)
    try:
        return (con.execute("SELECT count(*) FROM sc_records").fetchone()[0],
                con.execute("SELECT count(*) FROM tlog_leaves").fetchone()[0],
                con.execute("SELECT name FROM sqlite_temp_master").fetchall())
    finally:
        con.close()


def test_an_error_while_the_records_are_appended_keeps_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingest fails in the work it does beside the append: the append is waited
    for, then the whole transaction is rolled back; the next ingest stores everything."""
    from socialcredit.transparency.sink import TransparencySink

    monkeypatch.setattr(store, "OVERLAP_MIN_ROWS", 1)
    monkeypatch.setattr(batches, "CHUNK_ROWS", 64)
    svc = fresh(tmp_path, "ledger", Clock())
    path = tmp_path / "feed.csv"
    path.write_text(FEED, encoding="utf-8")
    before = stored(tmp_path / "ledger.db")
    encode = TransparencySink.encode

    def failing(self: TransparencySink, events: Any) -> Any:
        raise RuntimeError("while the records were appended")

    monkeypatch.setattr(TransparencySink, "encode", failing)
    with pytest.raises(RuntimeError):
        svc.records.ingest_file(path)
    assert stored(tmp_path / "ledger.db") == before
    monkeypatch.setattr(TransparencySink, "encode", encode)
    rep = svc.records.ingest_file(path)
    assert rep.accepted == 400
    assert stored(tmp_path / "ledger.db")[0] == before[0] + 400
    assert svc.log.verify_ledger().ok
    svc.close()


CHILD = """
import os, sys
from pathlib import Path
from socialcredit.ledger import store
from socialcredit.service import batches
from socialcredit.transparency.sink import TransparencySink
from tests.conftest import Clock
from tests.service.test_overlapped_append import fresh
store.OVERLAP_MIN_ROWS = 1
batches.CHUNK_ROWS = 64
svc = fresh(Path(sys.argv[1]), "ledger", Clock())
def die(self, events):
    os._exit(3)  # the process ends while its other thread appends the records
TransparencySink.encode = die
svc.records.ingest_file(Path(sys.argv[1]) / "feed.csv")
"""


def test_a_process_that_dies_while_the_records_are_appended_leaves_nothing(
        tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "feed.csv").write_text(FEED, encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    p = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], cwd=root,
                       capture_output=True, text=True, check=False)
    assert p.returncode == 3, p.stderr
    records, leaves, _ = stored(tmp_path / "ledger.db")
    assert records == 0 and leaves > 0  # the ledger's set-up is kept, no record
    con = sqlite3.connect(tmp_path / "ledger.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()
