"""A bulk append (PostgreSQL: COPY into a temporary table, then INSERT … SELECT; SQLite:
executemany) stores exactly the rows it is given, in their order, and counts what the
optimistic path skipped — on both databases, above the size from which COPY is used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from socialcredit.errors import LedgerError
from socialcredit.ledger.store import COPY_MIN_ROWS
from socialcredit.service import Service
from socialcredit.timeutil import format_instant
from tests.helpers import BASE, day

HEADER = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"


def feed(path: Path, start: int, n: int) -> Path:
    lines = [f"bank-1:r{i},bank-1,s{i % 97},person,{'hours' if i % 3 else 'arrears'},"
             f"{format_instant(day(-1 - i % 300))},{i % 7 if i % 3 else ''},"
             f"{'urn:ev:é' if i % 5 == 0 else 'ev'},\n" for i in range(start, start + n)]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")
    return path


def test_a_bulk_append_stores_every_row_in_order_and_verifies(
        make_ledger: Callable[..., Service], tmp_path: Path) -> None:
    svc = make_ledger(BASE, {"bank-1": "bank"})
    n = COPY_MIN_ROWS + 500
    rep = svc.records.ingest_file(feed(tmp_path / "a.csv", 0, n))
    assert (rep.accepted, rep.duplicates) == (n, 0)
    # overlapping ids: the optimistic append skips them, the precise one counts them
    rep = svc.records.ingest_file(feed(tmp_path / "b.csv", n - 100, n))
    assert (rep.accepted, rep.duplicates) == (n - 100, 100)
    with svc.ledger.engine.connect() as conn:
        ids = [r[0] for r in conn.exec_driver_sql(
            "SELECT record_id FROM sc_records ORDER BY seq").fetchall()]
        value = conn.exec_driver_sql("SELECT value_num, evidence FROM sc_records WHERE "
                                     "record_id = 'bank-1:r5'").one()
    assert ids == [f"bank-1:r{i}" for i in range(2 * n - 100)]
    assert tuple(value) == (5.0, "urn:ev:é")
    report = svc.log.verify_ledger()
    assert report.ok, report.problems
    assert report.records == 2 * n - 100


def test_a_bulk_append_skipping_conflicts_counts_what_it_stored(
        make_ledger: Callable[..., Service], tmp_path: Path) -> None:
    svc = make_ledger(BASE, {"bank-1": "bank"})
    svc.records.ingest_file(feed(tmp_path / "a.csv", 0, 300))
    ledger = svc.ledger
    cols = ", ".join(ledger.RECORD_COLUMNS)
    with ledger.engine.begin() as conn:
        stored = [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT {cols} FROM sc_records ORDER BY seq").fetchall()]
        fresh = [(f"bank-1:new{i}", *stored[i % 300][1:]) for i in range(COPY_MIN_ROWS)]
        rows = [*stored[:50], *fresh, *stored[50:100]]
        assert ledger.insert_records(conn, rows, skip_conflicts=True) == COPY_MIN_ROWS
        tail = [r[0] for r in conn.exec_driver_sql(
            "SELECT record_id FROM sc_records ORDER BY seq").fetchall()][300:]
        assert tail == [r[0] for r in fresh]
        conn.rollback()


def test_new_subjects_are_stored_as_given_with_their_kind_and_first_time(
        make_ledger: Callable[..., Service]) -> None:
    """The subjects' bulk insert (driver-level) stores each tuple as given, on every
    backend, and refuses a subject already stored (its primary key): nothing of that
    write is kept."""
    svc = make_ledger(BASE, {"bank-1": "bank"})
    rows = [(f"s{i}", "person" if i % 2 else "organization", 1_000_000 + i)
            for i in range(2_500)] + [("名字-é", "person", 2**62)]
    ledger = svc.ledger
    with ledger.write() as conn:
        ledger.insert_subjects(conn, iter(rows))
    with ledger.engine.connect() as conn:
        got = sorted(tuple(r) for r in conn.exec_driver_sql(
            "SELECT subject, kind, first_recorded_at FROM sc_subjects"))
    assert got == sorted(rows)
    with pytest.raises(LedgerError), ledger.write() as conn:
        ledger.insert_subjects(conn, [("s-new", "person", 1), ("s7", "person", 5)])
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sc_subjects").scalar() == len(rows)
