"""The ledger's columns read into Arrow (ADBC) are the rows the DB-API reads, exactly:
types, nulls (SQLite's ADBC driver infers types from the first rows, so nullable
columns go through a typed default and a null flag), every partition range, and a
snapshot that sees every committed ingest (the SQLite reader is a child process)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from socialcredit.ledger.arrow import ArrowReader, available
from socialcredit.scoring.partitions import fetch_partition, read_partition, subject_ranges
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.scoring.test_materialized import PROVIDERS, RB, seed_csv


def _same(a: pa.Table, b: pa.Table, key: str) -> None:
    assert a.schema == b.schema
    assert a.sort_by(key).to_pylist() == b.sort_by(key).to_pylist()


def test_arrow_partitions_equal_dbapi_rows(make_ledger: Callable[..., Service],
                                           clock: Any) -> None:
    svc = make_ledger(RB, PROVIDERS)
    assert available(svc.ledger.engine.dialect.name)
    svc.records.ingest_text(seed_csv())
    # a first read, then an ingest: a later reader must see it (one snapshot per reader)
    k = parse_instant("2026-03-01T00:00:00Z")
    rb = svc.ledger.version_in_force("city", k, k).rulebook
    with ArrowReader(svc.ledger.engine) as reader:
        assert read_partition(reader, rb, k, None, None)[0].num_rows == 40
    clock.set("2026-02-03T00:00:00Z")
    svc.records.ingest_text("record_id,provider,subject,subject_kind,type,occurred_at,"
                            "value,evidence,ref\n"
                            "bank-1:n1,bank-1,newbie,organization,fact.months,2026-01-20,"
                            "7.5,d,\n"
                            "bank-1:n3,bank-1,p02,,finance.paid,2026-01-31,,,bank-1:2\n"
                            "rev-1:1,rev-1,p03,,review.void,2026-02-02,,d,bank-1:3\n")
    with svc.ledger.engine.connect() as conn:
        ranges = subject_ranges(conn, 3)
        expected = [fetch_partition(conn, rb, k, lo, hi) for lo, hi in ranges]
    assert len(ranges) == 3
    for scan, split in ((True, None), (False, None), (True, "sc_records")):
        # split: on SQLite two reader processes, each scanning half of the seq range
        with ArrowReader(svc.ledger.engine, split=split) as reader:
            got = [read_partition(reader, rb, k, lo, hi, scan=scan) for lo, hi in ranges]
        for (r1, s1), (r2, s2) in zip(expected, got, strict=True):
            _same(r1, r2, "record_id")
            _same(s1, s2, "subject")
    records = pa.concat_tables([r for r, _ in got])
    assert records.num_rows == 43
    assert records.column("ref").null_count == 41
    assert records.column("value_num").drop_null().to_pylist().count(7.5) == 1
