"""`score --all` from the ledger database against the same run from its Parquet export.

Target: the database run takes at most 1.5× the Parquet run (whole process both times,
as an operator runs them). The database run reads the ledger's columns into Arrow with
ADBC (ledger/arrow.py); `--baseline SRC` runs the database side on another checkout's
code as well (e.g. one that reads rows through the DB-API), in the same run.

    python benchmarks/score_db.py --db /path/to/ledger.db [--program rongcheng] \\
        [--baseline /path/to/other/checkout/src] [--repeat 3]
    python benchmarks/score_db.py --records 1000000     # builds a list-heavy ledger first
    python benchmarks/score_db.py --records 300000 --table --baseline <main>/src

`--table` also times `score --all` into sc_standings (the default run, which since
issue 11 writes rows exact at any later time: exactness terms computed by the batch
engine) against the baseline's, on the same ledger, in the same minutes.

Each run is a fresh `socialcredit score --all … --out FILE` process; wall seconds and the
child's CPU seconds are printed (on a machine shared with other jobs CPU is steadier).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.5


def run(args: list[str], src: Path | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one CLI process."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "socialcredit", *args], env=env,
                       capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: {p.stderr.strip()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def best(args: list[str], repeat: int, src: Path | None = None) -> tuple[float, float]:
    runs = [run(args, src) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


def build(records: int, work: Path) -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from core import FEED_PROGRAMS, ingest_child, list_heavy_csv

    csv = work / "feed.csv"
    list_heavy_csv(csv, records)
    db = str(work / "ledger.db")
    print(ingest_child(str(csv), db, list(FEED_PROGRAMS)), flush=True)
    return db


def into_table(db: str, common: list[str], repeat: int, baseline: Path | None) -> None:
    """score --all into sc_standings, this code and the baseline's alternately (so both
    see the same load), best of `repeat` each."""
    args = [*common, "--db", db]
    mine: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for _ in range(repeat):
        mine.append(run(args))
        if baseline is not None:
            theirs.append(run(args, baseline))
    print()
    print("| score --all into sc_standings | wall s | CPU s | wall ÷ baseline | "
          "CPU ÷ baseline |")
    print("|---|---:|---:|---:|---:|")
    w, c = min(r[0] for r in mine), min(r[1] for r in mine)
    if theirs:
        bw, bc = min(r[0] for r in theirs), min(r[1] for r in theirs)
        print(f"| baseline | {bw:.2f} | {bc:.2f} | 1.00× | 1.00× |")
        print(f"| this code (rows exact: terms) | {w:.2f} | {c:.2f} | {w / bw:.2f}× | "
              f"{c / bc:.2f}× |")
    else:
        print(f"| this code (rows exact: terms) | {w:.2f} | {c:.2f} | – | – |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="the ledger (a SQLite file or a database URL)")
    ap.add_argument("--records", type=int, default=300_000,
                    help="without --db: build a list-heavy ledger of this size")
    ap.add_argument("--program", default="rongcheng")
    ap.add_argument("--baseline", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--table", action="store_true",
                    help="also time score --all into sc_standings, against --baseline")
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sc-scoredb-"))
    try:
        db = a.db or build(a.records, work)
        export = work / "export"
        subprocess.run([sys.executable, "-m", "socialcredit", "export", str(export),
                        "--db", db], check=True, capture_output=True)
        common = ["score", "--all", "--program", a.program, "--quiet"]
        rows: list[tuple[str, float, float]] = []
        wall, cpu = best([*common, "--from", str(export), "--out", str(work / "p.parquet")],
                         a.repeat)
        rows.append(("from Parquet (export)", wall, cpu))
        wall, cpu = best([*common, "--db", db, "--no-table", "--out",
                          str(work / "d.parquet")], a.repeat)
        rows.append(("from the database (ADBC)", wall, cpu))
        if a.baseline is not None:
            wall, cpu = best([*common, "--db", db, "--no-table", "--out",
                              str(work / "b.parquet")], a.repeat, a.baseline)
            rows.append(("from the database (baseline)", wall, cpu))
        base_wall, base_cpu = rows[0][1], rows[0][2]
        print(f"ledger: {db}; load average {os.getloadavg()[0]:.1f}")
        print(f"| score --all ({a.program}) | wall s | CPU s | wall ÷ Parquet | CPU ÷ Parquet |"
              f" target ≤ {TARGET}× |")
        print("|---|---:|---:|---:|---:|---|")
        for i, (label, wall, cpu) in enumerate(rows):
            verdict = "–" if i == 0 else "met" if wall / base_wall <= TARGET else "missed"
            print(f"| {label} | {wall:.2f} | {cpu:.2f} | {wall / base_wall:.2f}× | "
                  f"{cpu / base_cpu:.2f}× | {verdict} |")
        if a.table:
            into_table(db, common, a.repeat, a.baseline)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
