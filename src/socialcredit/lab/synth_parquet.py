"""Synthetic populations straight into the Parquet ledger layout.

For benchmarks and the lab at scales no database is needed for: record rows as files
carry them become ledger columns, vectorised, and are written in the export layout that
the batch and Spark engines read. No validation is applied (ingest and import do that).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from socialcredit.ledger.parquet import (
    DEFAULT_BUCKETS,
    FORMAT,
    PROGRAMS,
    PROVIDERS,
    RECORDS,
    SUBJECTS,
    write_bucketed,
)
from socialcredit.rulebook.model import Rulebook
from socialcredit.timeutil import BEGINNING_OF_TIME

_NUMERIC = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def rows_to_ledger(rulebooks: Rulebook | list[Rulebook], rows: pa.Table
                   ) -> tuple[pa.Table, pa.Table]:
    """Record rows as files carry them (record_id, provider, subject, subject_kind, type,
    occurred_at ISO text, value, evidence, ref[, recorded_at]) -> (records in the
    export/engine columns, subjects), vectorised.

    For synthetic populations and benchmarks only: it applies no validation (ingest
    and import do). recorded_at defaults to occurred_at, as a backfill does."""
    import pyarrow.compute as pc

    rbs = [rulebooks] if isinstance(rulebooks, Rulebook) else rulebooks
    kinds = {t.id: t.kind for rb in rbs for t in rb.record_types}
    ts = pa.timestamp("us", tz="UTC")
    occ = rows.column("occurred_at").cast(ts).cast(pa.int64())
    rec = (rows.column("recorded_at").cast(ts).cast(pa.int64())
           if "recorded_at" in rows.column_names else occ)
    enc = rows.column("type").combine_chunks().dictionary_encode()
    kind_dict = pa.array([kinds.get(t, "conduct") for t in enc.dictionary.to_pylist()],
                         pa.string())
    kind = kind_dict.take(enc.indices)
    value = rows.column("value").combine_chunks().cast(pa.string())
    numeric = pc.fill_null(pc.match_substring_regex(value, _NUMERIC), False)
    value_num = pc.if_else(numeric, value, pa.scalar(None, pa.string())).cast(pa.float64())
    value_text = pc.if_else(numeric, pa.scalar(None, pa.string()), value)
    records = pa.table({
        "record_id": rows.column("record_id"), "provider": rows.column("provider"),
        "subject": rows.column("subject"), "type": rows.column("type"), "kind": kind,
        "occurred_at": occ, "recorded_at": rec, "value_num": value_num,
        "value_text": value_text, "evidence": rows.column("evidence"),
        "ref": rows.column("ref"),
        "ingested_at": pa.nulls(rows.num_rows, pa.int64())}).cast(RECORDS)
    g = (pa.table({"subject": rows.column("subject"), "kind": rows.column("subject_kind"),
                   "first_recorded_at": rec})
         .group_by("subject").aggregate([("kind", "max"), ("first_recorded_at", "min")]))
    subjects = pa.table({"subject": g.column("subject"), "kind": g.column("kind_max"),
                         "first_recorded_at": g.column("first_recorded_at_min")}
                        ).cast(SUBJECTS)
    return records, subjects


def write_parquet_ledger(root: str | Path, tables: Iterator[tuple[pa.Table, pa.Table]],
                         programs: list[Rulebook], *, buckets: int = DEFAULT_BUCKETS
                         ) -> dict[str, Any]:
    """Write (records, subjects) batches straight into the export layout (benchmarks
    and synthetic populations at scales no database is needed for)."""
    base = Path(root)
    base.mkdir(parents=True, exist_ok=True)
    counts = {"records": 0, "subjects": 0}
    subs_parts: list[pa.Table] = []

    def recs() -> Iterator[pa.Table]:
        for r, sb in tables:
            counts["records"] += r.num_rows
            counts["subjects"] += sb.num_rows
            subs_parts.append(sb)
            yield r

    write_bucketed(base / "records", recs(), RECORDS, buckets)
    write_bucketed(base / "subjects", iter(subs_parts), SUBJECTS, buckets)
    (base / "programs").mkdir(exist_ok=True)
    pq.write_table(pa.table({
        "seq": pa.array(range(1, len(programs) + 1), pa.int64()),
        "program": [rb.rulebook for rb in programs], "version": [rb.version for rb in programs],
        "effective_at": pa.array([BEGINNING_OF_TIME] * len(programs), pa.int64()),
        "published_at": pa.array([0] * len(programs), pa.int64()),
        "sha256": [rb.sha256 for rb in programs], "canonical": [rb.canonical() for rb in programs],
        "source": pa.array([None] * len(programs), pa.string())}, schema=PROGRAMS),
        base / "programs" / "part-0.parquet")
    (base / "providers").mkdir(exist_ok=True)
    pq.write_table(PROVIDERS.empty_table(), base / "providers" / "part-0.parquet")
    manifest = {"format": FORMAT, "buckets": buckets,
                "bucket_hash": "fnv1a32(utf8(subject)) % buckets",
                "instants": "int64 microseconds UTC", "counts": counts, "synthetic": True}
    (base / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


__all__ = ["rows_to_ledger", "write_parquet_ledger"]
