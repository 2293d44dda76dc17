"""The ledger as a Parquet dataset that DuckDB and Spark read: layout, export, reading.

Layout (``socialcredit export DIR``)::

    DIR/manifest.json                      format, bucket count, hash, row counts
    DIR/programs/part-0.parquet            every published version (canonical JSON)
    DIR/catalogues/part-0.parquet          every published catalogue version
    DIR/providers/part-0.parquet
    DIR/subjects/bucket=NN/part-0.parquet  hive-style, NN = fnv1a32(subject) % buckets
    DIR/records/bucket=NN/part-0.parquet

Records and subjects are bucketed by a hash of the subject, so every bucket is a
self-contained set of subjects (references never cross subjects): the batch engine
scores one bucket at a time in bounded memory, and Spark can read buckets in parallel.
Instants stay int64 microseconds UTC, as in the ledger. Importing an export back goes
through ingest's own path (the service layer's import), never around it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import Connection, Table, select

from socialcredit.errors import LedgerError
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import ProgramVersion
from socialcredit.ledger.store import Ledger
from socialcredit.rulebook.model import Rulebook
from socialcredit.timeutil import format_instant

FORMAT = "socialcredit-parquet/1"
DEFAULT_BUCKETS = 16
STREAM = 100_000

RECORDS = pa.schema([
    ("record_id", pa.string()), ("provider", pa.string()), ("subject", pa.string()),
    ("type", pa.string()), ("kind", pa.string()), ("occurred_at", pa.int64()),
    ("recorded_at", pa.int64()), ("value_num", pa.float64()), ("value_text", pa.string()),
    ("evidence", pa.string()), ("ref", pa.string()), ("ingested_at", pa.int64())])
SUBJECTS = pa.schema([("subject", pa.string()), ("kind", pa.string()),
                      ("first_recorded_at", pa.int64())])
PROVIDERS = pa.schema([("provider", pa.string()), ("role", pa.string()),
                       ("registered_at", pa.int64())])
PROGRAMS = pa.schema([("seq", pa.int64()), ("program", pa.string()), ("version", pa.string()),
                      ("effective_at", pa.int64()), ("published_at", pa.int64()),
                      ("sha256", pa.string()), ("canonical", pa.string()),
                      ("source", pa.string())])
CATALOGUES = pa.schema([("seq", pa.int64()), ("catalogue", pa.string()),
                        ("version", pa.string()), ("published_at", pa.int64()),
                        ("sha256", pa.string()), ("canonical", pa.string()),
                        ("source", pa.string())])
_PART = ds.partitioning(pa.schema([("bucket", pa.string())]), flavor="hive")


_FNV_PRIME = np.uint32(16777619)
_FNV_OFFSET = np.uint32(2166136261)


def fnv1a(values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.uint32]:
    """32-bit FNV-1a of each string's UTF-8 bytes, vectorised over Arrow's buffers.

    Stable across processes and machines (unlike Python's hash), so a subject always
    lands in the same bucket; documented in docs/cluster.md for other readers."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    arr = pa.concat_arrays([arr.cast(pa.string())])  # zero offset, plain utf8
    n = len(arr)
    h = np.full(n, _FNV_OFFSET, np.uint32)
    if n == 0:
        return h
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], np.int32, n + 1)
    data = (np.frombuffer(bufs[2], np.uint8) if bufs[2] is not None
            else np.empty(0, np.uint8))
    lengths = np.diff(offsets)
    starts = offsets[:-1].astype(np.int64)
    active = np.arange(n)
    for j in range(int(lengths.max(initial=0))):
        active = active[lengths[active] > j]
        hj = h[active] ^ data[starts[active] + j].astype(np.uint32)
        h[active] = hj * _FNV_PRIME
    return h


def bucket_of(subjects: pa.Array | pa.ChunkedArray, buckets: int) -> npt.NDArray[np.int32]:
    return (fnv1a(subjects) % np.uint32(buckets)).astype(np.int32)


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


#: rows a bucket's file gathers before it writes a row group: each incoming batch is
#: split across the buckets, and a row group per piece left files of a few hundred rows
#: a group at 100M records (every per-chunk step of a reader paid thousands of times a
#: bucket). Bounds what is buffered to about buckets × this many rows
MIN_ROWS_PER_GROUP = 65_536


def write_bucketed(root: Path, tables: Iterator[pa.Table], schema: pa.Schema,
                    buckets: int) -> None:
    ds.write_dataset(_bucketed(tables, buckets), root,
                     min_rows_per_group=MIN_ROWS_PER_GROUP,
                     schema=schema.append(pa.field("bucket", pa.string())),
                     format="parquet", partitioning=_PART,
                     basename_template="part-{i}.parquet",
                     existing_data_behavior="overwrite_or_ignore",
                     max_rows_per_group=1_000_000)


def export_ledger(ledger: Ledger, directory: str | Path, *, buckets: int = DEFAULT_BUCKETS,
                  progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Write the ledger to DIR (which must be empty or absent). Streams: memory stays
    bounded by the chunk size whatever the ledger's size. `progress` is told the number
    of subject and record rows written so far, chunk by chunk."""
    root = Path(directory)
    if root.exists() and any(root.iterdir()):
        raise LedgerError(f"{root}: not empty; export writes into a new directory",
                          code="export.invalid")
    if buckets < 1:
        raise LedgerError("export needs at least one bucket", code="usage")
    root.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    written = 0
    with ledger.engine.connect() as conn:
        for name, table, schema in (("programs", s.programs, PROGRAMS),
                                    ("catalogues", s.catalogues, CATALOGUES),
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
                nonlocal n, written
                for t in it:
                    n += t.num_rows
                    written += t.num_rows
                    if progress is not None:
                        progress(written)
                    yield t

            write_bucketed(root / name, counted(_stream(conn, table, schema)), schema,
                            buckets)
            (root / name).mkdir(exist_ok=True)
            counts[name] = n
    manifest = {"format": FORMAT, "buckets": buckets,
                "bucket_hash": "fnv1a32(utf8(subject)) % buckets",
                "instants": "int64 microseconds UTC", "counts": counts,
                "exported_at": format_instant(ledger.clock())}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


# -- reading an export ------------------------------------------------------------

def read_table(root: Path, name: str, schema: pa.Schema, bucket: str | None = None
               ) -> pa.Table:
    """One table of an export (or one bucket of it), cast to its schema."""
    path = root / name if bucket is None else root / name / f"bucket={bucket}"
    if not path.exists():
        return schema.empty_table()
    data = ds.dataset(path, format="parquet")
    have = [n for n in schema.names if n in data.schema.names]
    t = data.to_table(columns=have)
    for name in schema.names:  # columns added since the export was written: nulls
        if name not in have:
            t = t.append_column(schema.field(name), pa.nulls(t.num_rows,
                                                             schema.field(name).type))
    return t.select(schema.names).cast(schema)


def bucket_names(root: Path) -> list[str]:
    """The buckets of an export's records, in order."""
    return sorted(p.name.split("=", 1)[1] for p in (root / "records").glob("bucket=*"))


def read_manifest(root: Path) -> dict[str, Any]:
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise LedgerError(f"{root}: no manifest.json; not a socialcredit Parquet export",
                          code="import.invalid")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT:
        raise LedgerError(f"{root}: unknown format {manifest.get('format')!r}",
                          code="import.invalid")
    return manifest


def read_program_versions(root: str | Path) -> list[ProgramVersion]:
    """The published versions of an export, with their rulebooks."""
    t = ds.dataset(Path(root) / "programs", format="parquet").to_table()
    out = []
    for r in t.to_pylist():
        rb = Rulebook.model_validate(json.loads(r["canonical"]))
        out.append(ProgramVersion(r["program"], r["version"], r["effective_at"],
                                  r["published_at"], r["sha256"], rb, r["seq"]))
    return out


__all__ = ["CATALOGUES", "DEFAULT_BUCKETS", "FORMAT", "PROGRAMS", "PROVIDERS", "RECORDS",
           "SUBJECTS", "bucket_names", "bucket_of", "export_ledger", "fnv1a", "read_manifest",
           "read_program_versions", "read_table", "write_bucketed"]
