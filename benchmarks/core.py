"""Core benchmark (issue 2): CSV ingest into SQLite, and one standing of a busy subject.

Targets on a 2-core machine: ingest ≥ 50,000 records/s; one standing of a subject with
1,000 records in ≤ 5 ms. Prints a table with figures and the ratio to each target.

    python benchmarks/core.py [--records 500000] [--repeat 50]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from socialcredit.lab.synth import providers_for, synthesize_to_file
from socialcredit.rulebook.shipped import load_named
from socialcredit.service import Service
from socialcredit.timeutil import format_instant, parse_instant

INGEST_TARGET = 50_000.0  # records/s
STANDING_TARGET_MS = 5.0


def busy_subject_csv(path: Path, n: int) -> None:
    """One person with n records of rongcheng types over five years."""
    types = [("finance.bank_arrears", "bank-01"), ("traffic.ticket", "police-01"),
             ("civic.volunteer_hours", "civil_affairs-01"), ("utility.late_fees", "utility-01"),
             ("contract.non_performance", "court-01")]
    start = parse_instant("2021-11-01")
    step = (parse_instant("2026-11-01") - start) // n
    with path.open("w") as fh:
        fh.write("record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n")
        for i in range(n):
            t, p = types[i % len(types)]
            value = "3" if t == "civic.volunteer_hours" else ""
            fh.write(f"{p}:busy-{i},{p},BUSY,{'person' if i == 0 else ''},{t},"
                     f"{format_instant(start + i * step)},{value},urn:ev:{i},\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=500_000, help="approximate ingest size")
    ap.add_argument("--repeat", type=int, default=50, help="standing repetitions")
    args = ap.parse_args()
    rb = load_named("rongcheng")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        csv_path = d / "records.csv"
        subjects = max(1000, args.records // 5)
        stats = synthesize_to_file([rb], csv_path, subjects=subjects, months=36, seed=1,
                                   per_subject=args.records / subjects)
        svc = Service.create(rb, str(d / "bench.db"))
        for p, role in providers_for([rb]):
            svc.providers.add(p, role)
        size_mb = csv_path.stat().st_size / 1e6
        t0 = time.perf_counter()
        rep = svc.records.ingest_file(csv_path)
        ingest_s = time.perf_counter() - t0
        rate = rep.accepted / ingest_s

        busy = d / "busy.csv"
        busy_subject_csv(busy, 1000)
        svc.records.ingest_file(busy)
        svc.standings.of("BUSY")  # warm: program cache, connection pool
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            st = svc.standings.of("BUSY")
            times.append((time.perf_counter() - t0) * 1000)
        assert len(svc.ledger.records_of("BUSY")) == 1000
        svc.close()

    med = statistics.median(times)
    p95 = sorted(times)[int(len(times) * 0.95) - 1]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"date: {time.strftime('%Y-%m-%d')}")
    print()
    print(f"{'measure':<44}{'figure':>16}{'target':>14}{'ratio':>10}")
    print(f"{'CSV ingest into SQLite (' + f'{rep.accepted:,} records, {size_mb:.0f} MB)':<44}"
          f"{rate:>12,.0f} r/s{INGEST_TARGET:>10,.0f} r/s{rate / INGEST_TARGET:>9.2f}x")
    print(f"{'standing, subject with 1,000 records (median)':<44}{med:>13.2f} ms"
          f"{STANDING_TARGET_MS:>11.1f} ms{STANDING_TARGET_MS / med:>9.2f}x")
    print(f"{'standing, same (p95)':<44}{p95:>13.2f} ms{STANDING_TARGET_MS:>11.1f} ms"
          f"{STANDING_TARGET_MS / p95:>9.2f}x")
    print(f"(ratio > 1 means the target is met; {stats.subjects:,} subjects; "
          f"{len(st.contributions)} contributions counted for the busy subject)")


if __name__ == "__main__":
    main()
