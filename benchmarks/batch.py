"""Benchmark of population-scale scoring (issue 3): prints a table, not a timed test.

For each size it synthesises a ledger with the benchmark rulebook (50 record types:
decay, expiry, max_count, dimension caps), writes it in the export layout (Parquet,
bucketed by subject hash), then measures, each in a fresh subprocess so peak memory is
the run's own (ru_maxrss of the child):

* engine      the batch engine, end to end from Parquet (score_parquet), and the same
              with the partitions already in memory (compute only);
* floor       one NumPy weighted bincount over the same records' pre-decayed points;
* floor_e2e   the least work any engine must do end to end: read the needed Parquet
              columns (subject, type, occurred_at), dictionary-encode subjects, decay,
              one bincount — timed whole; the engine's target is ≤ 1.5× this;
* duckdb      hand-written DuckDB SQL computing the same scores, same threads (2);
* postgresql  hand-written PostgreSQL SQL, same scores (only at sizes ≤ --pg-max);
* spark       the Spark engine in local[2] mode (only at sizes ≤ --spark-max).

Usage::

    python benchmarks/batch.py --sizes 1e6,1e7 [--work /tmp/scbench] [--pg URL]
    python benchmarks/batch.py --sizes 1e8 --only engine,floor --memory-limit 4GB
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pgserver import throwaway_pg

ROOT = Path(__file__).resolve().parent.parent
T_AT = "2026-11-01T00:00:00Z"
THREADS = 2

# -- data ------------------------------------------------------------------------------------


def make_ledger(n: int, work: Path) -> tuple[Path, int]:
    """Synthesise ~n records (synth's per_subject=10 gives ~13 rows a subject) into the
    export layout; cached by size."""
    from socialcredit.lab.synth import benchmark_rulebook, synthesize_batches
    from socialcredit.lab.synth_parquet import rows_to_ledger, write_parquet_ledger

    root = work / f"ledger-{n}"
    manifest = root / "manifest.json"
    if manifest.exists():
        return root, int(json.loads(manifest.read_text())["counts"]["records"])
    if root.exists():
        shutil.rmtree(root)
    rb = benchmark_rulebook(n_types=50)
    subjects = max(1000, round(n / 12.95))
    buckets = max(4, -(-n // 2_000_000))

    def batches() -> Any:
        for b in synthesize_batches(rb, subjects=subjects, months=24, seed=11,
                                    per_subject=10.0, batch_subjects=100_000):
            yield rows_to_ledger(rb, b)

    m = write_parquet_ledger(root, batches(), [rb], buckets=buckets)
    return root, int(m["counts"]["records"])


# -- measured runs (each in its own process) ------------------------------------------------


def run_child(mode: str, root: Path, extra: dict[str, Any]) -> dict[str, Any]:
    args = [sys.executable, __file__, "--_child", mode, "--_root", str(root),
            "--_extra", json.dumps(extra)]
    p = subprocess.run(args, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:]}
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not
    inherited from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, root: Path, extra: dict[str, Any]) -> dict[str, Any]:
    from socialcredit.timeutil import parse_instant

    t = parse_instant(T_AT)
    if mode == "engine":
        from socialcredit.scoring.partitions import score_parquet

        t0 = time.perf_counter()
        n = checksum = 0.0
        for res in score_parquet(root, None, t, t, memory_limit=extra.get("memory_limit")):
            n += res.num_rows
            checksum += float(sum(res.column("score").to_numpy()))
        return {"seconds": time.perf_counter() - t0, "subjects": n, "checksum": checksum,
                "peak_mb": _peak_mb()}
    if mode == "engine_mem":
        from socialcredit.ledger.parquet import read_program_versions
        from socialcredit.scoring.batch import compile_rulebook, score_partition
        from socialcredit.scoring.partitions import parquet_partitions, rows_for_memory

        rb = read_program_versions(root)[0].rulebook
        parts = list(parquet_partitions(root, rb, t, rows_per_partition=rows_for_memory(
            extra.get("memory_limit"))))
        comp = compile_rulebook(rb)
        t0 = time.perf_counter()
        n = 0
        for recs, subs in parts:
            n += score_partition(rb, recs, subs, t, t, compiled=comp).num_rows
        return {"seconds": time.perf_counter() - t0, "subjects": n, "peak_mb": _peak_mb()}
    if mode == "floor":
        return floor(root, t)
    if mode == "floor_e2e":
        t0 = time.perf_counter()
        out = floor(root, t)
        out["seconds"] = time.perf_counter() - t0
        return out
    if mode == "duckdb":
        return duckdb_run(root, t)
    if mode == "postgresql":
        return pg_run(root, t, extra["url"])
    if mode == "spark":
        return spark_run(root, t)
    raise SystemExit(f"unknown mode {mode}")


def floor(root: Path, t: int) -> dict[str, Any]:
    """One weighted bincount over pre-decayed points (the points are computed untimed):
    the least work any engine must do per record."""
    import numpy as np
    import pyarrow.dataset as ds

    from socialcredit.ledger.parquet import read_program_versions
    from socialcredit.timeutil import US_PER_DAY

    rb = read_program_versions(root)[0].rulebook
    data = ds.dataset(root / "records", format="parquet", partitioning="hive")
    codes, weights = [], []
    offset = 0
    rules = {r.record: r for r in rb.rules}
    for batch in data.to_batches(columns=["subject", "type", "occurred_at"],
                                 batch_size=4_000_000):
        enc = batch.column(0).dictionary_encode()
        codes.append(enc.indices.to_numpy().astype(np.int64) + offset)
        offset += len(enc.dictionary)
        types = batch.column(1).dictionary_encode()
        pts = np.array([rules[x].points or 0.0 for x in types.dictionary.to_pylist()])
        hl = np.array([rules[x].half_life or 1e18 for x in types.dictionary.to_pylist()])
        ti = types.indices.to_numpy()
        age = (t - batch.column(2).to_numpy()) / US_PER_DAY
        weights.append(pts[ti] * np.exp2(-age / hl[ti]))
    c = np.concatenate(codes)
    w = np.concatenate(weights)
    del codes, weights
    t0 = time.perf_counter()
    out = np.bincount(c, weights=w, minlength=offset)
    sec = time.perf_counter() - t0
    return {"seconds": sec, "subjects": len(out), "peak_mb": _peak_mb()}


def score_sql(rb: Any, t: int, records: str, subjects: str, dialect: str) -> str:
    """The same scores, hand-written in SQL (window function for max_count)."""
    from socialcredit.timeutil import US_PER_DAY

    def num(v: float | None) -> str:
        return "NULL::double precision" if v is None and dialect == "pg" else (
            "NULL::DOUBLE" if v is None else repr(float(v)))

    dims = [d.id for d in rb.dimensions]
    rules = ", ".join(
        f"({i}, '{r.record}', {dims.index(r.dimension)}, {num(r.points or 0.0)}, "
        f"{'TRUE' if r.points_per_unit is not None else 'FALSE'}, "
        f"{num(r.points_per_unit or 0.0)}, {num(r.half_life)}, {num(r.expires)}, "
        f"{r.max_count if r.max_count is not None else 'NULL::INTEGER'}, "
        f"{num(r.resolved_points)})" for i, r in enumerate(rb.rules))
    kinds = ", ".join(f"'{k}'" for k in rb.subjects)
    anti = ("ANTI JOIN voids USING (subject, record_id)" if dialect == "duckdb" else
            "WHERE NOT EXISTS (SELECT 1 FROM voids v WHERE v.subject = mine.subject "
            "AND v.record_id = mine.record_id)")
    sums = ", ".join(f"sum(c) FILTER (WHERE dim = {j}) AS s{j}" for j in range(len(dims)))
    dim_exprs = []
    for j, d in enumerate(rb.dimensions):
        e = f"coalesce(s{j}, 0)"
        if d.min is not None:
            e = f"greatest({e}, {float(d.min)})"
        if d.max is not None:
            e = f"least({e}, {float(d.max)})"
        dim_exprs.append(e)
    score = f"{float(rb.scale.base)} + " + " + ".join(dim_exprs)
    if rb.scale.min is not None:
        score = f"greatest({score}, {float(rb.scale.min)})"
    if rb.scale.max is not None:
        score = f"least({score}, {float(rb.scale.max)})"
    tier = "CASE " + " ".join(f"WHEN score >= {float(x.min)} THEN '{x.id}'"
                              for x in rb.tiers) + " END"
    return f"""
WITH mine AS (
  SELECT r.record_id, r.subject, r.type, r.kind, r.occurred_at, r.value_num, r.ref
  FROM {records} r JOIN {subjects} s ON s.subject = r.subject
  WHERE r.recorded_at <= {t} AND s.kind IN ({kinds})),
voids AS (SELECT DISTINCT subject, ref AS record_id FROM mine
          WHERE kind = 'void' AND ref IS NOT NULL),
live AS (SELECT * FROM mine {anti}),
res AS (SELECT subject, ref AS record_id, min(occurred_at) AS res_occ FROM live
        WHERE kind = 'resolution' AND ref IS NOT NULL AND occurred_at <= {t}
        GROUP BY subject, ref),
rules(rule, type, dim, points, per_unit, ppu, hl, expires, max_count, rp) AS (
  VALUES {rules}),
c AS (SELECT l.subject, l.record_id, l.occurred_at, l.value_num, res.res_occ, ru.*,
             ({t} - l.occurred_at) / {float(US_PER_DAY)} AS age
      FROM live l JOIN rules ru ON ru.type = l.type
      LEFT JOIN res ON res.subject = l.subject AND res.record_id = l.record_id
      WHERE l.kind NOT IN ('void', 'resolution') AND l.occurred_at <= {t}),
e AS (SELECT * FROM c WHERE expires IS NULL OR age < expires),
ranked AS (SELECT *, row_number() OVER (PARTITION BY subject, rule
                                        ORDER BY occurred_at DESC, record_id DESC) AS rn
           FROM e),
contrib AS (
  SELECT subject, dim,
         (CASE WHEN res_occ IS NOT NULL AND rp IS NOT NULL THEN rp
               WHEN per_unit THEN ppu * coalesce(value_num, 0) ELSE points END)
         * (CASE WHEN hl IS NULL THEN 1.0 ELSE power(0.5, age / hl) END) AS c
  FROM ranked WHERE max_count IS NULL OR rn <= max_count),
sums AS (SELECT subject, {sums} FROM contrib GROUP BY subject),
scored AS (SELECT s.subject, {score} AS score FROM {subjects} s
           LEFT JOIN sums USING (subject))
SELECT subject, score, {tier} AS tier FROM scored"""


def duckdb_run(root: Path, t: int) -> dict[str, Any]:
    import duckdb

    from socialcredit.ledger.parquet import read_program_versions

    rb = read_program_versions(root)[0].rulebook
    con = duckdb.connect()
    con.execute(f"SET threads = {THREADS}")
    con.execute(f"SET temp_directory = '{root.parent / 'duck-tmp'}'")
    recs = f"read_parquet('{root}/records/*/*.parquet', hive_partitioning = true)"
    subs = f"read_parquet('{root}/subjects/*/*.parquet', hive_partitioning = true)"
    q = score_sql(rb, t, recs, subs, "duckdb")
    t0 = time.perf_counter()
    con.execute(f"CREATE TEMP TABLE out AS {q}")
    sec = time.perf_counter() - t0
    n, checksum = con.execute("SELECT count(*), sum(score) FROM out").fetchone()  # type: ignore[misc]
    return {"seconds": sec, "subjects": n, "checksum": checksum, "peak_mb": _peak_mb()}


def pg_load(root: Path, url: str) -> None:
    """Load the Parquet ledger into PostgreSQL (untimed), via DuckDB -> CSV -> COPY."""
    import duckdb
    import psycopg

    tmp = root.parent / "pg-load"
    tmp.mkdir(exist_ok=True)
    con = duckdb.connect()
    con.execute(f"COPY (SELECT record_id, subject, type, kind, occurred_at, recorded_at, "
                f"value_num, ref FROM read_parquet('{root}/records/*/*.parquet')) TO "
                f"'{tmp}/records.csv' (HEADER false)")
    con.execute(f"COPY (SELECT subject, kind FROM read_parquet('{root}/subjects/*/*.parquet'))"
                f" TO '{tmp}/subjects.csv' (HEADER false)")
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("DROP TABLE IF EXISTS bench_records, bench_subjects")
        pg.execute("CREATE UNLOGGED TABLE bench_records (record_id text, subject text, "
                   "type text, kind text, occurred_at bigint, recorded_at bigint, "
                   "value_num double precision, ref text)")
        pg.execute("CREATE UNLOGGED TABLE bench_subjects (subject text, kind text)")
        for table, f in (("bench_records", "records.csv"), ("bench_subjects", "subjects.csv")):
            with pg.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv)") as cp, \
                    open(tmp / f, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    cp.write(chunk)
        pg.execute("ANALYZE bench_records")
        pg.execute("ANALYZE bench_subjects")
    shutil.rmtree(tmp)


def pg_run(root: Path, t: int, url: str) -> dict[str, Any]:
    import psycopg

    from socialcredit.ledger.parquet import read_program_versions

    rb = read_program_versions(root)[0].rulebook
    pg_load(root, url)
    q = score_sql(rb, t, "bench_records", "bench_subjects", "pg")
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("SET work_mem = '512MB'")
        pg.execute(f"SET max_parallel_workers_per_gather = {THREADS}")
        pg.execute("DROP TABLE IF EXISTS bench_out")
        t0 = time.perf_counter()
        pg.execute(f"CREATE UNLOGGED TABLE bench_out AS {q}")
        sec = time.perf_counter() - t0
        row = pg.execute("SELECT count(*), sum(score) FROM bench_out").fetchone()
        assert row is not None
        pg.execute("DROP TABLE IF EXISTS bench_out, bench_records, bench_subjects")
    return {"seconds": sec, "subjects": row[0], "checksum": float(row[1]),
            "peak_mb": _peak_mb()}


def spark_run(root: Path, t: int) -> dict[str, Any]:
    from socialcredit.scoring.spark import make_session, score_with_spark

    t0 = time.perf_counter()
    spark = make_session(f"local[{THREADS}]", shuffle_partitions=8)
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter() - t0
    t1 = time.perf_counter()
    out = root.parent / "spark-out"
    n = score_with_spark(spark, root, out, None, t, t)
    sec = time.perf_counter() - t1
    checksum = spark.read.parquet(str(out)).agg({"score": "sum"}).collect()[0][0]
    spark.stop()
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": sec, "session_seconds": started, "subjects": n,
            "checksum": float(checksum), "peak_mb": _peak_mb()}


# -- the table ---------------------------------------------------------------------------------


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()} · "
            f"nproc {os.cpu_count()} · RAM {mem:.0f} GiB · Python "
            f"{platform.python_version()} · {platform.platform(terse=True)}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="1e6,1e7", help="record counts, e.g. 1e6,1e7,1e8")
    ap.add_argument("--work", default=None, help="directory for the generated ledgers")
    ap.add_argument("--only",
                    default="engine,engine_mem,floor,floor_e2e,duckdb,postgresql,spark")
    ap.add_argument("--memory-limit", default="3GB")
    ap.add_argument("--pg", default=os.environ.get("SOCIALCREDIT_TEST_PG"))
    ap.add_argument("--pg-max", type=float, default=1e7)
    ap.add_argument("--spark-max", type=float, default=1e7)
    ap.add_argument("--json", default=None, help="also write the results as JSON here")
    ap.add_argument("--_child")
    ap.add_argument("--_root")
    ap.add_argument("--_extra", default="{}")
    a = ap.parse_args()
    if a._child:
        c0 = time.process_time()
        out = child(a._child, Path(a._root), json.loads(a._extra))
        out["cpu_seconds"] = time.process_time() - c0
        print(json.dumps(out))
        return 0
    work = Path(a.work or tempfile.mkdtemp(prefix="scbench-"))
    work.mkdir(parents=True, exist_ok=True)
    only = set(a.only.split(","))
    pg_url = a.pg
    servers = contextlib.ExitStack()
    results: list[dict[str, Any]] = []
    print(machine())
    try:
        for size in (int(float(x)) for x in a.sizes.split(",")):
            g0 = time.perf_counter()
            root, n = make_ledger(size, work)
            print(f"\n{n:,} records ({root}), generated in {time.perf_counter() - g0:.0f}s",
                  flush=True)
            row: dict[str, Any] = {"records": n}
            for mode in ("engine", "engine_mem", "floor", "floor_e2e", "duckdb", "postgresql",
                         "spark"):
                if mode not in only:
                    continue
                if mode == "postgresql" and size > a.pg_max:
                    continue
                if mode == "spark" and size > a.spark_max:
                    continue
                extra: dict[str, Any] = {"memory_limit": a.memory_limit}
                if mode == "postgresql":
                    if pg_url is None:
                        pg_url = servers.enter_context(
                            throwaway_pg("-F", "-c shared_buffers=1GB"))
                    extra["url"] = pg_url.replace("postgresql+psycopg://", "postgresql://")
                r = run_child(mode, root, extra)
                row[mode] = r
                if "error" in r:
                    print(f"  {mode:<11} ERROR {r['error']}", flush=True)
                else:
                    print(f"  {mode:<11} {r['seconds']:8.2f}s  {n / r['seconds']:>13,.0f} "
                          f"rec/s  peak {r['peak_mb']:>7,.0f} MB  (process CPU "
                          f"{r['cpu_seconds']:.1f} s)"
                          + (f"  checksum {r['checksum']:.3f}" if "checksum" in r else ""),
                          flush=True)
            if "engine" in row and "floor_e2e" in row and "error" not in row["engine"] \
                    and "error" not in row["floor_e2e"]:
                ratio = row["engine"]["seconds"] / row["floor_e2e"]["seconds"]
                cpu = row["engine"]["cpu_seconds"] / row["floor_e2e"]["cpu_seconds"]
                print(f"  engine ÷ end-to-end floor: {ratio:.2f}× wall, {cpu:.2f}× CPU "
                      "(target ≤ 1.5×)", flush=True)
            results.append(row)
    finally:
        servers.close()
    print("\n| records | engine (Parquet→standings) | engine (in memory) | floor | DuckDB SQL "
          "| PostgreSQL SQL | Spark local[2] |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for row in results:
        cells = []
        for mode in ("engine", "engine_mem", "floor", "duckdb", "postgresql", "spark"):
            res = row.get(mode)
            cells.append("–" if res is None or "error" in res else
                         f"{res['seconds']:.2f} s · {row['records'] / res['seconds'] / 1e6:.1f}M/s"
                         f" · {res['peak_mb'] / 1024:.2f} GB")
        print(f"| {row['records']:,} | " + " | ".join(cells) + " |")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": machine(), "results": results},
                                           indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
