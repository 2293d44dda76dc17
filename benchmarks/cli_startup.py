"""CLI start-up: `socialcredit --version` and `--help` as whole processes.

Targets (wall, median): --version ≤ 150 ms, --help ≤ 300 ms on the project's 2-core
machine. Also times a bare `python -c pass` as the floor every command pays, and
`socialcredit standing --help` (a command's own help: still no ledger, no engines).

    python benchmarks/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

TARGETS = {"--version": 150.0, "--help": 300.0}


def wall_ms(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the file cache
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    exe = shutil.which("socialcredit") or str(
        __import__("pathlib").Path(sys.executable).with_name("socialcredit"))
    rows = [("python -c pass (floor)", [sys.executable, "-c", "pass"], None),
            ("socialcredit --version", [exe, "--version"], TARGETS["--version"]),
            ("socialcredit --help", [exe, "--help"], TARGETS["--help"]),
            ("socialcredit standing --help", [exe, "standing", "--help"], None)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"date: {time.strftime('%Y-%m-%d')}; {args.runs} runs each, wall ms")
    print()
    print(f"{'command':<32}{'min':>8}{'median':>9}{'max':>8}{'target':>9}{'ratio':>8}")
    for name, cmd, target in rows:
        t = wall_ms(cmd, args.runs)
        med = statistics.median(t)
        ratio = f"{target / med:>7.2f}x" if target else ""
        tgt = f"{target:>7.0f}" if target else ""
        print(f"{name:<32}{min(t):>8.1f}{med:>9.1f}{max(t):>8.1f}{tgt:>9}{ratio:>8}")
    print("(ratio = target / median; > 1 means the target is met)")


if __name__ == "__main__":
    main()
