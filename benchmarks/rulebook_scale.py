"""Rulebook scale: publishing a rulebook of 100,000 rules, and one standing under it.

Targets on a 2-core machine: `init` (Service.create: baseline, catalogue citations,
linter-free publication, storage, the public log's leaf) of a 100,000-rule rulebook in
≤ 5 s, and a standing under it in ≤ 20 ms. The baselines are the figures measured before
this work: init 65 s (1.36 GB peak), standing 1.7 s.

The rulebook is built in Python (the YAML loader's bounds — 2,000 rules, 1,000 record
types — stay as they are: they bound untrusted files; a rulebook this large comes from a
program's own tooling through the service).

    python benchmarks/rulebook_scale.py [--rules 100000] [--types 10000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from socialcredit.rulebook.catalogue import Catalogue, parse_catalogue
from socialcredit.rulebook.model import Rulebook

INIT_TARGET_S = 5.0
STANDING_TARGET_MS = 20.0
INIT_BASELINE_S = 65.0
INIT_BASELINE_GB = 1.36
STANDING_BASELINE_MS = 1700.0

CATALOGUE = """
catalogue: scale-catalogue
version: "1"
items:
  - {id: finance, providers: [bank], publicity: public, legal_basis: law}
  - {id: civic, providers: [bank], legal_basis: law}
measures:
  - {id: ban, kind: sanction, legal_basis: law}
"""


def catalogue() -> Catalogue:
    return parse_catalogue(CATALOGUE, "scale-catalogue.yaml")


def big_rulebook_data(n_rules: int, n_types: int, n_dims: int = 20) -> dict[str, Any]:
    """A rulebook of n_rules rules over n_types conduct types (penalties with evidence,
    legal basis, decay and expiry; rewards without), n_dims capped dimensions, a list and
    a consequence."""
    types = []
    for i in range(n_types):
        penalty = i % 4 != 0
        t: dict[str, Any] = {"id": f"scale.t{i:05d}", "kind": "conduct",
                             "providers": ["bank"], "category": "financial_obligation"
                             if penalty else "civic_merit",
                             "context": "finance" if penalty else "civic",
                             "item": "finance" if penalty else "civic"}
        if penalty:
            t |= {"evidence": "required", "legal_basis": "law"}
        types.append(t)
    rules = []
    for j in range(n_rules):
        i = j % n_types
        penalty = i % 4 != 0
        rules.append({"record": f"scale.t{i:05d}", "dimension": f"d{j % n_dims}",
                      "points": float(-(1 + j % 9)) if penalty else float(1 + j % 5),
                      "half_life": float(30 + j % 700), "expires": float(365 + j % 1000),
                      "max_count": 1 + j % 5})
    return {
        "rulebook": "scale", "version": "1", "subjects": ["person"],
        "catalogue": {"id": "scale-catalogue", "version": "1"},
        "scale": {"base": 1000, "min": 0, "max": 2000},
        "dimensions": [{"id": f"d{k}", "min": -500, "max": 200} for k in range(n_dims)],
        "record_types": types, "rules": rules,
        "tiers": [{"id": "A", "min": 1000}, {"id": "B", "min": 900}, {"id": "C", "min": 0}],
        "lists": [{"id": "arrears", "kind": "black", "enter_when": {"record": "scale.t00001"},
                   "notice": 7, "max_duration": 365, "legal_basis": "law"}],
        "consequences": [{"action": "loan", "effect": "deny", "measure": "ban",
                          "when": {"on_list": "arrears"}, "legal_basis": "law"}],
    }


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rules", type=int, default=100_000)
    ap.add_argument("--types", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--profile", type=Path, help="write a cProfile of init here")
    args = ap.parse_args()

    from socialcredit.service import Service

    data = big_rulebook_data(args.rules, args.types)
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{Path(tmp) / 'scale.db'}"
        t0 = time.perf_counter()
        rb = Rulebook.model_validate(data)
        validate_s = time.perf_counter() - t0
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t1 = time.perf_counter()
        svc = Service.create(rb, db, catalogue=catalogue())
        init_s = time.perf_counter() - t1
        if args.profile:
            prof.disable()
            prof.dump_stats(str(args.profile))
        total_s = validate_s + init_s
        peak = peak_gb()
        svc.providers.add("bank-1", "bank")
        rows = [{"record_id": f"bank-1:{i}", "provider": "bank-1", "subject": "BUSY",
                 "subject_kind": "person", "type": f"scale.t{(i * 7) % args.types:05d}",
                 "occurred_at": f"2026-{1 + i % 10:02d}-{1 + i % 27:02d}",
                 "evidence": f"urn:ev:{i}"} for i in range(200)]
        svc.records.ingest_rows(rows)
        t2 = time.perf_counter()
        svc.standings.of("BUSY")
        first_ms = (time.perf_counter() - t2) * 1000
        times = []
        for _ in range(args.repeat):
            t2 = time.perf_counter()
            st = svc.standings.of("BUSY")
            times.append((time.perf_counter() - t2) * 1000)
        t3 = time.perf_counter()
        reopened = Service.open(db)
        reopened.standings.of("BUSY")
        cold_ms = (time.perf_counter() - t3) * 1000
        reopened.close()
        svc.close()
    med = statistics.median(times)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M')}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"rulebook: {args.rules:,} rules over {args.types:,} record types; "
          f"sha256 {rb.sha256[:16]}…")
    print()
    print(f"{'measure':<46}{'figure':>12}{'target':>10}{'ratio':>8}{'baseline':>11}"
          f"{'speed-up':>10}")
    print(f"{'validate the model (Rulebook.model_validate)':<46}{validate_s:>10.2f} s")
    print(f"{'init (Service.create)':<46}{init_s:>10.2f} s")
    print(f"{'validate + init':<46}{total_s:>10.2f} s{INIT_TARGET_S:>8.1f} s"
          f"{INIT_TARGET_S / total_s:>7.2f}x{INIT_BASELINE_S:>9.0f} s"
          f"{INIT_BASELINE_S / total_s:>9.1f}x")
    print(f"{'peak RSS after init':<46}{peak:>9.2f} GB{'':>18}{INIT_BASELINE_GB:>8.2f} GB")
    print(f"{'standing, 200 records (median)':<46}{med:>9.2f} ms{STANDING_TARGET_MS:>7.0f} ms"
          f"{STANDING_TARGET_MS / med:>7.2f}x{STANDING_BASELINE_MS:>8.0f} ms"
          f"{STANDING_BASELINE_MS / med:>9.1f}x")
    print(f"{'standing, first after ingest':<46}{first_ms:>9.2f} ms")
    print(f"{'standing, fresh process-side service (cold)':<46}{cold_ms:>9.2f} ms")
    print(f"({len(st.contributions)} contributions; ratio > 1 means the target is met)")


if __name__ == "__main__":
    main()
