"""Benchmark of the transparency log: append throughput and proof latency at scale.

Not a test: run it by hand and copy the table into BENCHMARKS.md.

    python benchmarks/transparency.py                      # 10M leaves, SQLite in a temp dir
    python benchmarks/transparency.py --leaves 1000000     # quicker
    python benchmarks/transparency.py --db postgresql://...  # on PostgreSQL (an empty schema)

Targets (issue 5): appends >= 50,000 leaves/s in batches on SQLite; inclusion and
consistency proofs <= 1 ms each at 10 million leaves.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine

from socialcredit.db import make_engine, resolve_db_url
from socialcredit.transparency import merkle
from socialcredit.transparency.checkpoint import create_key
from socialcredit.transparency.events import event_leaf, log_events
from socialcredit.transparency.schema import METADATA, create_tables
from socialcredit.transparency.store import TransparencyLog
from socialcredit.transparency.verify import verify_log

# A realistic leaf (~260 bytes): a list entry whose commitment varies per leaf.
_TEMPLATE = event_leaf(
    "list.entry",
    {
        "program": "rongcheng",
        "list": "dishonest_judgment_defaulters",
        "commitment": "0" * 64,
        "start": "2026-03-11T00:00:00Z",
        "end": "2028-03-11T00:00:00Z",
        "reasons": ["court.shandong:2026-0317-000123"],
    },
)
_PREFIX, _SUFFIX = _TEMPLATE.split(b"0" * 64)


def leaves(start: int, count: int) -> list[bytes]:
    """Distinct event leaves (the commitment is the leaf number, hex-padded)."""
    return [_PREFIX + b"%064x" % i + _SUFFIX for i in range(start, start + count)]


def timed_append(engine: Engine, log: TransparencyLog, data: list[bytes]) -> float:
    t = time.perf_counter()
    with engine.begin() as conn:
        log.append(conn, data)
    return time.perf_counter() - t


def percentiles(samples: list[float]) -> tuple[float, float, float, float]:
    """mean, p50, p99, max in microseconds."""
    s = sorted(samples)
    return (
        statistics.fmean(s) * 1e6,
        s[len(s) // 2] * 1e6,
        s[min(len(s) - 1, int(len(s) * 0.99))] * 1e6,
        s[-1] * 1e6,
    )


def proof_latency(
    conn: Connection, log: TransparencyLog, n: int, count: int, rng: random.Random
) -> tuple[list[float], list[float]]:
    root = log.root(n, conn=conn)
    inc: list[float] = []
    for _ in range(count):
        i = rng.randrange(n)
        t = time.perf_counter()
        proof = log.inclusion_proof(i, n, conn=conn)
        inc.append(time.perf_counter() - t)
        if len(inc) <= 50:  # spot-check correctness outside the timing
            assert merkle.verify_inclusion(i, n, log.leaf_hash(i, conn=conn), proof, root)
    con: list[float] = []
    for _ in range(count):
        m = rng.randint(1, n - 1)
        t = time.perf_counter()
        proof = log.consistency_proof(m, n, conn=conn)
        con.append(time.perf_counter() - t)
        if len(con) <= 50:
            r1 = log.root(m, conn=conn)
            assert merkle.verify_consistency(m, n, r1, root, proof)
    return inc, con


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--leaves", type=int, default=10_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--proofs", type=int, default=2_000)
    ap.add_argument("--db", help="database URL or SQLite path (default: a temp SQLite file)")
    ap.add_argument("--keep", action="store_true", help="keep the temp SQLite file")
    ap.add_argument("--no-verify", action="store_true", help="skip the full `log verify` pass")
    args = ap.parse_args()

    tmp = None
    if args.db:
        url = resolve_db_url(args.db)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="tlog-bench-"))
        url = f"sqlite:///{tmp / 'bench.db'}"
    engine = make_engine(url)
    METADATA.drop_all(engine)
    create_tables(engine)
    log = TransparencyLog(engine)
    rng = random.Random(2026)
    rows: list[tuple[str, str]] = []

    print(f"# transparency log benchmark on {engine.dialect.name}: {url}", flush=True)

    # 1. append throughput by batch size, on a small log
    n = 0
    for batch in (1_000, 10_000, 100_000):
        reps = max(1, 300_000 // batch // 3)
        total = 0.0
        for _ in range(reps):
            total += timed_append(engine, log, leaves(n, batch))
            n += batch
        rate = batch * reps / total
        rows.append((f"append, batches of {batch:,} (1 transaction each)", f"{rate:,.0f} leaves/s"))
        print(f"  {rows[-1][0]}: {rows[-1][1]}", flush=True)

    # 2. the ledger's pattern: a few events + a signed checkpoint per transaction
    with engine.begin() as conn:
        create_key(conn, "bench.example/log")
    event = ("decisions.batch", {"program": "rongcheng", "count": 100, "digest": "ab" * 32})
    calls = 500
    t = time.perf_counter()
    for _ in range(calls):
        with engine.begin() as conn:
            log_events(conn, [event] * 3)
    dt = time.perf_counter() - t
    n += 3 * calls
    rows.append(
        ("log_events: 3 events + signed checkpoint per transaction", f"{calls / dt:,.0f} tx/s")
    )
    print(f"  {rows[-1][0]}: {rows[-1][1]}", flush=True)

    # 3. build to the target size in big batches, with progress
    target = args.leaves
    t0 = time.perf_counter()
    built0 = n
    while n < target:
        b = min(args.batch, target - n)
        timed_append(engine, log, leaves(n, b))
        n += b
        if (n // args.batch) % 10 == 0 or n == target:
            el = time.perf_counter() - t0
            print(
                f"  built {n:>12,} leaves  {el:7.1f} s  {(n - built0) / el:,.0f} leaves/s",
                flush=True,
            )
    build_s = time.perf_counter() - t0
    if n > built0:
        rows.append(
            (
                f"build to {n:,} leaves, batches of {args.batch:,}",
                f"{(n - built0) / build_s:,.0f} leaves/s ({build_s:,.0f} s)",
            )
        )

    # 4. proof latency at full size, one held connection (as a server would)
    with engine.connect() as conn:
        inc, con = proof_latency(conn, log, n, args.proofs, rng)
        t = time.perf_counter()
        for _ in range(200):
            log.root(n, conn=conn)
        root_us = (time.perf_counter() - t) / 200 * 1e6
    for name, samples in (("inclusion proof", inc), ("consistency proof", con)):
        mean, p50, p99, mx = percentiles(samples)
        rows.append(
            (
                f"{name} at {n:,} leaves ({len(samples):,} random)",
                f"mean {mean:,.0f} µs, p50 {p50:,.0f} µs, p99 {p99:,.0f} µs, max {mx:,.0f} µs",
            )
        )
    rows.append((f"root at {n:,} leaves", f"{root_us:,.0f} µs"))

    # 5. a full verification pass (every leaf, subtree and checkpoint recomputed)
    if not args.no_verify:
        print("  verifying the whole log ...", flush=True)
        t = time.perf_counter()
        report = verify_log(engine)
        dt = time.perf_counter() - t
        assert report.ok, report.problems[:3]
        rows.append(
            (
                f"log verify at {n:,} leaves ({report.subtrees_checked:,} subtrees)",
                f"{dt:,.0f} s ({n / dt:,.0f} leaves/s)",
            )
        )

    size_note = ""
    if tmp is not None:
        size_mb = sum(f.stat().st_size for f in tmp.iterdir()) / 1e6
        size_note = f"; SQLite file {size_mb:,.0f} MB"
    print()
    print(
        f"machine: {os.cpu_count()} cores (nproc), {platform.machine()}, "
        f"Python {platform.python_version()}, {engine.dialect.name} "
        f"{engine.dialect.server_version_info}{size_note}; "
        f"{datetime.now(UTC).strftime('%Y-%m-%d')}"
    )
    print()
    print("| measure | result |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    engine.dispose()
    if tmp is not None and not args.keep:
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
