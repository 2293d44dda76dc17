"""Ingest: rows of records in, validated, stored all or nothing, with their public events.

`ingest_rows` takes any iterable of mappings (the record fields); `ingest_file` is an
adapter in front of it for CSV and JSONL files, as sqlite-utils' `rows_from_file` is in
front of `insert_all`. One unit of work stores the records, their subjects, the events
the public log learns from them, and the materialized standings they change.
"""

from __future__ import annotations

import csv
import gc
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from socialcredit.errors import IngestError
from socialcredit.ledger.columnar import Columns, fill_raw, read_csv_columns, validate_columns
from socialcredit.ledger.readers import Numbered, is_jsonl, read_rows, write_rejected
from socialcredit.ledger.validate import Row, Validator, cross_check
from socialcredit.principals import require
from socialcredit.scoring.materialized import refresh_standings
from socialcredit.service.batches import RecordBatch
from socialcredit.service.context import Context
from socialcredit.service.events import listing_events
from socialcredit.service.notices import for_records
from socialcredit.timeutil import format_instant

MAX_LISTED = 50
#: The fast paths after the insert: a record notice computes only the listings it
#: states, the standings refresh takes new subjects' files from the batch, records alike
#: in type and instants share their listing events' dates. False: the plain path (whole
#: standings, every file read back, every record's dates computed) the tests hold them
#: equal to.
FAST = True
Progress = Callable[[int], None]
#: What ingest validates: numbered rows (the row path) or a CSV file's columns.
Source = Sequence[Numbered] | Columns


@dataclass
class IngestReport:
    source: str
    rows: int
    accepted: int
    duplicates: int
    rejected: int
    rejected_file: str | None
    recorded_at: int | None
    # (line or row number, raw fields, errors) of each rejected row
    rejected_rows: list[tuple[int, dict[str, Any], list[str]]] = field(default_factory=list)
    new_subjects: int = 0
    batch: int | None = None  # the ingest batch that stored the records (None: nothing new)
    submission: int | None = None  # the submission entry (sc_submissions) of this ingest
    provider: str | None = None  # the one provider the records are from, if one

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.source, "rows": self.rows, "accepted": self.accepted,
                "duplicates": self.duplicates, "rejected": self.rejected,
                "rejected_file": self.rejected_file,
                "recorded_at": format_instant(self.recorded_at),
                "errors": [{"row": n, "errors": e} for n, _, e in self.rejected_rows[:100]]}


@dataclass(frozen=True)
class Located:
    """How to name a row in messages: a file's line, or a position in a batch."""

    source: str
    unit: str  # "line" or "row"

    def where(self, n: int) -> str:
        return f"{self.source}:{n}" if self.unit == "line" else f"{self.source} row {n}"

    def detail(self, n: int, error: str) -> dict[str, Any]:
        fld, _, msg = error.partition(": ")
        out: dict[str, Any] = {self.unit: n, "field": fld, "message": msg or error}
        if self.unit == "line":
            out["file"] = self.source
        return out


class _Conflict(Exception):
    """The optimistic insert met ids already stored: redo the ingest the precise way."""


@dataclass(frozen=True)
class Keyed:
    """A submission's idempotency key (unique per principal) and its content's digest."""

    key: str
    request_sha256: str


def _one(values: set[str]) -> str | None:
    return next(iter(values)) if len(values) == 1 else None


class Records:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- entry points ------------------------------------------------------------------

    def ingest_rows(self, rows: Iterable[Mapping[str, Any]], *, source: str = "records",
                    skip_invalid: bool = False, backfill: bool = False,
                    progress: Progress | None = None) -> IngestReport:
        """Validate every row, then store all of them in one transaction (or, with
        skip_invalid, the good ones; the report lists the bad ones with reasons)."""
        self.authorize(backfill)
        numbered = [(n, dict(r)) for n, r in enumerate(rows, start=1)]
        return self.ingest_numbered(numbered, Located(source, "row"),
                                    skip_invalid=skip_invalid, backfill=backfill,
                                    progress=progress)

    def ingest_file(self, path: str | Path, *, skip_invalid: bool = False,
                    backfill: bool = False, progress: Progress | None = None,
                    columnar: bool = True) -> IngestReport:
        """A CSV or JSONL file; with skip_invalid the bad rows are written beside it.
        A plain CSV file takes the columnar path (ledger/columnar.py) unless `columnar`
        is False: the same result, the row path being the reference (and the debugger's
        path)."""
        self.authorize(backfill)
        p = Path(path)
        if not p.exists():
            raise IngestError(f"{p}: no such file", [], code="ingest.unreadable")
        numbered: Source
        try:
            cols = read_csv_columns(p) if columnar and not is_jsonl(p) else None
            numbered = cols if cols is not None else list(read_rows(p))
        except UnicodeDecodeError as exc:
            raise IngestError(f"{p}: not UTF-8 text ({exc.reason})", [],
                              code="ingest.unreadable") from None
        except csv.Error as exc:
            raise IngestError(f"{p}: not valid CSV ({exc})", [],
                              code="ingest.unreadable") from None
        rep = self.ingest_numbered(numbered, Located(str(p), "line"),
                                   skip_invalid=skip_invalid, backfill=backfill,
                                   progress=progress)
        if rep.rejected_rows:
            rep.rejected_file = str(write_rejected(p, rep.rejected_rows))
        return rep

    def ingest_text(self, text: str, suffix: str = ".csv", **kw: Any) -> IngestReport:
        """Records given as CSV or JSONL text (tests, examples, small uploads)."""
        with tempfile.TemporaryDirectory() as d:
            f = Path(d) / f"records{suffix}"
            f.write_text(text, encoding="utf-8")
            return self.ingest_file(f, **kw)

    def authorize(self, backfill: bool) -> None:
        """Operators submit anything; a provider (or reviewer) principal only records of
        the provider it acts for; only the operator backfills."""
        self.ctx.allow("records.backfill" if backfill else "records.ingest")

    def provider_check(self) -> Callable[[Row], None] | None:
        p = self.ctx.principal
        if p.role == "operator":
            return None

        def check(row: Row) -> None:
            if row.provider != p.provider:
                row.errors.append(f"provider: {p.id!r} submits records for provider "
                                  f"{p.provider!r} only")

        return check

    def submitted(self, conn: Connection, rep: IngestReport, keyed: Keyed | None) -> None:
        """The submission entry of a committed ingest (its provider's history)."""
        from socialcredit.operations import submissions

        rep.submission = submissions.add(
            conn, principal_id=self.ctx.principal.id, provider=rep.provider,
            key=keyed.key if keyed else None,
            request_sha256=keyed.request_sha256 if keyed else None, source=rep.source,
            batch=rep.batch, rows=rep.rows, accepted=rep.accepted, duplicates=rep.duplicates,
            at=rep.recorded_at if rep.recorded_at is not None else self.ctx.ledger.tick(conn),
            report=rep.as_dict())

    # -- the one path every ingest takes ------------------------------------------------

    def ingest_numbered(self, numbered: Source, where: Located, *,
                        skip_invalid: bool = False, backfill: bool = False,
                        progress: Progress | None = None,
                        keyed: Keyed | None = None) -> IngestReport:
        """First attempt: optimistic — no per-id look-up of stored records; the insert
        skips conflicting ids and counts what it stored. If anything was already stored,
        that transaction is rolled back and the rows are ingested again with the precise
        duplicate checks (same result, slower). Fresh data, the common case, pays
        nothing. Each committed ingest is a submission (who, for which provider, what
        happened), in the same transaction, under its idempotency key if `keyed`."""
        # Millions of short-lived row objects and no reference cycles: the cyclic garbage
        # collector would walk them again and again for nothing (a fifth of ingest time).
        collecting = gc.isenabled()
        gc.disable()
        check = self.provider_check()
        try:
            try:
                with self.ctx.write() as conn:
                    rep = self.ingest_in(conn, numbered, where, skip_invalid=skip_invalid,
                                         backfill=backfill, optimistic=True,
                                         progress=progress, check=check)
                    self.submitted(conn, rep, keyed)
                    return rep
            except _Conflict:
                with self.ctx.write() as conn:
                    rep = self.ingest_in(conn, numbered, where, skip_invalid=skip_invalid,
                                         backfill=backfill, optimistic=False,
                                         progress=progress, check=check)
                    self.submitted(conn, rep, keyed)
                    return rep
        finally:
            if collecting:
                gc.enable()

    def ingest_in(self, conn: Connection, numbered: Source, where: Located, *,
                  skip_invalid: bool, backfill: bool, optimistic: bool = False,
                  progress: Progress | None = None,
                  check: Callable[[Row], None] | None = None,
                  notify: bool = True, replicate: bool = False) -> IngestReport:
        """Validate and store inside the caller's unit of work (import uses it bucket by
        bucket, replicating another ledger's records with their ingested_at and without
        notices: they belong to the ledger that made them). `check` may add errors of its
        own to each validated row."""
        ledger = self.ctx.ledger
        if backfill or replicate:
            require(self.ctx.principal, "operator", what="backfill records (bring in history "
                    "with its own transaction times)")
        with ledger.page_cache_for(conn, len(numbered)):
            return self._ingest_in(conn, numbered, where, skip_invalid=skip_invalid,
                                   backfill=backfill, optimistic=optimistic,
                                   progress=progress, check=check, notify=notify,
                                   replicate=replicate)

    def _ingest_in(self, conn: Connection, numbered: Source, where: Located, *,
                   skip_invalid: bool, backfill: bool, optimistic: bool,
                   progress: Progress | None, check: Callable[[Row], None] | None,
                   notify: bool, replicate: bool) -> IngestReport:
        ledger = self.ctx.ledger
        # the transaction time of this ingest, under the ledger's write lock
        recorded_at = ledger.stamp(conn)
        v = Validator(ledger, conn, backfill, recorded_at, replicate=replicate)
        rows: list[Row] = []
        if isinstance(numbered, Columns):
            rows = validate_columns(v, numbered)
            if check is not None:
                for row in rows:
                    if not row.errors:
                        check(row)
        else:
            for n, raw in numbered:
                row = v.row(n, raw)
                if check is not None and not row.errors:
                    check(row)
                rows.append(row)
                if progress is not None and len(rows) % 20_000 == 0:
                    progress(len(rows))
        if progress is not None:
            progress(len(rows))
        insert, dup, new_subjects = cross_check(ledger, conn, rows,
                                                stored_duplicates=not optimistic,
                                                types=v.types)
        bad = [r for r in rows if r.errors]
        if isinstance(numbered, Columns):
            fill_raw(numbered, bad)
        if bad and not skip_invalid:
            problems = [f"{where.where(r.line)}: {e}" for r in bad for e in r.errors]
            shown = grouped(where, bad)
            more = len(shown) - MAX_LISTED
            raise IngestError(
                f"{where.source}: {len(bad)} bad row(s); nothing was ingested\n  "
                + "\n  ".join(shown[:MAX_LISTED])
                + (f"\n  … and {more} more kinds of error" if more > 0 else ""), problems,
                details=[where.detail(r.line, e) for r in bad for e in r.errors])
        if backfill:
            for r in insert:
                if r.recorded_at is None:
                    # a pilot's history without transaction times: known when it occurred,
                    # but never later than now
                    r.recorded_at = min(r.occurred_at, recorded_at)
        # the common case — an ordinary ingest, every record stamped with this ingest's
        # time and none carrying its own — needs none of the per-record bookkeeping
        # below: every new subject is first seen now, no record has an ingested_at
        plain = not backfill and not replicate and all(
            r.recorded_at is None and r.ingested_at is None for r in insert)
        if new_subjects:
            first_seen: dict[str, int] = {}
            if plain:
                first_seen = dict.fromkeys(new_subjects, recorded_at)
            for r in () if plain else insert:
                at = r.recorded_at if r.recorded_at is not None else recorded_at
                if r.subject in new_subjects and at < first_seen.get(r.subject, at + 1):
                    first_seen[r.subject] = at
            ledger.insert_subjects(conn, ((k, kind, first_seen[k])
                                          for k, kind in new_subjects.items()))
        # a backfilled record keeps its own recorded_at, and says when this ledger
        # learned it: listings give their notice from then
        if not replicate and not plain:
            for r in insert:
                r.ingested_at = (recorded_at if r.recorded_at is not None
                                 and r.recorded_at < recorded_at else None)
        batch = RecordBatch(ledger, conn, [
            (r.record_id, r.provider, r.subject, r.type, r.kind, r.occurred_at, recorded_at,
             r.value_num, r.value_text, r.evidence, r.ref, None) for r in insert]
            if plain else [
            (r.record_id, r.provider, r.subject, r.type, r.kind, r.occurred_at,
             r.recorded_at if r.recorded_at is not None else recorded_at, r.value_num,
             r.value_text, r.evidence, r.ref, r.ingested_at) for r in insert], where.source)
        stored = ledger.insert_records(conn, batch.stored_rows, skip_conflicts=optimistic)
        if optimistic and stored != len(insert):
            raise _Conflict()
        if backfill:
            earliest: dict[str, int] = {}
            for r in insert:
                if (r.subject not in new_subjects and r.recorded_at is not None
                        and r.recorded_at < earliest.get(r.subject, r.recorded_at + 1)):
                    earliest[r.subject] = r.recorded_at
            ledger.backdate_subjects(conn, earliest)
            ledger.operation(conn, "ingest.backfill", {"source": where.source,
                                                       "records": len(insert)})
        batch_events = batch.events(conn, recorded_at)
        events = listing_events(ledger, self.ctx.sink, conn, insert, recorded_at,
                                shared=FAST)
        indexes = self.ctx.sink.emit(conn, [*batch_events, *events])[len(batch_events):]
        if notify and insert:
            leaves = {(e.payload["program"], e.payload["list"], e.payload["reasons"][0]): i
                      for e, i in zip(events, indexes, strict=True) if e.kind == "list.entry"}
            for_records(self.ctx, conn, insert, recorded_at, leaves, new_subjects,
                        whole=not FAST)
        # no-op until score --all; the new subjects' files are the rows just stored
        refresh_standings(ledger, conn, {r.subject for r in insert}, recorded_at,
                          (batch.stored_rows, new_subjects) if FAST else None)
        return IngestReport(where.source, len(rows), len(insert), dup, len(bad), None,
                            recorded_at if insert else None,
                            [(r.line, r.raw, r.errors) for r in bad], len(new_subjects),
                            batch.batch, provider=self.ctx.principal.provider or (
                                _one({r.provider for r in insert}) if insert else None))


def grouped(where: Located, bad: Sequence[Row]) -> list[str]:
    """The errors of bad rows, one line per distinct error: an error repeated on many
    rows is stated once with their count and first few locations."""
    by_error: dict[str, list[int]] = {}
    for r in bad:
        for e in r.errors:
            by_error.setdefault(e, []).append(r.line)
    out = []
    for e, ns in by_error.items():
        if len(ns) == 1:
            out.append(f"{where.where(ns[0])}: {e}")
        else:
            shown = ", ".join(str(n) for n in ns[:5]) + (", …" if len(ns) > 5 else "")
            out.append(f"{where.source}: {len(ns)} {where.unit}s ({where.unit}s {shown}): {e}")
    return out


__all__ = ["IngestReport", "Keyed", "Located", "Records", "Source", "grouped"]
