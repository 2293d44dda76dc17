"""Synthetic populations for a rulebook: realistic enough to show what a rulebook does.

How often each record happens is calibrated, type by type, in
`socialcredit.lab.synth_calibration` (published orders of magnitude where there are any,
marked illustrative where there are not; docs/synth.md). Subjects differ: a heavy-tailed
personal propensity for negative records (most people have clean records, a few have
many), a milder one for rewards, and two districts whose negative-record rates differ (as
policing or reporting intensity differs between places) so that the policy lab has
something to find. Resolutions follow after delays, an occasional record is voided on
review. Everything is drawn from one seeded NumPy generator per batch: same seed, same
file.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from socialcredit.errors import UsageError
from socialcredit.identifiers import uscc
from socialcredit.lab import synth_calibration as cal
from socialcredit.rulebook.model import Attribute, RecordType, Rulebook
from socialcredit.rulebook.shipped import load_named
from socialcredit.timeutil import US_PER_DAY, parse_instant

DEFAULT_END = "2026-10-31T00:00:00Z"
DISTRICTS = ("north", "south")
SOUTH_RATE = cal.SOUTH_RATE  # relative negative-record rate in the south district
FACT_AGE_US = 30 * US_PER_DAY  # a subject's latest fact is at most a month old ✖
COLUMNS = ("record_id", "provider", "subject", "subject_kind", "type", "occurred_at", "value",
           "evidence", "ref")
GROUNDS = ("able_but_refuses", "obstructs_enforcement", "false_litigation_or_hidden_assets",
           "breach_asset_reporting", "breach_consumption_restriction", "refuses_settlement")


def provider_id(role: str) -> str:
    return f"{role}-01"


def providers_for(rbs: Sequence[Rulebook]) -> list[tuple[str, str]]:
    roles: dict[str, None] = {}
    for rb in rbs:
        for t in rb.record_types:
            for role in t.providers or (("reviewer",) if t.kind == "void" else ()):
                roles.setdefault(role, None)
    return [(provider_id(r), r) for r in roles]


@dataclass(frozen=True)
class _TypePlan:
    type: RecordType
    rate: float  # expected records per subject-month at propensity 1 (district mean)
    kinds: frozenset[str]
    value: str  # "", "unit", "ground"
    resolution: RecordType | None
    resolution_role: str
    void_p: float
    positive: bool = False  # rewards follow their own propensity, in every district alike
    resolved: float = 0.0  # share of records later resolved
    resolve_days: float = cal.DEFAULT_RESOLVE_DAYS
    units: tuple[int, int] = (1, 19)


def _plans(rbs: Sequence[Rulebook], per_month: float | None) -> tuple[list[_TypePlan],
                                                                     list[tuple[Rulebook, int]]]:
    types: dict[str, RecordType] = {}
    kinds: dict[str, set[str]] = {}
    negative: set[str] = set()
    positive: set[str] = set()
    unit: set[str] = set()
    listed: set[str] = set()
    resolvable: set[str] = set()
    for rb in rbs:
        for t in rb.record_types:
            types.setdefault(t.id, t)
        for r in rb.rules:
            kinds.setdefault(r.record, set()).update(rb.subjects)
            p = r.points if r.points is not None else (r.points_per_unit or 0)
            (negative if p < 0 else positive).add(r.record)
            if r.points_per_unit is not None:
                unit.add(r.record)
            if r.resolved_points is not None:
                resolvable.add(r.record)
        for x in rb.lists:
            if x.enter_when.record:
                kinds.setdefault(x.enter_when.record, set()).update(rb.subjects)
                listed.add(x.enter_when.record)
                resolvable.add(x.enter_when.record)
                (negative if x.kind == "black" else positive).add(x.enter_when.record)
    resolutions = [t for t in types.values() if t.kind == "resolution"]
    voids = [t for t in types.values() if t.kind == "void"]
    plans: list[_TypePlan] = []
    for tid, t in types.items():
        if t.kind != "conduct" or tid not in kinds:
            continue
        neg = tid in negative
        rate = cal.rate_for(tid, negative=neg, positive=tid in positive, severity=t.severity)
        # the resolution the rulebook says resolves it, filed by a role allowed to
        res, res_role = None, ""
        for resolver in t.resolved_by or ():
            found = next((r for r in resolutions if r.id == resolver.type), None)
            if found is not None:
                roles = resolver.providers or found.providers
                res, res_role = found, roles[0] if roles else ""
                break
        res = res if tid in resolvable else None
        plans.append(_TypePlan(
            t, rate.per_year / 12.0, frozenset(kinds[tid]),
            "unit" if tid in unit else ("ground" if tid in listed else ""), res, res_role,
            cal.VOID_SHARE if voids and neg else 0.0, positive=not neg,
            resolved=(rate.resolved if rate.resolved is not None
                      else cal.DEFAULT_RESOLVED) if res is not None else 0.0,
            resolve_days=rate.resolve_days, units=rate.units or (1, 19)))
    if per_month is not None and plans:
        scale = per_month / sum(p.rate for p in plans)
        plans = [replace(p, rate=p.rate * scale) for p in plans]
    facts: list[tuple[Rulebook, int]] = [(rb, i) for rb in rbs for i, a in
                                         enumerate(rb.attributes)]
    return plans, facts


def _org_share(rbs: Sequence[Rulebook]) -> float:
    kinds_all = sorted({k for rb in rbs for k in rb.subjects})
    return 0.1 if len(kinds_all) == 2 else (1.0 if kinds_all == ["organization"] else 0.0)


def _population(rng: np.random.Generator, pyrng: random.Random, b0: int, n: int,
                org_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Names, kinds and districts of one batch: the first draws from its generator."""
    idx = np.arange(b0, b0 + n)
    is_org = rng.random(n) < org_share
    names = np.array([uscc.generate(pyrng) if o else f"P{i:09d}"
                      for i, o in zip(idx.tolist(), is_org.tolist(), strict=True)],
                     dtype=object)
    kind = np.where(is_org, "organization", "person").astype(object)
    south = np.array([district_of(s) == "south" for s in names.tolist()], dtype=np.bool_)
    return names, kind, south


def population(rulebooks: Rulebook | Sequence[Rulebook], *, subjects: int, seed: int,
               batch_subjects: int = 100_000) -> pa.Table:
    """Every subject `synthesize_batches` draws for these arguments — with or without
    records — and its kind and district: the denominators of a population's rates."""
    rbs = [rulebooks] if isinstance(rulebooks, Rulebook) else list(rulebooks)
    share = _org_share(rbs)
    parts = []
    for b0 in range(0, subjects, batch_subjects):
        n = min(batch_subjects, subjects - b0)
        names, kind, south = _population(np.random.default_rng([seed, b0]),
                                         random.Random(f"{seed}:{b0}"), b0, n, share)
        parts.append(pa.table({"subject": pa.array(names, pa.string()),
                               "subject_kind": pa.array(kind, pa.string()),
                               "district": pa.array(np.where(south, "south", "north"),
                                                    pa.string())}))
    return pa.concat_tables(parts)


def _fallback_values(rng: np.random.Generator, a: Attribute, m: int) -> np.ndarray:
    """Values for a fact the calibration does not name: spread over its bins."""
    breaks = [b.below for b in a.bins if b.below is not None]
    listed = [v for b in a.bins if b.values for v in b.values]
    if breaks:
        hi = max(breaks) * 1.5 if max(breaks) > 0 else 10.0
        lo = min(0.0, min(breaks))
        return np.round(rng.uniform(lo, hi, m), 0).astype(str).astype(object)
    if listed:
        return np.array([str(v) for v in listed], dtype=object)[rng.integers(0, len(listed), m)]
    return np.full(m, None, dtype=object)


def _iso(us: np.ndarray) -> np.ndarray:
    return np.char.add(np.datetime_as_string(us.astype("datetime64[us]"), unit="s"), "Z")


def synthesize_batches(rulebooks: Rulebook | Sequence[Rulebook], *, subjects: int,
                       months: int, seed: int, end: int | None = None,
                       per_subject: float | None = None, batch_subjects: int = 100_000,
                       backfill_times: bool = False) -> Iterator[pa.Table]:
    """Record rows for `subjects` subjects over `months` months, in subject batches.

    per_subject: expected records per subject over the whole history (default: the
    rulebook-driven rates). backfill_times adds a recorded_at column a few days after
    occurred_at, for `ingest --backfill` of a pilot's history.
    """
    rbs = [rulebooks] if isinstance(rulebooks, Rulebook) else list(rulebooks)
    if subjects < 1 or months < 1:
        raise UsageError("synth needs at least one subject and one month")
    end_us = end if end is not None else parse_instant(DEFAULT_END)
    start_us = end_us - int(months * 30.4375 * US_PER_DAY)
    plans, facts = _plans(rbs, None if per_subject is None else per_subject / months)
    org_share = _org_share(rbs)
    north, south_factor = cal.district_factors()
    void_type = next((t for rb in rbs for t in rb.record_types if t.kind == "void"), None)
    serial = 0
    for b0 in range(0, subjects, batch_subjects):
        n = min(batch_subjects, subjects - b0)
        rng = np.random.default_rng([seed, b0])
        pyrng = random.Random(f"{seed}:{b0}")
        names, kind, south = _population(rng, pyrng, b0, n, org_share)
        # propensities with mean 1; the district factors average to 1 over the districts
        propensity = rng.gamma(cal.NEGATIVE_SHAPE, 1.0 / cal.NEGATIVE_SHAPE, n) * np.where(
            south, south_factor, north)
        merit = rng.gamma(cal.POSITIVE_SHAPE, 1.0 / cal.POSITIVE_SHAPE, n)
        cols: dict[str, list[np.ndarray]] = {c: [] for c in (*COLUMNS, "recorded_at")}

        def add(subj: np.ndarray, t: RecordType, occurred: np.ndarray, value: np.ndarray,
                ref: np.ndarray | None, provider_role: str,
                cols: dict[str, list[np.ndarray]] = cols, names: np.ndarray = names,
                kind: np.ndarray = kind, rng: np.random.Generator = rng) -> np.ndarray:
            nonlocal serial
            m = len(subj)
            prov = provider_id(provider_role)
            ids = np.char.add(f"{prov}:{seed}:", np.arange(serial, serial + m).astype(str))
            serial += m
            cols["record_id"].append(ids.astype(object))
            cols["provider"].append(np.full(m, prov, dtype=object))
            cols["subject"].append(names[subj])
            cols["subject_kind"].append(kind[subj])
            cols["type"].append(np.full(m, t.id, dtype=object))
            cols["occurred_at"].append(occurred)
            cols["value"].append(value)
            cols["evidence"].append(np.char.add("urn:evidence:", ids).astype(object)
                                    if t.evidence == "required" or m == 0
                                    else np.full(m, None, dtype=object))
            cols["ref"].append(ref if ref is not None else np.full(m, None, dtype=object))
            rec = occurred + rng.integers(0, 3 * US_PER_DAY, m)
            cols["recorded_at"].append(np.minimum(rec, end_us))
            return np.asarray(ids)

        for plan in plans:
            allowed = np.isin(kind, list(plan.kinds))
            lam = plan.rate * months * (merit if plan.positive else propensity) * allowed
            counts = rng.poisson(lam)
            subj = np.repeat(np.arange(n), counts)
            m = len(subj)
            if m == 0:
                continue
            occurred = rng.integers(start_us, end_us, m)
            if plan.value == "unit":
                lo, hi = plan.units
                value = rng.integers(lo, hi + 1, m).astype(float).astype(str).astype(object)
            elif plan.value == "ground":
                value = np.array(GROUNDS, dtype=object)[rng.integers(0, len(GROUNDS), m)]
            else:
                value = np.full(m, None, dtype=object)
            role = plan.type.providers[0] if plan.type.providers else "reviewer"
            ids = add(subj, plan.type, occurred, value, None, role)
            if plan.resolution is not None:
                pick = rng.random(m) < plan.resolved
                delay = (rng.exponential(plan.resolve_days, m) * US_PER_DAY).astype(np.int64)
                when = occurred + delay
                ok = pick & (when < end_us)
                r = plan.resolution
                add(subj[ok], r, when[ok], np.full(int(ok.sum()), None, dtype=object),
                    ids[ok].astype(object), plan.resolution_role or role)
            if plan.void_p and void_type is not None:
                pick = rng.random(m) < plan.void_p
                when = np.minimum(occurred + 30 * US_PER_DAY, end_us)
                add(subj[pick], void_type, when[pick],
                    np.full(int(pick.sum()), None, dtype=object), ids[pick].astype(object),
                    "reviewer")
        for rb, ai in facts:
            a = rb.attributes[ai]
            t = rb.types[a.record]
            spec = cal.FACTS.get(a.record)
            allowed = np.isin(kind, list(rb.subjects))
            has = allowed & (rng.random(n) < (spec.share if spec is not None
                                              else cal.DEFAULT_FACT_SHARE))
            subj = np.nonzero(has)[0]
            m = len(subj)
            if m == 0:
                continue
            vals = spec.sample(rng, m) if spec is not None else _fallback_values(rng, a, m)
            # the bureau's latest snapshot: a recent one (facts are replaced monthly)
            occurred = rng.integers(max(start_us, end_us - FACT_AGE_US), end_us, m)
            add(subj, t, occurred, vals, None, t.providers[0] if t.providers else "reviewer")
        if not cols["record_id"]:
            continue
        data = {c: np.concatenate(cols[c]) for c in cols}
        data["occurred_at"] = _iso(data["occurred_at"])
        if backfill_times:
            data["recorded_at"] = _iso(data["recorded_at"])
        else:
            del data["recorded_at"]
        yield pa.table({c: pa.array(v.tolist() if v.dtype != object else v, type=pa.string())
                        for c, v in data.items()})


@dataclass(frozen=True)
class SynthStats:
    records: int
    subjects: int
    providers: list[tuple[str, str]]
    groups_file: Path


def synthesize_to_file(program: str | Path | Sequence[Rulebook], path: str | Path, *,
                       subjects: int, months: int, seed: int, end: int | None = None,
                       backfill_times: bool = False, per_subject: float | None = None
                       ) -> SynthStats:
    """Write a CSV (or JSONL) ledger file, and beside it <name>.groups.csv (district per
    subject, for the policy lab: the ledger itself knows nothing of districts)."""
    rbs = ([load_named(program)] if isinstance(program, str | Path) else list(program))
    out = Path(path)
    total = 0
    seen: list[pa.Table] = []
    writer: pacsv.CSVWriter | None = None
    jsonl = out.suffix.lower() in (".jsonl", ".ndjson")
    with out.open("wb") as fh:
        for table in synthesize_batches(rbs, subjects=subjects, months=months, seed=seed,
                                        end=end, backfill_times=backfill_times,
                                        per_subject=per_subject):
            total += table.num_rows
            seen.append(table.select(["subject"]))
            if jsonl:
                import json

                for row in table.to_pylist():
                    fh.write((json.dumps({k: v for k, v in row.items() if v is not None})
                              + "\n").encode())
            else:
                if writer is None:
                    writer = pacsv.CSVWriter(fh, table.schema)
                writer.write_table(table)
        if writer is not None:
            writer.close()
    groups = out.with_name(out.stem + ".groups.csv")
    subj: set[str] = set()
    for t in seen:
        subj.update(t.column("subject").to_pylist())
    with groups.open("w", encoding="utf-8") as gh:
        gh.write("subject,district\n")
        for s in sorted(subj):
            gh.write(f"{s},{district_of(s, seed)}\n")
    return SynthStats(total, len(subj), providers_for(rbs), groups)


def district_of(subject: str, seed: int | None = None) -> str:
    """The synthetic district, recomputed from the subject id the generator made (the
    generator draws it the same way; `seed` is accepted for callers that pass it)."""
    if subject.startswith("P") and subject[1:].isdigit():
        i = int(subject[1:])
    else:  # organizations: hash of the code
        i = sum(ord(c) * 31**k for k, c in enumerate(subject))
    return DISTRICTS[(i * 2654435761 % 2**32) % 2]


def benchmark_rulebook(n_types: int = 50, n_dims: int = 5) -> Rulebook:
    """A rulebook for population benchmarks: every type with decay, expiry, max_count and
    dimension caps: the shape of the population-scale benchmark."""
    dims = [{"id": f"d{j}", "min": -300.0, "max": 100.0} for j in range(n_dims)]
    types = [{"id": f"bench.t{i:02d}", "kind": "conduct", "providers": ["agency"],
              "evidence": "required", "legal_basis": "benchmark", "category": "benchmark",
              "context": "benchmark"} for i in range(n_types)]
    rules = [{"record": f"bench.t{i:02d}", "dimension": f"d{i % n_dims}",
              "points": float(-(i % 7) * 5 - 5) if i % 5 else 10.0,
              "half_life": float(90 + 30 * (i % 6)), "expires": float(365 * (1 + i % 3)),
              "max_count": 3 + i % 4} for i in range(n_types)]
    return Rulebook.model_validate({
        "rulebook": "bench", "version": "1", "subjects": ["person", "organization"],
        "scale": {"base": 1000, "min": 0, "max": 1200}, "dimensions": dims,
        "record_types": types, "rules": rules,
        "tiers": [{"id": "A", "min": 1000}, {"id": "B", "min": 900}, {"id": "C", "min": 0}]})
