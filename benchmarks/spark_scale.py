"""How the Spark engine scales with cores and partitions (prints a table; not a test).

The same Spark job that `score --all --engine spark` and `spark-submit` run
(`score_with_spark`: read the export, score, write standings as Parquet), measured

* with local[1] and local[2] (one JVM per core count, each started once and warmed up
  on a small ledger first, so JIT compilation is not in the figures);
* with spark.sql.shuffle.partitions = 2, 8 and 32 (adaptive coalescing of shuffle
  partitions is turned off, so the count is the one asked for);
* on two ledger sizes, so that the fixed cost of a job (planning, scheduling, the
  ~20 stages of small tasks, writing) separates from the per-record cost: the marginal
  rate Δrecords / Δseconds between the two sizes is what adding records costs, and
  per core it is what a cluster is sized by.

Ledgers come from `benchmarks/batch.py`'s generator (the same 50-type benchmark rulebook,
~13 records a subject), cached in --work.

Usage::

    python benchmarks/spark_scale.py --sizes 2e6,1e7 --work /tmp/scbench
    python benchmarks/spark_scale.py --sizes 2e6,1e7 --partitions 2,8,32 --cores 1,2
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
T_AT = "2026-11-01T00:00:00Z"
WARMUP = 200_000

#: The national ledger of docs/scale.md's central scenario: 1.6e9 subjects, 24 records
#: per subject per year, five years in force (an assumption, stated there).
NATIONAL_RECORDS = 1.6e9 * 24 * 5


def _batch_module() -> Any:
    """benchmarks/batch.py (not a package): its ledger generator is reused as is."""
    spec = importlib.util.spec_from_file_location("sc_bench_batch", HERE / "batch.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def jvm_cpu_seconds(spark: Any) -> float:
    """CPU time (user + system, all threads: tasks, JIT, GC) the Spark JVM has used.
    Unlike wall time it does not grow when other jobs share the machine, so core-seconds
    per record are measured even on a busy host."""
    pid = spark.sparkContext._gateway.proc.pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child(cores: int, roots: list[tuple[str, int]], partitions: list[int],
          warm: str, repeat: int) -> list[dict[str, Any]]:
    """One JVM with local[cores]: warm up, then every (size, partitions) `repeat` times,
    keeping the fastest (the machine is shared: the minimum is the least disturbed)."""
    from socialcredit.scoring.spark import make_session, score_with_spark
    from socialcredit.timeutil import parse_instant

    t = parse_instant(T_AT)
    s0 = time.perf_counter()
    spark = make_session(f"local[{cores}]", app=f"sc-scale-{cores}",
                         shuffle_partitions=partitions[0])
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.adaptive.coalescePartitions.enabled", "false")
    session = time.perf_counter() - s0
    out = Path(tempfile.mkdtemp(prefix="sc-spark-out-"))
    w0 = time.perf_counter()
    score_with_spark(spark, warm, out / "warm", None, t, t)
    warmup = time.perf_counter() - w0
    rows: list[dict[str, Any]] = []
    for root, n in roots:
        for p in partitions:
            spark.conf.set("spark.sql.shuffle.partitions", str(p))
            dest = out / f"{n}-{p}"
            times, cpus = [], []
            for _ in range(repeat):
                shutil.rmtree(dest, ignore_errors=True)
                c0 = jvm_cpu_seconds(spark)
                t0 = time.perf_counter()
                scored = score_with_spark(spark, root, dest, None, t, t)
                times.append(time.perf_counter() - t0)
                cpus.append(jvm_cpu_seconds(spark) - c0)
            sec = min(times)
            checksum = spark.read.parquet(str(dest)).agg({"score": "sum"}).collect()[0][0]
            rows.append({"cores": cores, "records": n, "partitions": p, "seconds": sec,
                         "subjects": scored, "checksum": float(checksum),
                         "session_seconds": session, "warmup_seconds": warmup,
                         "all_seconds": times, "cpu_seconds": min(cpus),
                         "all_cpu_seconds": cpus, "load": load()})
            shutil.rmtree(dest, ignore_errors=True)
    spark.stop()
    shutil.rmtree(out, ignore_errors=True)
    return rows


def run_child(cores: int, roots: list[tuple[str, int]], partitions: list[int],
              warm: str, repeat: int) -> list[dict[str, Any]]:
    args = [sys.executable, __file__, "--_child", json.dumps(
        {"cores": cores, "roots": roots, "partitions": partitions, "warm": warm,
         "repeat": repeat})]
    p = subprocess.run(args, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"local[{cores}] failed:\n{p.stderr[-3000:]}")
    rows: list[dict[str, Any]] = json.loads(p.stdout.strip().splitlines()[-1])
    return rows


def load() -> str:
    """The load average when a run starts: this machine is shared with other jobs."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · "
            f"nproc {os.cpu_count()} · RAM {mem:.0f} GiB · Python "
            f"{platform.python_version()} · {platform.platform(terse=True)}")


def summarize(rows: list[dict[str, Any]], sizes: list[int]) -> dict[str, Any]:
    """Marginal rates (Δrecords / Δseconds between the two sizes) per (cores, partitions),
    the best per core count, and the speed-up from one core to two."""
    lo, hi = min(sizes), max(sizes)
    by = {(r["cores"], r["records"], r["partitions"]): r["seconds"] for r in rows}
    cpu = {(r["cores"], r["records"], r["partitions"]): r.get("cpu_seconds", float("nan"))
           for r in rows}
    marginal: dict[tuple[int, int], dict[str, float]] = {}
    for (c, n, p) in by:
        if n != hi or (c, lo, p) not in by:
            continue
        dt = by[(c, hi, p)] - by[(c, lo, p)]
        rate = (hi - lo) / dt if dt > 0 else float("nan")
        fixed = by[(c, lo, p)] - lo / rate if dt > 0 else float("nan")
        dc = cpu[(c, hi, p)] - cpu[(c, lo, p)]
        marginal[(c, p)] = {"rate": rate, "per_core": rate / c, "fixed": fixed,
                            "per_cpu_second": (hi - lo) / dc if dc > 0 else float("nan")}
    best: dict[int, dict[str, float]] = {}
    for (c, p), m in marginal.items():
        if c not in best or m["rate"] > best[c]["rate"]:
            best[c] = {**m, "partitions": float(p)}
    return {"marginal": {f"{c}x{p}": m for (c, p), m in sorted(marginal.items())},
            "best": {str(c): m for c, m in sorted(best.items())}}


def report(rows: list[dict[str, Any]]) -> int:
    """The tables and the extrapolation, from the measured rows."""
    ns = sorted({int(r["records"]) for r in rows})
    summary = summarize(rows, ns)
    by = {(r["cores"], r["records"], r["partitions"]): r["seconds"] for r in rows}
    print(f"\nwhole job (seconds) at {max(ns):,} records; speed-up local[1] -> local[2]")
    print("| shuffle partitions | local[1] | local[2] | speed-up |")
    print("|---:|---:|---:|---:|")
    for p in sorted({int(r["partitions"]) for r in rows}):
        one, two = by.get((1, max(ns), p)), by.get((2, max(ns), p))
        if one and two:
            print(f"| {p} | {one:.1f} s | {two:.1f} s | {one / two:.2f}x |")
    print(f"\nmarginal rate between {min(ns):,} and {max(ns):,} records "
          "(Δrecords/Δseconds; fixed = the job's cost at zero records)")
    print("| cores | shuffle partitions | marginal rate (wall) | per core (wall) | "
          "per JVM CPU-second | fixed cost (wall) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for key, m in summary["marginal"].items():
        c, p = key.split("x")
        print(f"| {c} | {p} | {m['rate'] / 1e6:.2f} M rec/s | {m['per_core'] / 1e6:.2f} M "
              f"rec/s | {m['per_cpu_second'] / 1e6:.2f} M rec | {m['fixed']:.1f} s |")
    best = summary["best"]
    if "1" in best and "2" in best:
        print(f"\nspeed-up local[1] -> local[2] in marginal rate (best partition count "
              f"each): {best['2']['rate'] / best['1']['rate']:.2f}x "
              f"(parallel efficiency {best['2']['rate'] / best['1']['rate'] / 2:.0%})")
    for what, key in (("wall-clock per core", "per_core"),
                      ("per JVM CPU-second", "per_cpu_second")):
        rates = [m[key] for m in summary["marginal"].values() if m[key] > 0]
        if not rates:
            print(f"no positive marginal rate ({what}): use sizes further apart")
            continue
        per_core = max(rates)
        print(f"\nbest measured marginal rate, {what}: {per_core / 1e6:.2f} M records/s")
        for label, n in (("10^9 records", 1e9), (f"national ledger, {NATIONAL_RECORDS:.2g} "
                                                 "records", NATIONAL_RECORDS)):
            for minutes in (60, 15):
                cores = n / per_core / (minutes * 60)
                print(f"  {label} in {minutes} min: {cores:,.0f} cores at that rate "
                      f"(before shuffle over a network; see docs/scale.md)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2e6,1e7", help="two record counts (the marginal "
                    "rate is taken between the smallest and the largest)")
    ap.add_argument("--cores", default="1,2")
    ap.add_argument("--partitions", default="2,8,32", help="spark.sql.shuffle.partitions")
    ap.add_argument("--repeat", type=int, default=2, help="runs per cell; the fastest counts")
    ap.add_argument("--work", default=None, help="directory for the generated ledgers")
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    ap.add_argument("--report", default=None, help="print the tables of an earlier --json")
    ap.add_argument("--_child")
    a = ap.parse_args()
    if a.report:
        return report(json.loads(Path(a.report).read_text())["rows"])
    if a._child:
        spec = json.loads(a._child)
        print(json.dumps(child(spec["cores"], [tuple(x) for x in spec["roots"]],
                               spec["partitions"], spec["warm"], spec["repeat"])))
        return 0
    batch = _batch_module()
    work = Path(a.work or tempfile.mkdtemp(prefix="scbench-"))
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(float(x)) for x in a.sizes.split(",")]
    partitions = [int(x) for x in a.partitions.split(",")]
    print(machine())
    roots: list[tuple[str, int]] = []
    for size in sizes:
        g0 = time.perf_counter()
        root, n = batch.make_ledger(size, work)
        roots.append((str(root), n))
        print(f"{n:,} records ({root}), ready in {time.perf_counter() - g0:.0f}s", flush=True)
    warm, _ = batch.make_ledger(WARMUP, work)
    rows: list[dict[str, Any]] = []
    for cores in (int(x) for x in a.cores.split(",")):
        print(f"\nlocal[{cores}] (load average before: {load()})", flush=True)
        got = run_child(cores, roots, partitions, str(warm), a.repeat)
        print(f"  session start {got[0]['session_seconds']:.1f}s, warm-up job "
              f"{got[0]['warmup_seconds']:.1f}s")
        for r in got:
            print(f"  {r['records']:>12,} records  {r['partitions']:>3} partitions  "
                  f"{r['seconds']:7.2f}s  {r['records'] / r['seconds']:>11,.0f} rec/s  "
                  f"(runs: {', '.join(f'{x:.1f}' for x in r['all_seconds'])}; JVM CPU "
                  f"{r['cpu_seconds']:.1f}s; load {r['load'].split()[0]})  "
                  f"checksum {r['checksum']:.3f}", flush=True)
        rows.extend(got)
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=2))
    return report(rows)


if __name__ == "__main__":
    raise SystemExit(main())
