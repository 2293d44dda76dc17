"""Parquet interchange: a whole ledger as a Parquet dataset that DuckDB and Spark read.

Layout (``socialcredit export DIR``)::

    DIR/manifest.json                      format, bucket count, hash, row counts
    DIR/programs/part-0.parquet            every published version (canonical JSON)
    DIR/providers/part-0.parquet
    DIR/subjects/bucket=NN/part-0.parquet  hive-style, NN = fnv1a32(subject) % buckets
    DIR/records/bucket=NN/part-0.parquet

Records and subjects are bucketed by a hash of the subject, so every bucket is a
self-contained set of subjects (references never cross subjects): the batch engine
scores one bucket at a time in bounded memory, and Spark can read buckets in parallel.
Instants stay int64 microseconds UTC, as in the ledger.

``socialcredit import DIR`` re-validates everything with ingest's own Validator and
cross-checks (types and kinds against the programs, provider roles, evidence, numeric
values, references within a subject, duplicates), keeps recorded_at (it is a migration,
logged as an operation), and is idempotent: what is already there with the same
content is skipped, the same key with other content is an error. Programs and
providers are registered first (each idempotent, as `publish` and `provider add` are);
subjects and records then go in one all-or-nothing transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import Connection, Table, select

from socialcredit.errors import IngestError, LedgerError
from socialcredit.ledger import schema as s
from socialcredit.ledger.ingest import Row, Validator, _cross_check, _events_for
from socialcredit.ledger.store import Ledger
from socialcredit.rulebook.baseline import enforce_baseline
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.materialized import refresh_standings
from socialcredit.scoring.partitions import bucket_of
from socialcredit.timeutil import format_instant

FORMAT = "socialcredit-parquet/1"
DEFAULT_BUCKETS = 16
STREAM = 100_000

RECORDS = pa.schema([
    ("record_id", pa.string()), ("provider", pa.string()), ("subject", pa.string()),
    ("type", pa.string()), ("kind", pa.string()), ("occurred_at", pa.int64()),
    ("recorded_at", pa.int64()), ("value_num", pa.float64()), ("value_text", pa.string()),
    ("evidence", pa.string()), ("ref", pa.string())])
SUBJECTS = pa.schema([("subject", pa.string()), ("kind", pa.string()),
                      ("first_recorded_at", pa.int64())])
PROVIDERS = pa.schema([("provider", pa.string()), ("role", pa.string()),
                       ("registered_at", pa.int64())])
PROGRAMS = pa.schema([("seq", pa.int64()), ("program", pa.string()), ("version", pa.string()),
                      ("effective_at", pa.int64()), ("published_at", pa.int64()),
                      ("sha256", pa.string()), ("canonical", pa.string()),
                      ("source", pa.string())])
_PART = ds.partitioning(pa.schema([("bucket", pa.string())]), flavor="hive")


@dataclass(frozen=True)
class ImportReport:
    programs: int
    providers: int
    subjects: int
    records: int
    duplicates: int

    def as_dict(self) -> dict[str, int]:
        return {"programs": self.programs, "providers": self.providers,
                "subjects": self.subjects, "records": self.records,
                "duplicates": self.duplicates}


# -- export ------------------------------------------------------------------------------------

def _stream(conn: Connection, table: Table, schema: pa.Schema) -> Iterator[pa.Table]:
    cols = [table.c[name] for name in schema.names]
    result = conn.execution_options(stream_results=True, yield_per=STREAM).execute(
        select(*cols))
    for chunk in result.partitions(STREAM):
        data = list(zip(*chunk, strict=True))
        yield pa.table({n: pa.array(list(c), schema.field(n).type)
                        for n, c in zip(schema.names, data, strict=True)}, schema=schema)


def _bucketed(tables: Iterator[pa.Table], buckets: int) -> Iterator[pa.RecordBatch]:
    width = len(str(buckets - 1))
    names = np.array([f"{i:0{width}d}" for i in range(buckets)], dtype=object)
    for t in tables:
        b = bucket_of(t.column("subject"), buckets)
        yield from t.append_column("bucket", pa.array(names[b], pa.string())).to_batches()


def _write_bucketed(root: Path, tables: Iterator[pa.Table], schema: pa.Schema,
                    buckets: int) -> None:
    ds.write_dataset(_bucketed(tables, buckets), root,
                     schema=schema.append(pa.field("bucket", pa.string())),
                     format="parquet", partitioning=_PART,
                     basename_template="part-{i}.parquet",
                     existing_data_behavior="overwrite_or_ignore",
                     max_rows_per_group=1_000_000)


def export_ledger(ledger: Ledger, directory: str | Path, *, buckets: int = DEFAULT_BUCKETS
                  ) -> dict[str, Any]:
    """Write the ledger to DIR (which must be empty or absent). Streams: memory stays
    bounded by the chunk size whatever the ledger's size."""
    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        raise LedgerError(f"{root}: not empty; export writes into a new directory")
    if buckets < 1:
        raise LedgerError("export needs at least one bucket")
    root.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with ledger.engine.connect() as conn:
        for name, table, schema in (("programs", s.programs, PROGRAMS),
                                    ("providers", s.providers, PROVIDERS)):
            data = list(_stream(conn, table, schema))
            t = pa.concat_tables(data) if data else schema.empty_table()
            (root / name).mkdir()
            pq.write_table(t, root / name / "part-0.parquet")
            counts[name] = t.num_rows
        for name, table, schema in (("subjects", s.subjects, SUBJECTS),
                                    ("records", s.records, RECORDS)):
            n = 0

            def counted(it: Iterator[pa.Table]) -> Iterator[pa.Table]:
                nonlocal n
                for t in it:
                    n += t.num_rows
                    yield t

            _write_bucketed(root / name, counted(_stream(conn, table, schema)), schema,
                            buckets)
            (root / name).mkdir(exist_ok=True)
            counts[name] = n
    manifest = {"format": FORMAT, "buckets": buckets,
                "bucket_hash": "fnv1a32(utf8(subject)) % buckets",
                "instants": "int64 microseconds UTC", "counts": counts,
                "exported_at": format_instant(ledger.clock())}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# -- import ------------------------------------------------------------------------------------

def _read(root: Path, name: str, schema: pa.Schema, bucket: str | None = None) -> pa.Table:
    path = root / name if bucket is None else root / name / f"bucket={bucket}"
    if not path.exists():
        return schema.empty_table()
    return ds.dataset(path, format="parquet").to_table(columns=schema.names).cast(schema)


def _create_empty(ledger: Ledger, origin: str) -> None:
    """A ledger without programs yet (import adds them with their original times)."""
    from socialcredit.ledger.store import SCHEMA_VERSION, _transparency

    s.metadata.create_all(ledger.engine)
    t = _transparency()
    if t is not None:
        t[1].create_tables(ledger.engine)
    with ledger.engine.begin() as conn:
        conn.execute(s.meta.insert(), [{"key": "schema_version", "value": SCHEMA_VERSION},
                                       {"key": "created_at", "value": str(ledger.clock())}])
        if t is not None:
            from socialcredit.transparency.checkpoint import create_key
            create_key(conn, origin=f"socialcredit/{origin}")


def _import_programs(ledger: Ledger, t: pa.Table) -> int:
    added = 0
    existing = {(pv.program, pv.version): pv for pv in ledger.program_versions()}
    with ledger.engine.begin() as conn:
        for r in sorted(t.to_pylist(), key=lambda r: int(r["seq"])):
            rb = Rulebook.model_validate(json.loads(r["canonical"]))
            if rb.sha256 != r["sha256"]:
                raise LedgerError(f"programs: {r['program']} {r['version']}: sha256 does not "
                                  "match the canonical rulebook")
            have = existing.get((r["program"], r["version"]))
            if have is not None:
                if have.sha256 != r["sha256"]:
                    raise LedgerError(f"programs: {r['program']} version {r['version']} is "
                                      "already published here with other content")
                continue
            enforce_baseline(rb)
            ledger._check_agreement(rb, list(existing.values()))
            conn.execute(s.programs.insert().values(
                program=r["program"], version=r["version"], effective_at=r["effective_at"],
                published_at=r["published_at"], sha256=r["sha256"],
                canonical=r["canonical"], source=r["source"]))
            added += 1
    return added


def _import_providers(ledger: Ledger, t: pa.Table) -> int:
    have = ledger.providers()
    added = 0
    with ledger.engine.begin() as conn:
        for r in t.to_pylist():
            role = have.get(r["provider"])
            if role is not None:
                if role != r["role"]:
                    raise LedgerError(f"providers: {r['provider']!r} is registered here with "
                                      f"role {role!r}, not {r['role']!r}")
                continue
            conn.execute(s.providers.insert().values(**r))
            added += 1
    return added


def import_ledger(directory: str | Path, db: str | None = None, *, ledger: Ledger | None = None
                  ) -> ImportReport:
    """Import an exported ledger into the ledger at `db` (created if absent)."""
    root = Path(directory)
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise LedgerError(f"{root}: no manifest.json; not a socialcredit Parquet export")
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise LedgerError(f"{root}: unknown format {manifest.get('format')!r}")
    own = ledger is None
    lg = ledger if ledger is not None else Ledger.open(db, create=True)
    try:
        progs = _read(root, "programs", PROGRAMS)
        if not lg.exists():
            first = progs.column("program")[0].as_py() if progs.num_rows else "import"
            _create_empty(lg, str(first))
        n_prog = _import_programs(lg, progs)
        n_prov = _import_providers(lg, _read(root, "providers", PROVIDERS))
        buckets = sorted(p.name.split("=", 1)[1] for p in (root / "records").glob("bucket=*"))
        n_sub = n_rec = dup = 0
        touched: set[str] = set()
        with lg.engine.begin() as conn:
            for b in buckets:
                subs = _read(root, "subjects", SUBJECTS, b)
                recs = _read(root, "records", RECORDS, b)
                a, c, d = _import_bucket(lg, conn, root, b, subs, recs)
                n_sub, n_rec, dup = n_sub + a, n_rec + c, dup + d
                touched.update(recs.column("subject").to_pylist())
            lg.operation(conn, "import", {"directory": str(root), "records": n_rec,
                                          "subjects": n_sub, "programs": n_prog})
            # like ingest: materialized standings of the subjects it touched stay current
            refresh_standings(lg, conn, touched)
        return ImportReport(n_prog, n_prov, n_sub, n_rec, dup)
    finally:
        if own:
            lg.close()


def _import_bucket(ledger: Ledger, conn: Connection, root: Path, bucket: str,
                   subs: pa.Table, recs: pa.Table) -> tuple[int, int, int]:
    kinds = dict(zip(subs.column("subject").to_pylist(), subs.column("kind").to_pylist(),
                     strict=True))
    first_at = dict(zip(subs.column("subject").to_pylist(),
                        subs.column("first_recorded_at").to_pylist(), strict=True))
    v = Validator(ledger, conn, backfill=True)
    rows: list[Row] = []
    for n, r in enumerate(recs.to_pylist(), start=1):
        raw = {"record_id": r["record_id"], "provider": r["provider"],
               "subject": r["subject"], "type": r["type"],
               "occurred_at": format_instant(r["occurred_at"]),
               "recorded_at": format_instant(r["recorded_at"]),
               "value": r["value_num"] if r["value_num"] is not None else r["value_text"],
               "evidence": r["evidence"], "ref": r["ref"],
               "subject_kind": kinds.get(r["subject"])}
        row = v.row(n, raw)
        if not row.errors and row.kind != r["kind"]:
            row.errors.append(f"kind: {r['kind']!r} but type {r['type']!r} is {row.kind!r}")
        rows.append(row)
    insert, dup, new_subjects = _cross_check(rows, conn)
    bad = [r for r in rows if r.errors]
    where = root / "records" / f"bucket={bucket}"
    if bad:
        problems = [f"{where}: row {r.line}: {e}" for r in bad for e in r.errors]
        raise IngestError(f"{where}: {len(bad)} bad record(s); no subject or record was "
                          "imported (programs and providers it carries are registered "
                          "first)\n  "
                          + "\n  ".join(problems[:50]), problems)
    # subjects without records in this export are imported too, with the same checks
    sc = s.subjects.c
    names = list(kinds)
    existing: dict[str, str] = {}
    for i in range(0, len(names), 900):
        existing.update({row[0]: row[1] for row in conn.execute(
            select(sc.subject, sc.kind).where(sc.subject.in_(names[i:i + 900])))})
    for subject, kind in kinds.items():
        have = existing.get(subject)
        if have is not None:
            if have != kind:
                raise IngestError(f"{root / 'subjects'}: {subject!r} is already a {have}, "
                                  f"not a {kind}", [])
        elif subject not in new_subjects:
            if kind not in ("person", "organization"):
                raise IngestError(f"{root / 'subjects'}: {subject!r}: unknown subject kind "
                                  f"{kind!r}", [])
            new_subjects[subject] = kind
    if new_subjects:
        conn.execute(s.subjects.insert(), [
            {"subject": k, "kind": kd, "first_recorded_at": first_at.get(k) or 0}
            for k, kd in new_subjects.items()])
    if insert:
        for i in range(0, len(insert), 5000):
            conn.execute(s.records.insert(), [
                {"record_id": r.record_id, "provider": r.provider, "subject": r.subject,
                 "type": r.type, "kind": r.kind, "occurred_at": r.occurred_at,
                 "recorded_at": r.recorded_at, "value_num": r.value_num,
                 "value_text": r.value_text, "evidence": r.evidence, "ref": r.ref}
                for r in insert[i:i + 5000]])
        ledger.log_events(conn, _events_for(ledger, conn, insert, 0))
    return len(new_subjects), len(insert), dup


# -- record rows (CSV-shaped) -> ledger columns, for synthetic populations -------------------

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
        "ref": rows.column("ref")}).cast(RECORDS)
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

    _write_bucketed(base / "records", recs(), RECORDS, buckets)
    _write_bucketed(base / "subjects", iter(subs_parts), SUBJECTS, buckets)
    (base / "programs").mkdir(exist_ok=True)
    pq.write_table(pa.table({
        "seq": pa.array(range(1, len(programs) + 1), pa.int64()),
        "program": [rb.rulebook for rb in programs], "version": [rb.version for rb in programs],
        "effective_at": pa.array([-(2**62)] * len(programs), pa.int64()),
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


__all__ = ["DEFAULT_BUCKETS", "FORMAT", "ImportReport", "export_ledger", "import_ledger",
           "rows_to_ledger", "write_parquet_ledger"]
