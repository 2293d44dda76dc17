"""What hash partitioning by subject costs on PostgreSQL (prints a table; not a test).

The same synthetic rongcheng feed goes into two PostgreSQL ledgers, one unpartitioned
and one with `init --partitions N` (ledger/partitioning.py), each in a fresh schema of
the same server, and the script times on each

* CSV ingest (one file, one transaction: the key-table trigger runs once per record);
* `score --all` into sc_standings (the batch engine reading the ledger), after ANALYZE;
* live standings of random subjects (one subject's records: one partition's index);
* logged decisions from the materialized table, one transaction each.

Usage::

    python benchmarks/pg_partitions.py [--records 200000] [--partitions 8] [--pg URL]

Without --pg (or $SOCIALCREDIT_TEST_PG) it starts a throwaway server the way
benchmarks/batch.py does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgserver import throwaway_pg
from sqlalchemy import create_engine, text

from socialcredit.db import resolve_db_url
from socialcredit.lab.synth import providers_for, synthesize_to_file
from socialcredit.rulebook.shipped import load_named
from socialcredit.service import Service


def table_bytes(conn: Any, table: str) -> int:
    """A table's heap, TOAST and indexes, its partitions' and key table's included."""
    sql = ("SELECT coalesce(pg_total_relation_size(to_regclass(:t)), 0) + coalesce(("
           "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
           "WHERE inhparent = to_regclass(:t)), 0) + "
           "coalesce(pg_total_relation_size(to_regclass(:k)), 0)")
    return int(conn.execute(text(sql), {"t": table, "k": f"{table}_keys"}).scalar())


def measure(base: str, csv_path: Path, partitions: int, reads: int, decisions: int
            ) -> dict[str, float]:
    rb = load_named("rongcheng")
    schema = "bench_" + uuid.uuid4().hex[:10]
    admin = create_engine(resolve_db_url(base))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    url = f"{base}{sep}options=-csearch_path%3D{schema}"
    try:
        svc = Service.create(rb, url, partitions=partitions)
        for p, role in providers_for([rb]):
            svc.providers.add(p, role)
        t0 = time.perf_counter()
        rep = svc.records.ingest_file(csv_path)
        ingest = time.perf_counter() - t0
        # fresh statistics for both layouts: right after a bulk load the planner's
        # choices depend on whether autovacuum has analyzed the new rows yet (an
        # unpartitioned ledger's score --all was measured at 3 s and at 33 s so)
        with svc.ledger.engine.connect() as conn:
            conn.exec_driver_sql("COMMIT")
            conn.exec_driver_sql("ANALYZE")
        t0 = time.perf_counter()
        run = svc.population.score_all()
        score = time.perf_counter() - t0
        subjects = [s for s, _ in svc.ledger.all_subjects()]
        rnd = random.Random(7)
        sample = [rnd.choice(subjects) for _ in range(reads)]
        svc.standings.of(sample[0])  # warm: program cache, pool
        times = []
        for s in sample:
            t1 = time.perf_counter()
            svc.standings.of(s)
            times.append(time.perf_counter() - t1)
        dec = []
        for s in sample[:decisions]:
            t1 = time.perf_counter()
            svc.decisions.decide(s, "rental.bike", materialized=True)
            dec.append(time.perf_counter() - t1)
        with svc.ledger.engine.connect() as conn:
            rec_bytes = table_bytes(conn, "sc_records")
            dec_bytes = table_bytes(conn, "sc_decisions")
            std_bytes = table_bytes(conn, "sc_standings")
        svc.close()
        return {"records": rep.accepted,
                "record_bytes": rec_bytes / rep.accepted, "decision_bytes": dec_bytes / len(dec),
                "standing_bytes": std_bytes / run.subjects, "ingest_rate": rep.accepted / ingest,
                "ingest_s": ingest, "score_s": score, "subjects": run.subjects,
                "standing_ms": statistics.median(times) * 1000,
                "decision_ms": statistics.median(dec) * 1000,
                "decision_p99_ms": sorted(dec)[int(len(dec) * 0.99) - 1] * 1000}
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--reads", type=int, default=500)
    ap.add_argument("--decisions", type=int, default=300)
    ap.add_argument("--pg", default=os.environ.get("SOCIALCREDIT_TEST_PG"))
    a = ap.parse_args()
    servers = contextlib.ExitStack()
    base = a.pg
    if base is None:
        base = servers.enter_context(throwaway_pg("-F", "-c shared_buffers=1GB"))
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · nproc "
          f"{os.cpu_count()} · RAM {mem:.0f} GiB · load {os.getloadavg()[0]:.2f}")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "records.csv"
            subjects = max(1000, a.records // 5)
            synthesize_to_file([load_named("rongcheng")], csv_path, subjects=subjects,
                               months=36, seed=1, per_subject=a.records / subjects)
            rows = {n: measure(base, csv_path, n, a.reads, a.decisions)
                    for n in (1, a.partitions)}
    finally:
        servers.close()
    one, many = rows[1], rows[a.partitions]
    print(f"\n{one['records']:,} records, {one['subjects']:,} subjects, PostgreSQL\n")
    print(f"{'measure':<40}{'unpartitioned':>16}{f'{a.partitions} partitions':>16}"
          f"{'ratio':>8}")
    for label, key, unit, fmt in (
            ("CSV ingest", "ingest_rate", "r/s", ",.0f"),
            ("score --all into sc_standings", "score_s", "s", ".2f"),
            ("live standing (median)", "standing_ms", "ms", ".2f"),
            ("decision, materialized (median)", "decision_ms", "ms", ".2f"),
            ("decision, materialized (p99)", "decision_p99_ms", "ms", ".2f"),
            ("bytes per record (table + indexes)", "record_bytes", "B", ",.0f"),
            ("bytes per logged decision", "decision_bytes", "B", ",.0f"),
            ("bytes per materialized standing", "standing_bytes", "B", ",.0f")):
        print(f"{label:<40}{format(one[key], fmt):>12} {unit:<3}"
              f"{format(many[key], fmt):>12} {unit:<3}{many[key] / one[key]:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
