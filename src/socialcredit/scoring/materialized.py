"""Materialized standings: every subject's standing in a table, kept current on ingest.

``socialcredit score --all`` computes the standings of a whole program with the batch
engine (or Spark) and writes them to ``sc_standings`` in the ledger database and/or to
Parquet. Relying parties that need a standing in microseconds read the row instead of
recomputing it; to keep that safe, :func:`refresh_standings` runs inside the ingest
transaction and recomputes the rows of exactly the subjects a file touched, with the
same engine, so the materialized row equals a fresh batch run the moment the records
are committed (no lag at all).

Each row carries the (at, known_at) it was computed for, and what keeps it exact
afterwards (scoring/exact.py): its sums by dimension and half-life, its record lists,
and `valid_until`, the instant of its next discrete change — computed by the batch
engine for a full run and an ingest (scoring/exact_batch.py), by the reference engine
for a row a reader recomputes. Read at any t in [at, valid_until) the standing is
computed from the row alone; at or after it — or for a row without terms (a Spark run,
a run as known before the last commit), exact at its own `at` only — the reader
recomputes the row from the ledger and writes it back (`exact_row`,
`write_refreshed`). Nothing needs a schedule.

The table is derived data: it may be emptied and rebuilt at any time.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from sqlalchemy import (
    Connection,
    Engine,
    delete,
    func,
    select,
)

from socialcredit.db import in_keys, mark
from socialcredit.errors import LedgerError
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import ProgramVersion
from socialcredit.ledger.schema import standings
from socialcredit.ledger.store import Ledger
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring import exact
from socialcredit.scoring.batch import (
    RECORD_SCHEMA,
    SUBJECT_SCHEMA,
    Partition,
    RecordIds,
    compile_rulebook,
    dimension_column,
    output_schema,
    relevant_types,
    score_partition,
)
from socialcredit.scoring.partitions import (
    fetch_partition,
    rows_for_memory,
    rows_to_table,
    store_partitions,
    store_reader,
)
from socialcredit.scoring.standing import Standing

CHUNK = 5_000
#: Subjects written per transaction by a full run: small enough that a writer waiting
#: for the lock waits well under a second.
SLICE = 5_000
Progress = Callable[[int, int], None]  # (subjects, records) done in the last partition


def has_rows(conn: Connection) -> bool:
    """Whether `score --all` ever ran (or is running): until then ingest has no rows to
    keep current."""
    return conn.execute(select(s.materialized.c.program).limit(1)).first() is not None


def materialized_programs(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute(select(s.materialized.c.program))]


def _mark(conn: Connection, program: str, since: int) -> None:
    """Record that `program` is materialized, before the first row is written: an
    ingest committed while a run is under way refreshes its subjects' rows itself."""
    if conn.execute(select(s.materialized.c.program).where(
            s.materialized.c.program == program)).first() is None:
        conn.execute(s.materialized.insert().values(program=program, since=since))


def standing_rows(rb: Rulebook, program: str, table: pa.Table, t: int, k: int, now: int
                  ) -> list[dict[str, Any]]:
    """Batch-engine output -> sc_standings rows (with the exact terms when the engine
    computed them)."""
    cols = table.to_pydict()
    dim_cols = [(d.id, cols[dimension_column(d.id)]) for d in rb.dimensions]
    out = []
    n = table.num_rows
    terms, until = cols.get("terms", [None] * n), cols.get("valid_until", [None] * n)
    encode = _COMPACT.encode
    # few distinct list memberships however many subjects: each spelled once
    spelled: dict[tuple[str, ...] | None, str] = {}
    for i, subject in enumerate(cols["subject"]):
        lists = cols["lists"][i]
        key = None if lists is None else tuple(lists)
        text = spelled.get(key)
        if text is None:
            text = spelled[key] = encode(lists)
        out.append({
            "program": program, "subject": subject, "subject_kind": cols["subject_kind"][i],
            "version": rb.version, "sha256": rb.sha256, "at": t, "known_at": k,
            "score": cols["score"][i], "tier": cols["tier"][i],
            "dimensions": encode({d: v[i] for d, v in dim_cols}), "lists": text,
            "computed_at": now, "terms": terms[i], "valid_until": until[i]})
    return out


_COLUMNS = [c.name for c in standings.columns]
_ROW = operator.itemgetter(*_COLUMNS)
#: json.dumps(…, separators=(",", ":")) without a new encoder per call (the same bytes).
_COMPACT = json.JSONEncoder(separators=(",", ":"))


def _write_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """SQLite: one prepared statement executed for the rows as tuples (driver-level SQL:
    SQLAlchemy's per-row parameter processing was a third of an ingest's standings
    refresh); PostgreSQL: SQLAlchemy's multi-row VALUES."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        sql = (f"INSERT INTO {standings.name} ({', '.join(_COLUMNS)}) VALUES "
               f"({', '.join(['?'] * len(_COLUMNS))})")
        for i in range(0, len(rows), CHUNK):
            conn.exec_driver_sql(sql, list(map(_ROW, rows[i:i + CHUNK])))
        return
    for i in range(0, len(rows), CHUNK):
        conn.execute(standings.insert(), rows[i:i + CHUNK])


def _replace_slice(ledger: Ledger, program: str, rows: list[dict[str, Any]], run: int
                   ) -> None:
    """Put one slice of a run's rows in place, in a short write transaction of its own:
    rows older than the run go, rows refreshed by an ingest since the run started
    (computed_at > run) stay — they are newer than what the run computed."""
    for i in range(0, len(rows), SLICE):
        part = rows[i:i + SLICE]
        keys = [r["subject"] for r in part]
        with ledger.write() as conn:
            newer: set[str] = set()
            for j in range(0, len(keys), 900):
                chunk = keys[j:j + 900]
                conn.execute(delete(standings).where(
                    standings.c.program == program, standings.c.subject.in_(chunk),
                    standings.c.computed_at <= run))
                newer.update(r[0] for r in conn.execute(select(standings.c.subject).where(
                    standings.c.program == program, standings.c.subject.in_(chunk))))
            _write_rows(conn, [r for r in part if r["subject"] not in newer])


def with_metadata(table: pa.Table, rb: Rulebook, program: str, t: int, k: int) -> pa.Table:
    """Parquet standings say which program version and which (t, k) they are."""
    meta = {b"socialcredit.program": program.encode(), b"socialcredit.version":
            rb.version.encode(), b"socialcredit.sha256": rb.sha256.encode(),
            b"socialcredit.at": str(t).encode(), b"socialcredit.known_at": str(k).encode()}
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})


def _counting(parts: Iterable[Partition], progress: Progress | None
              ) -> Iterator[tuple[pa.Table, pa.Table | None, RecordIds | None]]:
    for part in parts:
        recs, subs = part[0], part[1]
        ids = part[2] if len(part) == 3 else None
        yield recs, subs, ids
        if progress is not None:
            progress(subs.num_rows if subs is not None else 0, recs.num_rows)


def score_all(ledger: Ledger, program: str | None, t: int, k: int, *,
              out: str | Path | None = None, table: bool = True,
              memory_limit: str | int | None = None, rows_per_partition: int | None = None,
              progress: Progress | None = None) -> tuple[str, Rulebook, int]:
    """Score every subject of the ledger under `program` at (t, k) with the batch engine,
    partition by partition, into sc_standings and/or a Parquet file. Returns (program,
    rulebook, subjects).

    The run never holds the ledger's write lock for long: it reads one consistent
    snapshot, and writes its rows in slices of SLICE subjects, each in a short
    transaction of its own, so ingests, checks and decisions proceed while it runs.
    Until the run ends the table holds the previous rows for the subjects not yet
    reached (each row says the (at, known_at) it was computed for); rows an ingest
    refreshes meanwhile are newer than the run's and are kept."""
    name = ledger.resolve_program(program)
    versions = ledger.program_versions(name)
    rb = ledger.version_in_force(name, t, k).rulebook
    rows = rows_per_partition or rows_for_memory(memory_limit)
    comp = compile_rulebook(rb)
    writer: pq.ParquetWriter | None = None
    count = 0
    run = 0
    if table:
        with ledger.write() as conn:
            run = ledger.committed(conn)
            _mark(conn, name, run)
    # Rows exact at any later time (scoring/exact_batch.py) only when the run knows
    # every record committed before it: a row "as known at" an earlier k would be read
    # later as if nothing had been recorded since. And only for k ≤ t, as every row a
    # reader recomputes is (and as the property tests draw them).
    terms = table and run <= k <= t
    try:
        with store_reader(ledger) as reader:
            for recs, subs, ids in _counting(store_partitions(ledger, rb, k,
                                                              rows_per_partition=rows,
                                                              lazy_ids=reader is not None,
                                                              reader=reader), progress):
                res = score_partition(rb, recs, subs, t, k, compiled=comp, history=versions,
                                      terms=terms, record_ids=ids)
                count += res.num_rows
                if out is not None:
                    standing = with_metadata(res.select(output_schema(rb).names), rb, name, t,
                                             k)
                    if writer is None:
                        writer = pq.ParquetWriter(str(out), standing.schema)
                    writer.write_table(standing)
                if table:
                    _replace_slice(ledger, name, standing_rows(rb, name, res, t, k, run), run)
        if out is not None and writer is None:  # no subjects: still a valid file
            pq.write_table(with_metadata(output_schema(rb).empty_table(), rb, name, t, k),
                           str(out))
    finally:
        if writer is not None:
            writer.close()
    return name, rb, count


def load_standings(ledger: Ledger, program: str, rb: Rulebook, parquet: str | Path, t: int,
                   k: int) -> int:
    """Put standings computed elsewhere (the Spark engine's Parquet) into sc_standings,
    in slices as `score_all` does."""
    with ledger.write() as conn:
        run = ledger.committed(conn)
        _mark(conn, program, run)
    n = 0
    data = ds.dataset(str(parquet), format="parquet")
    for batch in data.to_batches(batch_size=50_000):
        rows = standing_rows(rb, program, pa.Table.from_batches([batch]), t, k, run)
        _replace_slice(ledger, program, rows, run)
        n += len(rows)
    return n


#: Files of subjects given whole by the caller (not read back): records as stored
#: (tuples in Ledger.RECORD_COLUMNS order, in the order they were stored; those of
#: other subjects ignored) and each such subject's kind.
Files = tuple[Sequence[tuple[Any, ...]], Mapping[str, str | None]]
#: A stored record tuple -> the engine's (RECORD_SCHEMA) tuple.
_ENGINE_FIELDS = operator.itemgetter(*[Ledger.RECORD_COLUMNS.index(n)
                                       for n in RECORD_SCHEMA.names])
_SUBJECT, _TYPE, _KIND, _RECORDED = (Ledger.RECORD_COLUMNS.index(n) for n in
                                     ("subject", "type", "kind", "recorded_at"))


def _with_files(rb: Rulebook, k: int, recs: pa.Table, subs: pa.Table, files: Files
                ) -> tuple[pa.Table, pa.Table]:
    """The read partition with the given files added, filtered as `fetch_partition`
    filters (known at k, relevant types, voids and resolutions) and ordered as the
    store returns a subject's records (by subject, then as stored)."""
    rows, kinds = files
    if not kinds:
        return recs, subs
    types = relevant_types(rb)
    mine = sorted((_ENGINE_FIELDS(r) for r in rows if r[_SUBJECT] in kinds
                   and r[_RECORDED] <= k
                   and (r[_KIND] in ("void", "resolution") or r[_TYPE] in types)),
                  key=operator.itemgetter(1))
    return (pa.concat_tables([recs, rows_to_table(mine, RECORD_SCHEMA)]),
            pa.concat_tables([subs, rows_to_table(sorted(kinds.items()), SUBJECT_SCHEMA)]))


def refresh_standings(ledger: Ledger, conn: Connection, subjects: set[str], at: int,
                      files: Files | None = None) -> None:
    """Bring the materialized standings of `subjects` up to date, inside the caller's
    transaction (ingest calls it after inserting records, at its transaction time
    `at`), for every program that is materialized. A no-op when ``score --all`` never
    ran on this ledger.

    t = k = `at`, the instant the records just stored were stamped with and a decision
    made right after would use; the rows are computed by the batch engine, so they
    equal a fresh ``score --all`` at that instant. `files`: subjects whose every record
    the caller has in hand (an ingest's new subjects), not read back."""
    if not subjects:
        return
    programs = materialized_programs(conn)
    if not programs:
        return
    t = at
    now = at
    keys = sorted(subjects)
    if files is not None:  # only the files of subjects to refresh
        files = (files[0], {k: files[1][k] for k in keys if k in files[1]})
    for name in programs:
        try:
            rb = ledger.version_in_force(name, t, t, conn).rulebook
        except LedgerError:  # no version of this program in force now: nothing to refresh
            continue
        if files is None:
            recs, subs = fetch_partition(conn, rb, t, None, None, subjects=keys)
        else:
            recs, subs = _with_files(rb, t, *fetch_partition(
                conn, rb, t, None, None, subjects=[k for k in keys if k not in files[1]]),
                files)
        res = score_partition(rb, recs, subs, t, t,
                              history=ledger.program_versions(name, conn), terms=True)
        where, param = in_keys(conn, "subject", keys)  # one statement, however many
        conn.exec_driver_sql(f"DELETE FROM {standings.name} WHERE program = {mark(conn)} "
                             f"AND {where}", (name, param))
        _write_rows(conn, standing_rows(rb, name, res, t, t, now))


def read_standing(bind: Engine | Connection, program: str, subject: str
                  ) -> dict[str, Any] | None:
    """One materialized row, with dimensions and lists decoded."""
    q = select(standings).where(standings.c.program == program,
                                standings.c.subject == subject)
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            row = conn.execute(q).mappings().first()
    else:
        row = bind.execute(q).mappings().first()
    if row is None:
        return None
    out = dict(row)
    out["dimensions"] = json.loads(out["dimensions"])
    out["lists"] = json.loads(out["lists"])
    return out


def exact_row(ledger: Ledger, conn: Connection, rb: Rulebook, program: str, subject: str,
              t: int, k: int, history: list[ProgramVersion]
              ) -> tuple[dict[str, Any], Standing, exact.Terms]:
    """The subject's row recomputed from the ledger at (t, k) by the reference engine,
    with what keeps it exact until its next discrete change."""
    kind = ledger.subject_kind(subject, k, conn)
    records = ledger.records_of(subject, conn)
    st, terms = exact.build(rb, subject, kind, records, t, k, program=program, now=t,
                            history=history)
    row = {"program": program, "subject": subject, "subject_kind": kind,
           "version": rb.version, "sha256": rb.sha256, "at": t, "known_at": k,
           "score": st.score, "tier": st.tier,
           "dimensions": json.dumps(st.dimensions, separators=(",", ":")),
           "lists": json.dumps(st.lists, separators=(",", ":")),
           "computed_at": k, "terms": terms.dumps(), "valid_until": terms.until}
    return row, st, terms


def write_refreshed(conn: Connection, row: dict[str, Any]) -> bool:
    """Put a row recomputed by a reader in place, unless a writer has stored a newer one
    since the reader's snapshot (an ingest refreshes the rows of the subjects it touches,
    with its own transaction time as computed_at): the newer row wins. False when the
    row was not written."""
    c = standings.c
    conn.execute(delete(standings).where(c.program == row["program"],
                                         c.subject == row["subject"],
                                         c.computed_at <= row["computed_at"]))
    if conn.execute(select(c.subject).where(c.program == row["program"],
                                            c.subject == row["subject"])).first() is not None:
        return False
    conn.execute(standings.insert().values(**row))
    return True


def totals(ledger: Ledger) -> tuple[int, int]:
    """(subjects, records) in the ledger, for progress bars."""
    with ledger.engine.connect() as conn:
        n_s = int(conn.execute(select(func.count()).select_from(s.subjects)).scalar() or 0)
        n_r = int(conn.execute(select(func.count()).select_from(s.records)).scalar() or 0)
    return n_s, n_r


__all__ = ["SLICE", "exact_row", "has_rows", "load_standings", "materialized_programs",
           "read_standing", "refresh_standings", "score_all", "standing_rows", "standings",
           "totals", "with_metadata", "write_refreshed"]
