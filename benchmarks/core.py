"""Core benchmark (issue 2): CSV ingest into SQLite, and one standing of a busy subject;
and (issue 14) what durable commits cost: the same ingest, and a run of one-record
ingests (one commit each), under SQLite's synchronous=FULL (the ledger's default) and
NORMAL.

Targets on a 2-core machine: ingest ≥ 50,000 records/s; one standing of a subject with
1,000 records in ≤ 5 ms. Prints a table with figures and the ratio to each target.

    python benchmarks/core.py [--records 500000] [--repeat 50] [--commits 300]
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
    ap.add_argument("--commits", type=int, default=300,
                    help="one-record ingests timed under each synchronous level")
    args = ap.parse_args()
    rb = load_named("rongcheng")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        csv_path = d / "records.csv"
        subjects = max(1000, args.records // 5)
        stats = synthesize_to_file([rb], csv_path, subjects=subjects, months=36, seed=1,
                                   per_subject=args.records / subjects)
        size_mb = csv_path.stat().st_size / 1e6
        durability: dict[str, tuple[float, float]] = {}
        for level in ("normal", "full"):  # full last: the ledger below is the default one
            svc = Service.create(rb, f"{d / f'bench-{level}.db'}?synchronous={level}")
            for p, role in providers_for([rb]):
                svc.providers.add(p, role)
            t0 = time.perf_counter()
            rep = svc.records.ingest_file(csv_path)
            ingest_s = time.perf_counter() - t0
            rate = rep.accepted / ingest_s
            t0 = time.perf_counter()
            for i in range(args.commits):
                svc.records.ingest_rows([{
                    "record_id": f"one-{i}", "provider": "bank-01", "subject": f"ONE-{i}",
                    "subject_kind": "person", "type": "finance.bank_arrears",
                    "occurred_at": "2026-01-01", "evidence": f"urn:ev:one-{i}"}])
            durability[level] = (rate, args.commits / (time.perf_counter() - t0))
            if level == "normal":
                svc.close()

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
    print()
    (full_rate, full_tx), (normal_rate, normal_tx) = durability["full"], durability["normal"]
    print(f"{'durability (SQLite, WAL)':<44}{'FULL':>16}{'NORMAL':>14}{'FULL/NORMAL':>13}")
    print(f"{'CSV ingest, one transaction':<44}{full_rate:>12,.0f} r/s{normal_rate:>10,.0f} r/s"
          f"{full_rate / normal_rate:>12.2f}x")
    print(f"{f'one-record ingests ({args.commits} commits)':<44}{full_tx:>12,.0f} c/s"
          f"{normal_tx:>10,.0f} c/s{full_tx / normal_tx:>12.2f}x")


if __name__ == "__main__":
    main()
