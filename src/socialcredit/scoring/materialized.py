"""Materialized standings: every subject's standing in a table, kept current on ingest.

``socialcredit score --all`` computes the standings of a whole program with the batch
engine (or Spark) and writes them to ``sc_standings`` in the ledger database and/or to
Parquet. Relying parties that need a standing in microseconds read the row instead of
recomputing it; to keep that safe, :func:`refresh_standings` runs inside the ingest
transaction and recomputes the rows of exactly the subjects a file touched, with the
same engine, so the materialized row equals a fresh batch run the moment the records
are committed (no lag at all).

Each row carries the (at, known_at) it was computed for: a full run without ``--at``
and every refresh use the ledger's clock, so the table reads as "now" for recently
touched subjects and "as of the last full run" for the others (decay and expiry move
standings with time alone: re-run ``score --all`` on a schedule, e.g. nightly).

The table is derived data: it may be emptied and rebuilt at any time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
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

from socialcredit.errors import LedgerError
from socialcredit.ledger import schema as s
from socialcredit.ledger.schema import standings
from socialcredit.ledger.store import Ledger
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.batch import compile_rulebook, dimension_column, score_partition
from socialcredit.scoring.partitions import (
    fetch_partition,
    rows_for_memory,
    store_partitions,
)

CHUNK = 5_000
Progress = Callable[[int, int], None]  # (subjects, records) done in the last partition


def has_rows(conn: Connection) -> bool:
    """Whether `score --all` ever ran: until then ingest has no rows to keep current."""
    return conn.execute(select(standings.c.program).limit(1)).first() is not None


def standing_rows(rb: Rulebook, program: str, table: pa.Table, t: int, k: int, now: int
                  ) -> list[dict[str, Any]]:
    """Batch-engine output -> sc_standings rows."""
    cols = table.to_pydict()
    dim_cols = [(d.id, cols[dimension_column(d.id)]) for d in rb.dimensions]
    out = []
    for i, subject in enumerate(cols["subject"]):
        out.append({
            "program": program, "subject": subject, "subject_kind": cols["subject_kind"][i],
            "version": rb.version, "sha256": rb.sha256, "at": t, "known_at": k,
            "score": cols["score"][i], "tier": cols["tier"][i],
            "dimensions": json.dumps({d: v[i] for d, v in dim_cols}, separators=(",", ":")),
            "lists": json.dumps(cols["lists"][i], separators=(",", ":")),
            "computed_at": now})
    return out


def _write_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK):
        conn.execute(standings.insert(), rows[i:i + CHUNK])


def with_metadata(table: pa.Table, rb: Rulebook, program: str, t: int, k: int) -> pa.Table:
    """Parquet standings say which program version and which (t, k) they are."""
    meta = {b"socialcredit.program": program.encode(), b"socialcredit.version":
            rb.version.encode(), b"socialcredit.sha256": rb.sha256.encode(),
            b"socialcredit.at": str(t).encode(), b"socialcredit.known_at": str(k).encode()}
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})


def _counting(parts: Iterable[tuple[pa.Table, pa.Table]], progress: Progress | None
              ) -> Iterator[tuple[pa.Table, pa.Table]]:
    for recs, subs in parts:
        yield recs, subs
        if progress is not None:
            progress(subs.num_rows, recs.num_rows)


def score_all(ledger: Ledger, program: str | None, t: int, k: int, *,
              out: str | Path | None = None, table: bool = True,
              memory_limit: str | int | None = None, rows_per_partition: int | None = None,
              progress: Progress | None = None) -> tuple[str, Rulebook, int]:
    """Score every subject of the ledger under `program` at (t, k) with the batch engine,
    partition by partition, into sc_standings (replacing the program's rows in one
    transaction) and/or a Parquet file. Returns (program, rulebook, subjects)."""
    name = ledger.resolve_program(program)
    rb = ledger.version_in_force(name, t, k).rulebook
    rows = rows_per_partition or rows_for_memory(memory_limit)
    comp = compile_rulebook(rb)
    writer: pq.ParquetWriter | None = None
    count = 0
    now = ledger.clock()
    with ledger.engine.begin() as conn:
        if table:
            conn.execute(delete(standings).where(standings.c.program == name))
        try:
            for recs, subs in _counting(store_partitions(ledger, rb, k,
                                                         rows_per_partition=rows), progress):
                res = score_partition(rb, recs, subs, t, k, compiled=comp)
                count += res.num_rows
                if out is not None:
                    res = with_metadata(res, rb, name, t, k)
                    if writer is None:
                        writer = pq.ParquetWriter(str(out), res.schema)
                    writer.write_table(res)
                if table:
                    _write_rows(conn, standing_rows(rb, name, res, t, k, now))
            if out is not None and writer is None:  # no subjects: still a valid file
                from socialcredit.scoring.batch import output_schema

                pq.write_table(with_metadata(output_schema(rb).empty_table(), rb, name, t, k),
                               str(out))
        finally:
            if writer is not None:
                writer.close()
    return name, rb, count


def load_standings(ledger: Ledger, program: str, rb: Rulebook, parquet: str | Path, t: int,
                   k: int) -> int:
    """Put standings computed elsewhere (the Spark engine's Parquet) into sc_standings."""
    now = ledger.clock()
    n = 0
    with ledger.engine.begin() as conn:
        conn.execute(delete(standings).where(standings.c.program == program))
        data = ds.dataset(str(parquet), format="parquet")
        for batch in data.to_batches(batch_size=50_000):
            rows = standing_rows(rb, program, pa.Table.from_batches([batch]), t, k, now)
            _write_rows(conn, rows)
            n += len(rows)
    return n


def refresh_standings(ledger: Ledger, conn: Connection, subjects: set[str]) -> None:
    """Bring the materialized standings of `subjects` up to date, inside the caller's
    transaction (ingest calls it after inserting records), for every program that has
    materialized standings. A no-op when ``score --all`` never ran on this ledger.

    t = k = the ledger's clock (never earlier than anything recorded), the same
    instant a decision made right now would use; the rows are computed by the batch
    engine, so they equal a fresh ``score --all`` at that instant."""
    if not subjects or not has_rows(conn):
        return
    programs = [r[0] for r in conn.execute(select(standings.c.program).distinct())]
    if not programs:
        return
    t = ledger.tick(conn)
    now = ledger.clock()
    keys = sorted(subjects)
    for name in programs:
        try:
            rb = ledger.version_in_force(name, t, t).rulebook
        except LedgerError:  # no version of this program in force now: nothing to refresh
            continue
        recs, subs = fetch_partition(conn, rb, t, None, None, subjects=keys)
        res = score_partition(rb, recs, subs, t, t)
        for i in range(0, len(keys), 900):
            conn.execute(delete(standings).where(standings.c.program == name,
                                                 standings.c.subject.in_(keys[i:i + 900])))
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


def totals(ledger: Ledger) -> tuple[int, int]:
    """(subjects, records) in the ledger, for progress bars."""
    with ledger.engine.connect() as conn:
        n_s = int(conn.execute(select(func.count()).select_from(s.subjects)).scalar() or 0)
        n_r = int(conn.execute(select(func.count()).select_from(s.records)).scalar() or 0)
    return n_s, n_r


__all__ = ["has_rows", "load_standings", "read_standing", "refresh_standings", "score_all",
           "standing_rows", "standings", "totals", "with_metadata"]
