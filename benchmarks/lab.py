"""Benchmark of the policy lab (issue 13): N subjects × M months with feedback.

Runs one `lab run` worth of simulation — the scenario's society, every month scored by
the batch engine (incrementally), decisions, feedback, metrics, Fairlearn disparities —
in this process, and prints wall time, peak RSS (resource.getrusage), months/s and the
ratios against the targets (≤ 5 minutes, ≤ 8 GB for 1,000,000 × 120) in one run.

    python benchmarks/lab.py                       # 1,000,000 subjects × 120 months
    python benchmarks/lab.py --population 100000 --months 24 --rulebook judgment-defaulters
    python benchmarks/lab.py --profile prof.out    # cProfile the run as well
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime

TARGET_SECONDS = 300.0
TARGET_BYTES = 8 * 1024**3


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kb = int(fh.readline().split()[1])
        return f"{kb / 1024**2:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--population", type=int, default=1_000_000)
    ap.add_argument("--months", type=int, default=120)
    ap.add_argument("--rulebook", default="rongcheng")
    ap.add_argument("--scenario", default="poverty-feedback")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tolerance", type=float, default=1.0)
    ap.add_argument("--profile", default=None, help="write cProfile stats here")
    args = ap.parse_args(argv)

    from socialcredit.lab.api import build_data, study_banner
    from socialcredit.lab.scenario import load_scenario
    from socialcredit.lab.simulate import LabOptions, Simulation
    from socialcredit.lab.society import make_society
    from socialcredit.rulebook.shipped import load_named

    rb = load_named(args.rulebook)
    banner = study_banner(rb, True)
    sc = load_scenario(args.scenario).with_overrides(
        population=args.population, months=args.months, seed=args.seed)
    if not sc.has_feedback():
        print(f"note: scenario {sc.scenario} has no feedback", file=sys.stderr)
    options = LabOptions(tolerance=args.tolerance)
    load = os.getloadavg()
    t0 = time.perf_counter()
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    society = make_society(sc, sc.population, sc.seed)
    sim = Simulation(rb, sc, society, sc.seed, options)
    t_sim = time.perf_counter()
    trace = sim.run(sc.months)
    t_metrics = time.perf_counter()
    data = build_data(rb, sc, trace, banner, options)
    t1 = time.perf_counter()
    if prof is not None:
        prof.disable()
        prof.dump_stats(args.profile)
    wall = t1 - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    months_per_s = sc.months / wall
    rescored = trace.monthly["rescored"]
    full_target = args.population == 1_000_000 and args.months == 120
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores ({_cpu()}), RAM {_ram()}, "
          f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; load average before "
          f"the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"run: {rb.rulebook} on {sc.scenario}, {sc.population:,} subjects × {sc.months} "
          f"months, seed {sc.seed}, feedback {'on' if sc.has_feedback() else 'off'}, "
          f"score tolerance {args.tolerance}")
    print()
    print(f"{'measure':44} {'figure':>14} {'target':>12} {'ratio':>8}")
    print(f"{'wall time (society + months + report data)':44} {wall:>12.1f} s "
          f"{TARGET_SECONDS:>10.0f} s {TARGET_SECONDS / wall:>7.2f}x")
    print(f"{'peak RSS':44} {peak / 1024**3:>12.2f} GB "
          f"{TARGET_BYTES / 1024**3:>9.0f} GB {TARGET_BYTES / peak:>7.2f}x")
    print(f"{'months/s':44} {months_per_s:>14.2f}")
    print(f"  society {t_sim - t0:.1f} s · monthly loop {t_metrics - t_sim:.1f} s "
          f"({(t_metrics - t_sim) / sc.months:.2f} s/month) · metrics, fairness, findings "
          f"{t1 - t_metrics:.1f} s")
    print(f"  rescored per month: mean {sum(rescored) / len(rescored):,.0f} "
          f"({sum(rescored) / len(rescored) / sc.population:.1%} of subjects), max "
          f"{max(rescored):,}; records in the store at the end "
          f"{trace.monthly['records_in_store'][-1]:,}; pruned "
          f"{trace.counters.get('records_pruned', 0):,}")
    print(f"  listed at the end {data['summary']['listed']['final_share']:.2%}; requests denied "
          + ", ".join(f"{a} {d['denied']:,}" for a, d in data["summary"]["decisions"].items()
                      if d["denied"]))
    if full_target:
        ok = wall <= TARGET_SECONDS and peak <= TARGET_BYTES
        print("(ratio > 1 means the target is met) targets " + ("MET" if ok else "MISSED"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
