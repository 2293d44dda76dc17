"""A live standing of a subject with 1,000 records, computed cold (the process's kept copy
of the subject's records dropped before each read): `benchmarks/decisions.py`'s part 2
alone, on a ledger built once and kept, for iterating on that path. Each read is timed in
wall and in this thread's CPU time, and the low percentiles are printed too: on a loaded
machine they move least. For before-figures of other code, run it with that code first
on the path (`PYTHONPATH=<checkout>/src`), interleaved with this one's runs.

    python benchmarks/cold_standing.py [--reads 300] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core import busy_subject_csv, pct

from socialcredit.lab.synth import providers_for, synthesize_to_file
from socialcredit.principals import Principal
from socialcredit.rulebook.shipped import load_named
from socialcredit.service import Service

TARGET_MS = 2.0


def build(path: Path) -> None:
    """The ledger of benchmarks/decisions.py: 20,000 synthetic subjects, then BUSY."""
    rb = load_named("rongcheng")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        synthesize_to_file([rb], d / "records.csv", subjects=20_000, months=36, seed=1,
                           per_subject=4.0)
        svc = Service.create(rb, f"sqlite:///{d / 'ledger.db'}")
        for p, role in providers_for([rb]):
            svc.providers.add(p, role)
        svc.records.ingest_file(d / "records.csv")
        busy_subject_csv(d / "busy.csv", 1000)
        svc.records.ingest_file(d / "busy.csv")
        svc.population.score_all()
        svc.close()
        shutil.copy(d / "ledger.db", path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reads", type=int, default=300)
    ap.add_argument("--keep", help="a directory to keep the built ledger in (reused)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kept = Path(args.keep) / "cold_standing.db" if args.keep else Path(tmp) / "built.db"
        if not kept.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            build(kept)
        db = Path(tmp) / "ledger.db"
        shutil.copy(kept, db)
        svc = Service.open(f"sqlite:///{db}")
        me = svc.acting_as(Principal("BUSY", "subject", subject="BUSY"))
        cache = svc.ctx.cache
        assert cache is not None
        for _ in range(20):  # warm: the program cache, the pool, the cache's connection
            cache.drop_records()
            st = me.standings.of("BUSY")
        gc.collect()
        gc.freeze()  # as decisions.py does: the ledger's objects stay put
        wall: list[float] = []
        cpu: list[float] = []
        pc, tt = time.perf_counter, time.thread_time
        for _ in range(args.reads):
            cache.drop_records()
            c0, t0 = tt(), pc()
            me.standings.of("BUSY")
            t1, c1 = pc(), tt()
            wall.append((t1 - t0) * 1000)
            cpu.append((c1 - c0) * 1000)
        svc.close()
    print(f"live standing, 1,000 records, cold ({args.reads} reads, "
          f"{len(st.contributions)} contributions)")
    print(f"  wall: p10 {pct(wall, 0.1):.3f}  p50 {pct(wall, 0.5):.3f} ms "
          f"(target {TARGET_MS} ms: {TARGET_MS / pct(wall, 0.5):.2f}x)")
    print(f"  thread CPU: p10 {pct(cpu, 0.1):.3f}  p25 {pct(cpu, 0.25):.3f}  "
          f"p50 {pct(cpu, 0.5):.3f} ms")


if __name__ == "__main__":
    main()
