"""Bounded memory: feed the batch engine one partition of subjects at a time.

A partition holds every record of a set of subjects, so it is self-contained (a void or
resolution names a record of its own subject; ingest enforces it). Two sources:

* the store (SQLAlchemy, SQLite or PostgreSQL): partitions are *ranges* of subjects in
  the database's own ordering. The boundaries come from one streamed pass over
  ``sc_subjects ORDER BY subject`` (keeping every M-th id only), and each partition is
  then one indexed range query. Range predicates and ORDER BY use the same collation,
  so the ranges tile the key space whatever the server's locale.
* a Parquet ledger written by ``socialcredit export`` (``records/bucket=NN``): each
  hash bucket is a partition, split further by a second hash pass when the memory
  limit asks for more partitions than there are buckets.

Peak memory is a setting: ``memory_limit="2GB"`` becomes a partition count from the
engine's measured working set per record (:data:`BYTES_PER_RECORD`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.dataset as ds
from sqlalchemy import Connection, and_, func, or_, select

from socialcredit.errors import UsageError
from socialcredit.ledger import schema as s
from socialcredit.ledger.arrow import ArrowReader
from socialcredit.ledger.arrow import available as arrow_available
from socialcredit.ledger.parquet import fnv1a, read_program_versions
from socialcredit.ledger.store import Ledger
from socialcredit.ledger.versions import choose_program, pick_version, program_names
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.batch import (
    RECORD_SCHEMA,
    SUBJECT_SCHEMA,
    Partition,
    relevant_types,
    score_batches,
)

#: Peak bytes per record while a partition is scored (Arrow columns + NumPy
#: temporaries), measured by benchmarks/batch.py on the benchmark ledger; rounded up.
BYTES_PER_RECORD = 600
DEFAULT_ROWS_PER_PARTITION = 2_000_000
_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
          "G": 1 << 30, "GB": 1 << 30, "T": 1 << 40, "TB": 1 << 40}


def parse_memory(value: str | int) -> int:
    """'2GB', '512MB', '1.5G' or a number of bytes."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?B?)\s*", value.upper())
    if not m:
        raise UsageError(f"memory limit: not a size (e.g. 2GB, 512MB): {value!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def rows_for_memory(memory_limit: str | int | None) -> int:
    """Records per partition that keep the engine's peak under memory_limit."""
    if memory_limit is None:
        return DEFAULT_ROWS_PER_PARTITION
    return max(1000, parse_memory(memory_limit) // BYTES_PER_RECORD)


# -- the store ------------------------------------------------------------------------------

def _record_filter(rb: Rulebook, k: int) -> object:
    c = s.records.c
    return and_(c.recorded_at <= k,
                or_(c.kind.in_(("void", "resolution")), c.type.in_(relevant_types(rb))))


def subject_ranges(conn: Connection, partitions: int) -> list[tuple[str | None, str | None]]:
    """[lo, hi) ranges of subjects, in the database's ordering, about equal in size."""
    n = int(conn.execute(select(func.count()).select_from(s.subjects)).scalar() or 0)
    if partitions <= 1 or n <= 1:
        return [(None, None)]
    step = math.ceil(n / partitions)
    bounds: list[str] = []
    q = select(s.subjects.c.subject).order_by(s.subjects.c.subject)
    for i, row in enumerate(conn.execution_options(stream_results=True, yield_per=50_000)
                            .execute(q)):
        if i and i % step == 0:
            bounds.append(row[0])
    edges: list[str | None] = [None, *bounds, None]
    return list(itertools.pairwise(edges))


def _in_range(col: object, lo: str | None, hi: str | None) -> list[object]:
    conds: list[object] = []
    if lo is not None:
        conds.append(col >= lo)  # type: ignore[operator]
    if hi is not None:
        conds.append(col < hi)  # type: ignore[operator]
    return conds


def rows_to_table(rows: Sequence[Sequence[object]], schema: pa.Schema) -> pa.Table:
    cols: list[Sequence[object]] = (list(zip(*rows, strict=True)) if rows
                                    else [() for _ in schema.names])
    return pa.table({name: pa.array(list(col), schema.field(name).type)
                     for name, col in zip(schema.names, cols, strict=True)}, schema=schema)


def fetch_partition(conn: Connection, rb: Rulebook, k: int, lo: str | None, hi: str | None,
                    subjects: Sequence[str] | None = None) -> tuple[pa.Table, pa.Table]:
    """Records (pushdown: known at k, relevant types, voids, resolutions) and subjects of
    one range, or of an explicit list of subjects."""
    c = s.records.c
    cols = [c.record_id, c.subject, c.type, c.kind, c.occurred_at, c.recorded_at,
            c.value_num, c.value_text, c.ref, c.ingested_at]
    sc = s.subjects.c
    if subjects is not None:
        recs: list[Sequence[object]] = []
        subs: list[Sequence[object]] = []
        keys = sorted(set(subjects))
        for i in range(0, len(keys), 900):
            chunk = keys[i:i + 900]
            recs.extend(conn.execute(select(*cols).where(
                c.subject.in_(chunk), _record_filter(rb, k))).all())  # type: ignore[arg-type]
            subs.extend(conn.execute(select(sc.subject, sc.kind).where(
                sc.subject.in_(chunk))).all())
    else:
        recs = list(conn.execute(select(*cols).where(
            _record_filter(rb, k), *_in_range(c.subject, lo, hi))).all())  # type: ignore[arg-type]
        subs = list(conn.execute(select(sc.subject, sc.kind).where(
            *_in_range(sc.subject, lo, hi))).all())  # type: ignore[arg-type]
    return rows_to_table(recs, RECORD_SCHEMA), rows_to_table(subs, SUBJECT_SCHEMA)


#: Up to this many partitions, each is read by a scan of the whole records table
#: (read_partition); beyond it, through the subject index.
SCAN_RANGES = 4
#: The engine's columns as (name, Arrow type, nullable), for the Arrow reader.
_RECORD_COLUMNS = [(f.name, f.type, f.name in ("value_num", "value_text", "ref",
                                               "ingested_at")) for f in RECORD_SCHEMA]
_SUBJECT_COLUMNS = [(f.name, f.type, False) for f in SUBJECT_SCHEMA]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def read_partition(reader: ArrowReader, rb: Rulebook, k: int, lo: str | None,
                   hi: str | None, *, scan: bool = True) -> tuple[pa.Table, pa.Table]:
    recs, subs = submit_partition(reader, rb, k, lo, hi, scan=scan)
    return recs(), subs()


#: The record columns that may hold no value in any row (then they are not read).
_NULLABLE = [name for name, _, nullable in _RECORD_COLUMNS if nullable]


def submit_partition(reader: ArrowReader, rb: Rulebook, k: int, lo: str | None,
                     hi: str | None, *, scan: bool = True, lazy_ids: bool = False,
                     empty: Collection[str] = ()
                     ) -> tuple[Callable[[], pa.Table], Callable[[], pa.Table]]:
    """fetch_partition's tables, read as Arrow columns (no Python row loop): the same
    pushdown (known at k, relevant types, voids, resolutions) and range.

    `scan`: read the table in storage order rather than through the subject index.
    Fetching rows by index is a random read per record, measured at 4.6× a full scan
    of the table on SQLite (1M records: 12.4 s against 2.7 s); a full scan per
    partition wins until partitions are a small share of the table. The recorded_at
    index is never used here (`+recorded_at`): `recorded_at <= k` keeps almost every
    row.

    `lazy_ids`: the records table has `seq` in place of record_id (the widest column,
    which the engine compares for only a few records: :class:`_StoreIds` reads those).
    `empty`: columns known to hold no value in the reader's snapshot; they are not read
    but added as nulls."""
    types = relevant_types(rb)
    of_type = f"type IN ({', '.join(_literal(t) for t in types)})" if types else "1 = 0"
    column = "+subject" if scan and reader.dialect == "sqlite" else "subject"
    rng, params = [], []
    if lo is not None:
        rng.append(f"{column} >= ?")
        params.append(lo)
    if hi is not None:
        rng.append(f"{column} < ?")
        params.append(hi)
    stamp = "+recorded_at" if reader.dialect == "sqlite" else "recorded_at"
    columns = [c for c in _RECORD_COLUMNS if c[0] not in empty
               and not (lazy_ids and c[0] == "record_id")]
    if lazy_ids:
        columns.insert(0, ("seq", pa.int64(), False))
    query = reader.submit(s.records.name, columns, " AND ".join(
        [f"{stamp} <= ?", f"(kind IN ('void', 'resolution') OR {of_type})", *rng]),
        [k, *params])
    names = [("seq" if lazy_ids else "record_id"),
             *[f.name for f in RECORD_SCHEMA if f.name != "record_id"]]

    def recs() -> pa.Table:
        got = query()
        for name in empty:
            got = got.append_column(RECORD_SCHEMA.field(name),
                                    pa.nulls(got.num_rows, RECORD_SCHEMA.field(name).type))
        return got.select(names)

    subs = reader.submit(s.subjects.name, _SUBJECT_COLUMNS, " AND ".join(rng), params)
    return recs, subs


class _StoreIds:
    """Record ids of a partition read from the database when the engine asks for them:
    by seq, in the snapshot of the reader that read the partition (the reader stays
    open until the run has scored its last partition)."""

    def __init__(self, reader: ArrowReader, seqs: npt.NDArray[np.int64]) -> None:
        self._reader = reader
        self._seqs = seqs

    def __call__(self, rows: npt.NDArray[np.int64]) -> pa.Array:
        return self._reader.by_seq(s.records.name, ("record_id", pa.string(), False),
                                   self._seqs[rows])


def store_partitions(ledger: Ledger, rb: Rulebook, k: int, *,
                     rows_per_partition: int = DEFAULT_ROWS_PER_PARTITION,
                     lazy_ids: bool = False, reader: ArrowReader | None = None
                     ) -> Iterator[Partition]:
    """The ledger's partitions, read straight into Arrow by the database's ADBC driver
    when it is installed (ledger/arrow.py), else through the DB-API. With ADBC the next
    partition is read while the caller scores this one, columns that hold no value in
    the run's snapshot are not read, and with `lazy_ids` record ids are read only for
    the records the engine compares (partitions are then (records, subjects,
    record_ids), as parquet_partitions gives them) — except on SQLite when records
    hold references: then the ids are read with the rows, which costs less there.

    `reader`: the run's reader (:func:`store_reader`), which the caller keeps open until
    the last partition is scored: `lazy_ids` needs it, as record ids are read in its
    snapshot when the engine asks, which may be after this iterator has ended
    (score_batches scores on threads)."""
    if reader is None:
        if not arrow_available(ledger.engine.dialect.name):
            with ledger.engine.connect() as conn:
                for lo, hi in _ranges(conn, rows_per_partition):
                    yield fetch_partition(conn, rb, k, lo, hi)
            return
        if lazy_ids:
            raise ValueError("lazy record ids need a reader the caller keeps open")
        # the reader starts first (SQLite's is a process); the ranges only tile the key
        # space, the reader's own snapshot reads every record
        with ArrowReader(ledger.engine, split=s.records.name) as own:
            yield from store_partitions(ledger, rb, k, rows_per_partition=rows_per_partition,
                                        lazy_ids=lazy_ids, reader=own)
        return
    with ledger.engine.connect() as conn:
        ranges = _ranges(conn, rows_per_partition)
    scan = len(ranges) <= SCAN_RANGES
    # in the reader's snapshot, as every other read of the run
    # On SQLite only `ref` is asked (its partial index answers at once): asking a column
    # without an index scans the whole table when the column is empty, one process on
    # one core, where reading it with the rows costs a little more in each half
    asked = ["ref"] if reader.dialect == "sqlite" else _NULLABLE
    full = reader.has_values(s.records.name, asked) | (set(_NULLABLE) - set(asked))
    empty = [name for name in _NULLABLE if name not in full]
    # On SQLite an id read by seq costs some twenty times an id read with its row
    # (1M records: 217k ids by seq, ~1 s, against ~0.1 s a half for the column): once
    # records reference others (voids, resolutions), the engine compares the ids of
    # every record of the subjects that hold a reference, a large share of the rows
    lazy_ids = lazy_ids and not (reader.dialect == "sqlite" and "ref" in full)

    def submit(lo: str | None, hi: str | None
               ) -> tuple[Callable[[], pa.Table], Callable[[], pa.Table]]:
        return submit_partition(reader, rb, k, lo, hi, scan=scan, lazy_ids=lazy_ids,
                                empty=empty)

    ahead = submit(*ranges[0])
    for i in range(len(ranges)):
        recs, subs = ahead
        if i + 1 < len(ranges):
            ahead = submit(*ranges[i + 1])
        table = recs()
        if not lazy_ids:
            yield table, subs()
            continue
        seqs = table.column("seq").to_numpy()
        yield table.drop_columns(["seq"]), subs(), _StoreIds(reader, seqs)


def _ranges(conn: Connection, rows_per_partition: int) -> list[tuple[str | None, str | None]]:
    n = int(conn.execute(select(func.count()).select_from(s.records)).scalar() or 0)
    return subject_ranges(conn, math.ceil(n / max(rows_per_partition, 1)))


def score_ledger(ledger: Ledger, program: str | None, t: int, k: int, *,
                 memory_limit: str | int | None = None,
                 rows_per_partition: int | None = None) -> Iterator[pa.Table]:
    """Standings of every subject of the ledger under `program` at (t, k), partition by
    partition (concatenate them, or write them as they come)."""
    name = ledger.resolve_program(program)
    rb = ledger.version_in_force(name, t, k).rulebook
    rows = rows_per_partition or rows_for_memory(memory_limit)
    history = ledger.program_versions(name)
    # the reader outlives the partitions: scoring threads read record ids through it
    with store_reader(ledger) as reader:
        yield from score_batches(rb, store_partitions(ledger, rb, k, rows_per_partition=rows,
                                                      lazy_ids=reader is not None,
                                                      reader=reader),
                                 t, k, history=history)


@contextmanager
def store_reader(ledger: Ledger) -> Iterator[ArrowReader | None]:
    """The reader of a run over the store (None without the ADBC driver): every
    partition and every record id the run reads comes from its one snapshot. Keep it
    open until the run's last partition is scored."""
    if not arrow_available(ledger.engine.dialect.name):
        yield None
        return
    with ArrowReader(ledger.engine, split=s.records.name) as reader:
        yield reader


# -- Parquet ledgers -------------------------------------------------------------------------

def parquet_buckets(root: Path) -> list[Path]:
    return sorted(p for p in (root / "records").glob("bucket=*") if p.is_dir())


def parquet_partitions(root: str | Path, rb: Rulebook, k: int, *,
                       rows_per_partition: int = DEFAULT_ROWS_PER_PARTITION,
                       lazy_ids: bool = False) -> Iterator[Partition]:
    """One partition per bucket of an exported ledger, or several per bucket (a second
    hash) when a bucket holds more records than rows_per_partition.

    `lazy_ids`: leave record_id out of each records table and give a source that reads
    it when the engine asks (partitions are then (records, subjects, record_ids)).
    Record ids are the widest column and the engine compares only a few of them."""
    base = Path(root)
    keep = _pushdown(rb, k)
    schema = (pa.schema([f for f in RECORD_SCHEMA if f.name != "record_id"]) if lazy_ids
              else RECORD_SCHEMA)
    for bucket in parquet_buckets(base):
        rdata = ds.dataset(bucket, format=_DICT_FORMAT)
        sdir = base / "subjects" / bucket.name
        sdata = ds.dataset(sdir, format="parquet") if sdir.exists() else None
        n = rdata.count_rows()
        splits = max(1, math.ceil(n / max(rows_per_partition, 1)))
        for j in range(splits):
            recs, at = _read_split(rdata, keep, schema, splits, j)
            subs = (_read_split(sdata, None, SUBJECT_SCHEMA, splits, j)[0]
                    if sdata is not None
                    else pa.table({"subject": pa.array([], pa.string()),
                                   "kind": pa.array([], pa.string())}))
            if lazy_ids:
                yield recs, subs, _ParquetIds(rdata, at)
            else:
                yield recs, subs


class _ParquetIds:
    """Record ids of a partition read from its bucket on first use: the bucket's
    record_id column in the order the partition's records were read, through the
    positions the partition kept (None: all of them)."""

    def __init__(self, data: ds.Dataset, positions: npt.NDArray[np.int64] | None) -> None:
        self._data = data
        self._positions = positions
        self._ids: pa.Array | None = None

    def __call__(self, rows: npt.NDArray[np.int64]) -> pa.Array:
        if self._ids is None:
            col = self._data.to_table(columns=["record_id"]).column(0)
            self._ids = col.combine_chunks().cast(pa.string())
        at = rows if self._positions is None else self._positions[rows]
        return self._ids.take(pa.array(at, pa.int64()))


_Keep = Callable[[pa.Table], "npt.NDArray[np.bool_]"]


def _pushdown(rb: Rulebook, k: int) -> _Keep:
    """The records a standing at k can read (known at k; voids, resolutions and the
    rulebook's types) as a mask computed after reading.

    Not a dataset filter: Arrow evaluates a filter expression row by row over decoded
    columns and then copies every column through it, which doubled the CPU time of
    reading a ledger (10M records: 4.9 s against 2.4 s) although at the present it
    keeps every row. Here the kind and type tests are lookups over each chunk's few
    dictionary values, and the table is copied only when a row is dropped. Nulls drop
    a row as the filter's Kleene logic would."""
    types = set(relevant_types(rb))
    kinds = {"void", "resolution"}

    def member(col: pa.ChunkedArray, values: set[str]) -> npt.NDArray[np.bool_]:
        # a ledger's row groups are small (thousands of rows) and nearly all carry the
        # same few dictionary values: the lookup table of the last dictionary is kept
        # while the next one equals it, and indices without nulls are read in place
        parts = []
        last: pa.Array | None = None
        lut = np.zeros(1, bool)
        for chunk in col.chunks:
            if not pa.types.is_dictionary(chunk.type):
                chunk = chunk.dictionary_encode()
            d = chunk.dictionary
            if last is None or not d.equals(last):
                lut = np.array([v in values for v in d.to_pylist()] + [False])
                last = d
            ix = chunk.indices
            idx = (ix.fill_null(len(d)) if ix.null_count else ix).to_numpy(
                zero_copy_only=False)
            parts.append(lut[idx])
        return np.concatenate(parts) if parts else np.zeros(0, bool)

    def keep(table: pa.Table) -> npt.NDArray[np.bool_]:
        rec = table.column("recorded_at")
        known = (rec.fill_null(np.iinfo(np.int64).max) if rec.null_count else rec
                 ).to_numpy() <= k
        out: npt.NDArray[np.bool_] = known & (member(table.column("kind"), kinds)
                                              | member(table.column("type"), types))
        return out

    return keep


# type and kind are read as dictionaries: the pushdown filter and the engine's type
# and kind codes then work on a few distinct values instead of every row's string.
_DICT_FORMAT = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(
    dictionary_columns=["type", "kind"]))


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Cast to the engine's schema, keeping dictionary-encoded string columns."""
    cols = []
    for f in schema:
        c = table.column(f.name)
        if not (pa.types.is_dictionary(c.type) and c.type.value_type == f.type):
            c = c.cast(f.type)
        cols.append(c)
    return pa.table(cols, names=schema.names)


def _read_split(data: ds.Dataset, keep: _Keep | None, schema: pa.Schema, splits: int,
                j: int) -> tuple[pa.Table, npt.NDArray[np.int64] | None]:
    """Split j of `splits` (by a second hash of subject) of a dataset, with the rows
    `keep` keeps, and the positions of those rows in the dataset's order (None: every
    row, in order)."""
    missing = [f for f in schema.names if f not in data.schema.names]
    missing += _all_null(data, [f for f in schema.names if f not in missing])
    # an export from before a column existed (ingested_at), or a column without a value
    # in any row (ref, value_text, ... of many feeds): nulls, not read
    if missing:
        got, at = _read_split(data, None, pa.schema([f for f in schema
                                                    if f.name not in missing]), splits, j)
        for name in missing:
            got = got.append_column(schema.field(name),
                                    pa.nulls(got.num_rows, schema.field(name).type))
        got = got.select(schema.names)
        mask = keep(got) if keep is not None else None
        if mask is None or mask.all():
            return got, at
        return got.filter(pa.array(mask)), (np.flatnonzero(mask) if at is None
                                            else at[mask])
    if splits == 1:
        # one chunk per column: a ledger's row groups may be a few hundred rows, and
        # every later step (the mask, the engine's codes) works chunk by chunk — at
        # 100M records thousands of chunks a bucket cost more than one copy does
        table = data.to_table(columns=schema.names).combine_chunks()
        mask = keep(table) if keep is not None else None
        if mask is None or mask.all():
            return _conform(table, schema), None
        return _conform(table.filter(pa.array(mask)), schema), np.flatnonzero(mask)
    parts: list[pa.Table] = []
    kept: list[npt.NDArray[np.int64]] = []
    offset = 0
    columns = schema.names if "subject" in schema.names else [*schema.names, "subject"]
    for batch in data.to_batches(columns=columns):
        part = pa.Table.from_batches([batch])
        mask = (fnv1a(batch.column("subject")) // np.uint32(65_536)) % np.uint32(splits) == j
        if keep is not None:
            mask &= keep(part)
        parts.append(part.filter(pa.array(mask)).select(schema.names))
        kept.append(np.flatnonzero(mask) + offset)
        offset += batch.num_rows
    if not parts:
        return schema.empty_table(), np.zeros(0, np.int64)
    # one chunk per column, as a whole read gives (the batches are row groups)
    return (_conform(pa.concat_tables(parts, promote_options="permissive").combine_chunks(),
                     schema), np.concatenate(kept))


def _all_null(data: ds.Dataset, names: list[str]) -> list[str]:
    """The columns among `names` whose every value is null, by the files' statistics
    (no data read; a file without statistics for a column counts as having values).
    Reading a column of nulls costs as much as a fifth of a scan's CPU."""
    if not isinstance(data, ds.FileSystemDataset):
        return []
    fragments = list(data.get_fragments())
    null = set(names) if fragments else set()
    for frag in fragments:
        if not null:
            break
        md = frag.metadata
        paths = {md.schema.column(i).path: i for i in range(md.num_columns)}
        for name in list(null):
            i = paths.get(name)
            if i is None:
                null.discard(name)
                continue
            for g in range(md.num_row_groups):
                col = md.row_group(g).column(i)
                st = col.statistics
                if st is None or not st.has_null_count or st.null_count != col.num_values:
                    null.discard(name)
                    break
    return [n for n in names if n in null]


def score_parquet(root: str | Path, program: str | None, t: int, k: int, *,
                  memory_limit: str | int | None = None,
                  rows_per_partition: int | None = None) -> Iterator[pa.Table]:
    """Standings of every subject of an exported (Parquet) ledger at (t, k)."""
    versions = read_program_versions(root)
    name = choose_program(program_names(versions), program)
    rb = pick_version(versions, name, t, k).rulebook
    rows = rows_per_partition or rows_for_memory(memory_limit)
    yield from score_batches(rb, parquet_partitions(root, rb, k, rows_per_partition=rows,
                                                    lazy_ids=True),
                             t, k, history=[pv for pv in versions if pv.program == name])


__all__ = ["BYTES_PER_RECORD", "fetch_partition", "parquet_partitions", "parse_memory",
           "read_partition", "rows_for_memory", "score_ledger", "score_parquet",
           "store_partitions", "store_reader", "subject_ranges"]
