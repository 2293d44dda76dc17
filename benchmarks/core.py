"""Core benchmark: CSV ingest into SQLite, and one standing of a busy subject; what
durable commits cost (the same ingest, and a run of one-record ingests, one commit each,
under SQLite's synchronous=FULL, the ledger's default, and NORMAL); and ingest of two
feeds — synth's and a list-heavy one — into SQLite and PostgreSQL, against a baseline
checkout in the same run.

Targets on a 2-core machine: ingest ≥ 100,000 records/s on any feed; one standing of a
subject with 1,000 records in ≤ 5 ms. Prints tables with figures and the ratio to each
target (and to the baseline).

    python benchmarks/core.py [--records 500000] [--repeat 50] [--commits 300]
    python benchmarks/core.py --feeds-only --feed-records 3000000 \
        [--baseline /path/to/other/checkout/src] [--pg postgresql://…]
    python benchmarks/core.py --submissions 30 [--baseline …] [--profile out.prof]

`--submissions N` times the server's part of issue 11's record submission without HTTP:
N batches of 1,000 court findings about new persons (as benchmarks/api.py posts them),
each through `Service.submissions.submit` with an idempotency key, as the court's
principal, into a ledger of 20,000 subjects whose standings are materialized — so every
record makes a listing, its leaf, a salt, a notice and a refreshed standing. It prints
CPU and wall microseconds a record (this tree, then the baseline, alternated); the HTTP
benchmark's server CPU a record minus this figure is what the HTTP layer costs.

The list-heavy feed mirrors a court's or a market regulator's: 15 % court findings that
put their subject on a blacklist (judgment-defaulters), 25 % per-unit civic rewards
(rongcheng), 2 % resolutions and 0.5 % voids of the findings, the rest rongcheng's
conduct records, one subject per ten records, every subject new to the ledger. Each
feed ingest runs in a fresh process (wall and CPU seconds of the ingest call alone); on
a machine shared with other jobs the CPU figure is the steadier one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from socialcredit.lab.synth import providers_for, synthesize_to_file
from socialcredit.rulebook.shipped import load_named
from socialcredit.service import Service
from socialcredit.timeutil import US_PER_DAY, format_instant, parse_instant

INGEST_TARGET = 100_000.0  # records/s
STANDING_TARGET_MS = 5.0


def pct(xs: list[float], q: float) -> float:
    """The q-quantile of `xs` (nearest rank): the benchmarks' percentiles."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * q))]


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


# -- the feeds -------------------------------------------------------------------------------

OTHER_TYPES = [("finance.bank_arrears", "bank-01"), ("traffic.ticket", "police-01"),
               ("utility.late_fees", "utility-01"), ("contract.non_performance", "court-01"),
               ("court.breach_judgment", "court-01"),
               ("commerce.fake_goods", "market_regulator-01")]
GROUNDS = ("able_but_refuses", "obstructs_enforcement", "refuses_settlement")
FEED_PROGRAMS = ("rongcheng", "judgment-defaulters")


def list_heavy_csv(path: Path, records: int, seed: int = 7, end: str = "2026-11-01") -> int:
    """The list-heavy feed (see the module's docstring), written with Arrow; returns its
    number of rows."""
    rng = np.random.default_rng(seed)
    n_subj = max(100, records // 10)
    end_us = parse_instant(end)
    start_us = end_us - 3 * 365 * US_PER_DAY
    n_res, n_void = records // 50, records // 200
    n = records - n_res - n_void
    u = rng.random(n)
    subj = rng.integers(0, n_subj, n)
    occ = rng.integers(start_us, end_us - 60 * US_PER_DAY, n)
    serial = np.arange(n).astype(str)
    court = u < 0.15 * records / n
    civic = ~court & (u < 0.40 * records / n)
    pick = rng.integers(0, len(OTHER_TYPES), n)
    typ = np.array([t for t, _ in OTHER_TYPES], dtype=object)[pick]
    prov = np.array([p for _, p in OTHER_TYPES], dtype=object)[pick]
    typ[court], prov[court] = "court.refuses_to_perform", "court-01"
    typ[civic], prov[civic] = "civic.volunteer_hours", "civil_affairs-01"
    value = np.full(n, "", dtype=object)
    value[court] = np.array(GROUNDS, dtype=object)[rng.integers(0, len(GROUNDS),
                                                               int(court.sum()))]
    value[civic] = rng.integers(1, 9, int(civic.sum())).astype(str).astype(object)
    rid = np.char.add(np.char.add(prov.astype(str), ":f"), serial).astype(object)
    cols = {"record_id": [rid], "provider": [prov], "subject": [subj], "type": [typ],
            "occ": [occ], "value": [value],
            "evidence": [np.char.add("urn:ev:", serial).astype(object)],
            "ref": [np.full(n, "", dtype=object)]}
    # resolutions and voids of court findings: same subject, later
    found = rng.choice(np.flatnonzero(court), n_res + n_void, replace=False)
    for src, t, p, days in ((found[:n_res], "court.judgment_performed", "court-01", 40),
                            (found[n_res:], "review.void", "reviewer-01", 20)):
        m = len(src)
        xid = np.char.add(f"{p}:x{t[:3]}", np.arange(m).astype(str))
        for k, v in (("record_id", xid.astype(object)), ("provider", np.full(m, p, object)),
                     ("subject", subj[src]), ("type", np.full(m, t, object)),
                     ("occ", np.minimum(occ[src] + days * US_PER_DAY, end_us)),
                     ("value", np.full(m, "", object)),
                     ("evidence", np.char.add("urn:ev:", xid).astype(object)),
                     ("ref", rid[src])):
            cols[k].append(v)
    data = {k: np.concatenate(v) for k, v in cols.items()}
    order = rng.permutation(len(data["record_id"]))
    names = np.char.add("P", np.char.zfill(data["subject"].astype(str), 9))
    iso = np.char.add((data["occ"] // 1_000_000).astype("datetime64[s]").astype(str), "Z")
    m = len(order)
    pacsv.write_csv(pa.table({
        "record_id": pa.array(data["record_id"][order], pa.string()),
        "provider": pa.array(data["provider"][order], pa.string()),
        "subject": pa.array(names[order].astype(object), pa.string()),
        "subject_kind": pa.array(np.full(m, "person", dtype=object), pa.string()),
        "type": pa.array(data["type"][order], pa.string()),
        "occurred_at": pa.array(iso[order].astype(object), pa.string()),
        "value": pa.array(data["value"][order], pa.string()),
        "evidence": pa.array(data["evidence"][order], pa.string()),
        "ref": pa.array(data["ref"][order], pa.string())}), path)
    return m


def synth_csv(path: Path, records: int) -> int:
    subjects = max(1000, records // 5)
    return synthesize_to_file([load_named("rongcheng")], path, subjects=subjects, months=36,
                              seed=1, per_subject=records / subjects).records


def ingest_child(csv_path: str, db: str, programs: list[str]) -> dict[str, Any]:
    """One feed into a new ledger (in this process): wall and CPU seconds of the ingest."""
    rbs = [load_named(p) for p in programs]
    svc = Service.create(rbs[0], db)
    for rb in rbs[1:]:
        svc.programs.publish(rb)
    for p, role in providers_for(rbs):
        svc.providers.add(p, role)
    c0, t0 = time.process_time(), time.perf_counter()
    rep = svc.records.ingest_file(csv_path)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    svc.close()
    return {"accepted": rep.accepted, "rejected": rep.rejected, "wall": wall, "cpu": cpu,
            "new_subjects": rep.new_subjects}


def run_ingest(src: Path | None, csv_path: Path, db: str, programs: tuple[str, ...]
               ) -> dict[str, Any]:
    """ingest_child in a fresh process, on this tree's code or on `src` (a baseline)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    p = subprocess.run([sys.executable, __file__, "--_ingest", str(csv_path), db,
                        ",".join(programs)], capture_output=True, text=True, env=env,
                       check=False)
    if p.returncode != 0:
        return {"error": (p.stderr or p.stdout).strip().splitlines()[-1:]}
    out: dict[str, Any] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


def fresh_pg(url: str) -> str:
    """A new, empty database on the server at `url` (dropped by the caller)."""
    import psycopg

    name = f"scbench_{os.getpid()}_{time.monotonic_ns()}"
    base = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return base.rsplit("/", 1)[0] + "/" + name


def drop_pg(url: str, db: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {db.rsplit('/', 1)[1]} WITH (FORCE)")


def feeds(records: int, baseline: Path | None, pg: str | None) -> None:
    """Both feeds into SQLite (and PostgreSQL), this tree and the baseline, one table."""
    rows: list[tuple[str, str, str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        made = {"synth": (synth_csv, ("rongcheng",)),
                "list-heavy": (list_heavy_csv, FEED_PROGRAMS)}
        for feed, (make, programs) in made.items():
            csv_path = d / f"{feed}.csv"
            n = make(csv_path, records)
            print(f"{feed}: {n:,} rows, {csv_path.stat().st_size / 1e6:.0f} MB", flush=True)
            trees: list[tuple[str, Path | None]] = [("this tree", None)]
            if baseline is not None:
                trees.append(("baseline", baseline))
            for label, src in trees:
                dbs = [("SQLite", f"{d / f'{feed}-{len(rows)}.db'}")]
                if pg:
                    dbs.append(("PostgreSQL", ""))
                for store, db in dbs:
                    url = fresh_pg(pg) if pg and store == "PostgreSQL" else db
                    try:
                        res = run_ingest(src, csv_path, url, programs)
                    finally:
                        if store == "PostgreSQL" and pg:
                            drop_pg(pg, url)
                    rows.append((feed, label, store, res))
                    print(f"  {label:<10} {store:<11} " + (
                        f"ERROR {res['error']}" if "error" in res else
                        f"{res['accepted']:,} accepted in {res['wall']:.1f} s wall "
                        f"({res['accepted'] / res['wall']:,.0f} r/s), {res['cpu']:.1f} s CPU "
                        f"({res['accepted'] / res['cpu']:,.0f} r/CPU-s)"), flush=True)
    print()
    print(f"| feed | code | database | records/s (wall) | records/s (CPU) | "
          f"vs {INGEST_TARGET:,.0f} target | vs baseline |")
    print("|---|---|---|---:|---:|---:|---:|")
    for feed, label, store, res in rows:
        if "error" in res:
            continue
        rate, cpu_rate = res["accepted"] / res["wall"], res["accepted"] / res["cpu"]
        base = next((r for f, lb, st, r in rows if f == feed and st == store
                     and lb == "baseline" and "error" not in r), None)
        vs = (f"{rate / (base['accepted'] / base['wall']):.2f}x"
              if base is not None and label != "baseline" else "–")
        print(f"| {feed} | {label} | {store} | {rate:,.0f} | {cpu_rate:,.0f} | "
              f"{rate / INGEST_TARGET:.2f}x | {vs} |")


SUBMIT_SIZE = 1000


def submission_rows(b: int) -> list[dict[str, Any]]:
    """Batch `b` as benchmarks/api.py submits it: court findings about new persons."""
    return [{"record_id": f"court-01:s{b}-{i}", "provider": "court-01",
             "subject": f"N{b:05d}{i:05d}", "subject_kind": "person",
             "type": "court.refuses_to_perform", "occurred_at": "2025-09-01",
             "value": "able_but_refuses", "evidence": f"urn:s:{b}:{i}"}
            for i in range(SUBMIT_SIZE)]


def submit_ledger(db: str, subjects: int = 20_000) -> None:
    """A judgment-defaulters ledger as benchmarks/api.py builds it (smaller), standings
    materialized, with the court's provider principal `court-api`."""
    with Service.create(load_named("judgment-defaulters"), db) as svc:
        svc.providers.add("court-01", "court")
        svc.records.ingest_rows(
            [{"record_id": f"court-01:r{i}", "provider": "court-01", "subject": f"P{i:08d}",
              "subject_kind": "person", "type": "court.refuses_to_perform",
              "occurred_at": "2025-06-01", "value": "able_but_refuses",
              "evidence": f"urn:case:{i}"} for i in range(subjects)])
        svc.population.score_all()
        svc.principals.add("court-api", "provider", provider="court-01")


def submit_child(db: str, batches: int, profile: str | None) -> dict[str, Any]:
    """`batches` submissions (after one to warm up) into the ledger at `db`: CPU and wall
    seconds of the submit calls alone (the JSON decoding of each body excluded, as the
    API does it before the service is called)."""
    import cProfile
    import json as js

    base = Service.open(db)
    svc = base.acting_as("court-api")
    bodies = [js.dumps(submission_rows(b)) for b in range(batches + 1)]
    prof = cProfile.Profile() if profile else None
    cpu = wall = 0.0
    accepted = 0
    for b, body in enumerate(bodies):
        numbered = list(enumerate(js.loads(body), 1))
        c0, t0 = time.process_time(), time.perf_counter()
        if prof is not None and b:
            prof.enable()
        out = svc.submissions.submit(numbered, key=f"bench-{b}")
        if prof is not None:
            prof.disable()
        if b:  # the first batch warms caches up
            cpu += time.process_time() - c0
            wall += time.perf_counter() - t0
            accepted += int(out["accepted"])
    if prof is not None and profile:
        prof.dump_stats(profile)
    base.close()
    return {"accepted": accepted, "cpu": cpu, "wall": wall}


def submissions(batches: int, baseline: Path | None, profile: str | None,
                pairs: int = 2) -> None:
    """Alternated runs, this tree and the baseline, each on a fresh copy of one ledger."""
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = d / "base.db"
        submit_ledger(str(src))
        trees: list[tuple[str, Path | None]] = [("this tree", None)]
        if baseline is not None:
            trees.append(("baseline", baseline))
        for k in range(pairs):
            for label, tree in trees:
                db = d / f"run-{k}-{len(label)}.db"
                for suffix in ("", "-wal", "-shm", ".keys"):
                    s_, t_ = Path(f"{src}{suffix}"), Path(f"{db}{suffix}")
                    if s_.is_dir():
                        shutil.copytree(s_, t_)
                    elif s_.exists():
                        shutil.copy(s_, t_)
                env = dict(os.environ)
                if tree is not None:
                    env["PYTHONPATH"] = str(tree)
                argv = [sys.executable, __file__, "--_submit", str(db), str(batches),
                        profile if profile and tree is None and k == 0 else ""]
                p = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
                if p.returncode != 0:
                    print(f"  {label}: ERROR {(p.stderr or p.stdout).strip()[-300:]}")
                    continue
                res = json.loads(p.stdout.strip().splitlines()[-1])
                n = max(res["accepted"], 1)
                print(f"  {label:<10} {res['accepted']:,} records: "
                      f"{1e6 * res['cpu'] / n:.1f} µs CPU, {1e6 * res['wall'] / n:.1f} µs wall "
                      f"a record ({n / res['cpu']:,.0f} records/CPU-s); load average "
                      f"{os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=500_000, help="approximate ingest size")
    ap.add_argument("--repeat", type=int, default=50, help="standing repetitions")
    ap.add_argument("--commits", type=int, default=300,
                    help="one-record ingests timed under each synchronous level")
    ap.add_argument("--feed-records", type=int, default=300_000,
                    help="size of each feed (the held-out ledger: 3000000)")
    ap.add_argument("--baseline", type=Path, default=None,
                    help="a checkout's src directory to run the feeds on as well")
    ap.add_argument("--pg", default=os.environ.get("SOCIALCREDIT_TEST_PG"),
                    help="a PostgreSQL server URL: the feeds go there too")
    ap.add_argument("--feeds-only", action="store_true", help="only the feeds table")
    ap.add_argument("--submissions", type=int, default=0, metavar="N",
                    help="only the in-process submission figure: N batches of 1,000")
    ap.add_argument("--profile", default=None,
                    help="with --submissions: cProfile this tree's first run into a file")
    ap.add_argument("--_ingest", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--_submit", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._submit:
        db, n, prof = args._submit
        print(json.dumps(submit_child(db, int(n), prof or None)))
        return
    if args._ingest:
        csv_path, db, programs = args._ingest
        print(json.dumps(ingest_child(csv_path, db, programs.split(","))))
        return
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}; "
          f"date: {time.strftime('%Y-%m-%d')}; load average {os.getloadavg()[0]:.1f}")
    if args.submissions:
        submissions(args.submissions, args.baseline, args.profile)
        return
    feeds(args.feed_records, args.baseline, args.pg)
    if args.feeds_only:
        return
    print()
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
