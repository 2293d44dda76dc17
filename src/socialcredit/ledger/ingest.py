"""Ingest record files (CSV or JSONL): validate every row, then store all or nothing.

Validation is plain Python over `csv.reader` rows: the per-row work is a handful of
dict look-ups and one `datetime.fromisoformat`, which keeps ingest above 50,000
records/s on two cores while still naming file, line and field for every problem.
"""

from __future__ import annotations

import csv
import gc
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from socialcredit.errors import IngestError, LedgerError
from socialcredit.ledger import schema as s
from socialcredit.ledger.model import TypeInfo
from socialcredit.ledger.store import Event, Ledger
from socialcredit.timeutil import days_to_us, format_instant, parse_instant

FIELDS = ("record_id", "provider", "subject", "type", "occurred_at", "value", "evidence", "ref")
OPTIONAL = {"value", "evidence", "ref", "subject_kind", "recorded_at"}
SUBJECT_KINDS = ("person", "organization")
MAX_LISTED = 50
CHUNK = 900  # stays under SQLite's bound-parameter limit


class Row:
    """One input row under validation. A slotted class, not a dataclass: ingest builds
    hundreds of thousands of these per second."""

    __slots__ = ("errors", "evidence", "kind", "line", "occurred_at", "provider", "raw",
                 "record_id", "recorded_at", "ref", "subject", "subject_kind", "type",
                 "value_num", "value_text")

    def __init__(self, line: int, raw: dict[str, Any]) -> None:
        self.line = line
        self.raw = raw
        self.errors: list[str] = []
        self.kind = ""
        self.occurred_at = 0
        self.recorded_at: int | None = None
        self.value_num: float | None = None
        self.value_text: str | None = None
        self.subject_kind: str | None = None
        self.record_id = self.provider = self.subject = self.type = ""
        self.evidence: str | None = None
        self.ref: str | None = None

    def content(self) -> tuple[Any, ...]:
        return (self.provider, self.subject, self.type, self.occurred_at, self.value_num,
                self.value_text, self.evidence, self.ref)


@dataclass
class IngestReport:
    file: str
    rows: int
    accepted: int
    duplicates: int
    rejected: int
    rejected_file: str | None
    recorded_at: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "accepted": self.accepted,
                "duplicates": self.duplicates, "rejected": self.rejected,
                "rejected_file": self.rejected_file,
                "recorded_at": format_instant(self.recorded_at)}


# -- reading ----------------------------------------------------------------------------

def _is_jsonl(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson", ".json")


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, raw fields). Line numbers are the file's own (header is line 1)."""
    if _is_jsonl(path):
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield n, {"__error__": f"not valid JSON ({exc.msg})"}
                    continue
                yield n, obj if isinstance(obj, dict) else {
                    "__error__": "each line must be a JSON object"}
        return
    # utf-8-sig: spreadsheets often start CSV files with a byte-order mark
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            return
        missing = [f for f in FIELDS if f not in header and f not in OPTIONAL]
        if missing:
            raise IngestError(f"{path}:1: missing column(s): {', '.join(missing)}",
                              [f"{path}:1: header: missing {m}" for m in missing])
        width = len(header)
        for row in reader:
            n = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != width:
                yield n, {"__error__": f"expected {width} fields, found {len(row)}"}
                continue
            yield n, dict(zip(header, row, strict=True))


# -- validating -------------------------------------------------------------------------

def _text(raw: dict[str, Any], key: str) -> str | None:
    v = raw.get(key)
    if v is None:
        return None
    if v.__class__ is not str:
        v = json.dumps(v) if isinstance(v, dict | list) else str(v)
    return v.strip() or None


def _norm(v: Any) -> str:
    """A non-text JSON value as the text the ledger stores."""
    return (json.dumps(v) if isinstance(v, dict | list) else str(v)).strip()


def _parse_value(v: Any) -> tuple[float | None, str | None]:
    """A number if it reads as one (CSV has no types), else text."""
    if v is None or isinstance(v, bool):
        return (None, None) if v is None else (None, str(v).lower())
    if isinstance(v, int | float):
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return float(v), None
    text = str(v).strip()
    if not text:
        return None, None
    try:
        num = float(text)
    except ValueError:
        return None, text
    if not math.isfinite(num):
        raise ValueError("must be a finite number")
    return num, None


class Validator:
    def __init__(self, ledger: Ledger, conn: Connection, backfill: bool) -> None:
        for pv in ledger.program_versions(None, conn):
            ledger.ensure_operable(pv.rulebook)
        self.types: dict[str, TypeInfo] = ledger.type_registry(conn)
        self.now = ledger.tick(conn)
        self.providers = {r.provider: r.role for r in conn.execute(select(s.providers))}
        self.backfill = backfill
        self.conn = conn

    def row(self, line: int, raw: dict[str, Any]) -> Row:
        # Hot loop: written for speed (local names, no helper calls on the common path);
        # every check still names its field.
        r = Row(line, raw)
        errors = r.errors
        err = errors.append
        if "__error__" in raw:
            err(f"row: {raw['__error__']}")
            return r
        get = raw.get
        v = get("record_id")
        r.record_id = rid = (v.strip() if v.__class__ is str else _norm(v)) if v is not None else ""
        if not rid:
            err("record_id: missing")
        v = get("provider")
        r.provider = prov = (v.strip() if v.__class__ is str else _norm(v)) if v is not None else ""
        role = self.providers.get(prov)
        if role is None:
            err("provider: missing" if not prov else
                f"provider: unknown provider {prov!r} (register it with "
                "`socialcredit provider add ID --role ROLE`)")
        v = get("subject")
        r.subject = (v.strip() if v.__class__ is str else _norm(v)) if v is not None else ""
        if not r.subject:
            err("subject: missing")
        kind = get("subject_kind")
        if kind:
            kind = _text(raw, "subject_kind")
            if kind is None:
                pass
            elif kind not in SUBJECT_KINDS:
                err(f"subject_kind: unknown subject kind {kind!r} (person or organization)")
            else:
                r.subject_kind = kind
        v = get("type")
        r.type = typ = (v.strip() if v.__class__ is str else _norm(v)) if v is not None else ""
        info = self.types.get(typ)
        if info is None:
            err("type: missing" if not typ else
                f"type: unknown record type {typ!r} (no published program declares it)")
        occurred = get("occurred_at")
        if occurred.__class__ is not str or not occurred:
            occurred = _text(raw, "occurred_at")
        if occurred is None:
            err("occurred_at: missing")
        else:
            try:
                r.occurred_at = parse_instant(occurred)
            except ValueError as exc:
                err(f"occurred_at: {exc}")
        if get("recorded_at"):
            recorded = _text(raw, "recorded_at")
            if recorded is not None:
                if not self.backfill:
                    err("recorded_at: set by the ledger's clock; only an operator's "
                        "`ingest --backfill` may carry it")
                else:
                    try:
                        r.recorded_at = parse_instant(recorded)
                    except ValueError as exc:
                        err(f"recorded_at: {exc}")
                    else:
                        if r.recorded_at > self.now:
                            err("recorded_at: a backfill may not record in the future")
        value = get("value")
        if value is not None and value != "":
            try:
                r.value_num, r.value_text = _parse_value(value)
            except ValueError as exc:
                err(f"value: {exc}")
        v = get("evidence")
        if v is not None:
            r.evidence = (v.strip() if v.__class__ is str else _norm(v)) or None
        v = get("ref")
        if v is not None:
            r.ref = (v.strip() if v.__class__ is str else _norm(v)) or None
        if info is not None:
            ikind = r.kind = info.kind
            if role is not None and role not in info.providers:
                err(f"provider: {prov!r} has role {role!r}, which may not submit "
                    f"{typ!r} (allowed: {', '.join(sorted(info.providers)) or 'none'})")
            if info.evidence_required and not r.evidence:
                err(f"evidence: required for {typ!r} (a URI or digest)")
            if info.numeric and r.value_num is None:
                err(f"value: {typ!r} is scored per unit and needs a number")
            elif info.nonnegative and r.value_num is not None and r.value_num < 0:
                err(f"value: {typ!r} is rewarded per unit without expiry, so it may not be "
                    "negative (a negative value would be a penalty that never expires)")
            if ikind == "resolution" or ikind == "void":
                if not r.ref:
                    err(f"ref: a {ikind} record names the record_id it "
                        f"{'resolves' if ikind == 'resolution' else 'voids'}")
                if ikind == "void" and role is not None and role != "reviewer":
                    err("provider: only reviewers may submit voids")
            elif r.ref:
                err(f"ref: only resolution and void records reference another record "
                    f"({typ!r} is {ikind})")
        return r


def _fetch(conn: Connection, col: Any, keys: list[str], *cols: Any) -> list[Any]:
    """Rows whose `col` is in `keys`, in chunks, as driver SQL: SQLAlchemy's expanding
    IN would recompile per chunk, which dominated ingest time."""
    if not keys:
        return []
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(c.name for c in cols)
    out: list[Any] = []
    for i in range(0, len(keys), CHUNK):
        chunk = keys[i:i + CHUNK]
        sql = (f"SELECT {names} FROM {col.table.name} WHERE {col.name} IN "
               f"({', '.join([mark] * len(chunk))})")
        out.extend(conn.exec_driver_sql(sql, tuple(chunk)).fetchall())
    return out


def _cross_check(rows: list[Row], conn: Connection, stored_duplicates: bool = True
                 ) -> tuple[list[Row], int, dict[str, str]]:
    """Checks that need other rows or the stored ledger: duplicates, subject kinds, refs.
    Returns the rows to insert, the count of exact duplicates, and new subjects' kinds.

    With stored_duplicates=False the per-record look-up of already stored ids is skipped
    (the optimistic path: the insert itself detects them, see ingest_file)."""
    c = s.records.c
    good = [r for r in rows if not r.errors]
    # duplicates inside the file
    first: dict[str, Row] = {}
    dup = 0
    unique: list[Row] = []
    for r in good:
        prev = first.get(r.record_id)
        if prev is None:
            first[r.record_id] = r
            unique.append(r)
        elif prev.content() == r.content():
            dup += 1
        else:
            r.errors.append(f"record_id: {r.record_id!r} appears on line {prev.line} with "
                            "other content")
    # duplicates against the ledger
    stored = {row[0]: row[1:] for row in _fetch(
        conn, c.record_id, [r.record_id for r in unique], c.record_id, c.provider, c.subject,
        c.type, c.occurred_at, c.value_num, c.value_text, c.evidence, c.ref)
    } if stored_duplicates else {}
    fresh: list[Row] = []
    for r in unique:
        old = stored.get(r.record_id)
        if old is None:
            fresh.append(r)
        elif tuple(old) == r.content():
            dup += 1
        else:
            diff = [name for name, a, b in zip(
                ("provider", "subject", "type", "occurred_at", "value", "value", "evidence",
                 "ref"), old, r.content(), strict=True) if a != b]
            r.errors.append(f"record_id: {r.record_id!r} is already in the ledger with other "
                            f"content ({', '.join(dict.fromkeys(diff))} differ)")
    # subject kinds
    kinds_in_file: dict[str, str] = {}
    for r in rows:
        if r.subject_kind and r.subject and not r.errors:
            kinds_in_file.setdefault(r.subject, r.subject_kind)
    known = dict(_fetch(conn, s.subjects.c.subject, sorted({r.subject for r in fresh}),
                        s.subjects.c.subject, s.subjects.c.kind))
    new_subjects: dict[str, str] = {}
    from socialcredit import uscc
    for r in fresh:
        have = known.get(r.subject)
        if have is not None:
            if r.subject_kind and r.subject_kind != have:
                r.errors.append(f"subject_kind: {r.subject!r} is already a {have}, not a "
                                f"{r.subject_kind}")
            continue
        kind = kinds_in_file.get(r.subject)
        if kind is None:
            r.errors.append(f"subject_kind: required the first time subject {r.subject!r} "
                            "appears (person or organization)")
        elif r.subject_kind and r.subject_kind != kind:
            r.errors.append(f"subject_kind: {r.subject!r} is given as {kind} elsewhere in "
                            "this file")
        elif kind == "organization" and uscc.looks_like_uscc(r.subject):
            res = uscc.validate(r.subject)
            if res.status != "valid":
                r.errors.append(f"subject: not a valid Unified Social Credit Code "
                                f"({'; '.join(res.errors)})")
            else:
                new_subjects[r.subject] = kind
        else:
            new_subjects[r.subject] = kind
    # references: resolutions and voids name an existing record of the same subject
    ok = [r for r in fresh if not r.errors]
    in_file = {r.record_id: r for r in ok}
    refs = sorted({r.ref for r in ok if r.ref and r.ref not in in_file})
    stored_refs = {row[0]: row[1:] for row in _fetch(
        conn, c.record_id, refs, c.record_id, c.subject, c.kind, c.provider)}
    for r in ok:
        if not r.ref:
            continue
        target = in_file.get(r.ref)
        t_subject, t_kind, t_provider = ((target.subject, target.kind, target.provider)
                                         if target else stored_refs.get(r.ref, (None,) * 3))
        if t_subject is None:
            r.errors.append(f"ref: no record {r.ref!r} in the ledger or this file")
        elif t_subject != r.subject:
            r.errors.append(f"ref: record {r.ref!r} is about another subject; a record never "
                            "counts for or against anyone else")
        elif t_kind == "void":
            r.errors.append(f"ref: {r.ref!r} is itself a void")
        elif r.kind == "resolution" and t_kind != "conduct":
            r.errors.append(f"ref: a resolution resolves a conduct record; {r.ref!r} is "
                            f"{t_kind}")
        elif r.kind == "void" and t_provider == r.provider:
            r.errors.append("provider: a reviewer may not void a record it provided itself")
    # a row whose reference was rejected goes with it
    changed = True
    while changed:
        changed = False
        for r in ok:
            if not r.errors and r.ref and r.ref in in_file and in_file[r.ref].errors:
                r.errors.append(f"ref: the record it references ({r.ref!r}) was rejected")
                changed = True
    insert = [r for r in fresh if not r.errors]
    used = {r.subject for r in insert}
    return insert, dup, {k: v for k, v in new_subjects.items() if k in used}


def _backdate_subjects(conn: Connection, rows: list[Row], new: set[str]) -> None:
    """A backfill may bring history older than anything the ledger had about a known
    subject: the subject is then known from its earliest record (subject kinds are
    bitemporal, and backfilled records must count at those earlier transaction times)."""
    earliest: dict[str, int] = {}
    for r in rows:
        if r.subject not in new and r.recorded_at is not None and r.recorded_at < earliest.get(
                r.subject, r.recorded_at + 1):
            earliest[r.subject] = r.recorded_at
    c = s.subjects.c
    for subject, at in earliest.items():
        conn.execute(s.subjects.update().where(c.subject == subject, c.first_recorded_at > at)
                     .values(first_recorded_at=at))


def _write_rejected(path: Path, bad: list[Row]) -> Path:
    if _is_jsonl(path):
        out = path.with_name(path.stem + ".rejected.jsonl")
        with out.open("w", encoding="utf-8") as fh:
            for r in bad:
                fh.write(json.dumps({**r.raw, "_line": r.line, "_errors": r.errors}) + "\n")
        return out
    out = path.with_name(path.stem + ".rejected.csv")
    cols: list[str] = []
    for r in bad:
        cols.extend(k for k in r.raw if k not in cols and k != "__error__")
    with out.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["line", *cols, "errors"])
        for r in bad:
            w.writerow([r.line, *(r.raw.get(k, "") for k in cols), " | ".join(r.errors)])
    return out


def _events_for(ledger: Ledger, conn: Connection, rows: list[Row], recorded_at: int
                ) -> list[Event]:
    """Listings, voids and listing-ending resolutions go to the transparency log.

    Leaves carry commitments, never subject ids (see transparency/events.py)."""
    triggers: dict[str, list[tuple[str, Any]]] = {}
    for program in ledger.programs(conn):
        try:  # the lists in force now, not those of a version not yet effective
            rb = ledger.version_in_force(program, recorded_at, recorded_at, conn).rulebook
        except LedgerError:
            continue
        for x in rb.lists:
            if x.enter_when.record:
                triggers.setdefault(x.enter_when.record, []).append((program, x))
    if not any(r.type in triggers or r.kind == "void" for r in rows) and not (
            triggers and any(r.kind == "resolution" for r in rows)):
        return []
    in_file = {r.record_id: r.type for r in rows}
    c = s.records.c
    missing = sorted({r.ref for r in rows if r.ref and r.ref not in in_file})
    ref_type = dict(in_file)
    ref_type.update({row[0]: row[1] for row in _fetch(conn, c.record_id, missing, c.record_id,
                                                      c.type)})
    events: list[Event] = []
    for r in rows:
        at = r.recorded_at if r.recorded_at is not None else recorded_at
        for program, x in triggers.get(r.type, ()):
            start = at + days_to_us(x.notice)
            end = start + days_to_us(x.max_duration) if x.max_duration else None
            events.append(Event("list.entry", {
                "program": program, "list": x.id,
                "commitment": ledger.commitment(conn, r.subject),
                "start": format_instant(start), "end": format_instant(end),
                "reasons": [r.record_id], "notice_from": format_instant(at)}))
        if r.kind == "void" and r.ref:
            commitment = ledger.commitment(conn, r.subject)
            events.append(Event("record.void", {
                "commitment": commitment, "record_id": r.ref, "void_record_id": r.record_id,
                "at": format_instant(at)}))
            for program, x in triggers.get(ref_type.get(r.ref, ""), ()):
                events.append(Event("list.exit", {
                    "program": program, "list": x.id, "commitment": commitment,
                    "end": format_instant(at), "reason": "void", "record_id": r.ref}))
        elif r.kind == "resolution" and r.ref:
            for program, x in triggers.get(ref_type.get(r.ref, ""), ()):
                commitment = ledger.commitment(conn, r.subject)
                events.append(Event("record.resolution", {
                    "program": program, "list": x.id, "commitment": commitment,
                    "record_id": r.ref, "resolution_record_id": r.record_id,
                    "occurred_at": format_instant(r.occurred_at)}))
                events.append(Event("list.exit", {
                    "program": program, "list": x.id, "commitment": commitment,
                    "end": format_instant(r.occurred_at), "reason": "resolution",
                    "record_id": r.ref}))
    return events


class _Conflict(Exception):
    """The optimistic insert met ids already stored: redo the ingest the precise way."""


def ingest_file(ledger: Ledger, path: str | Path, *, skip_invalid: bool = False,
                backfill: bool = False,
                progress: Callable[[int], None] | None = None) -> IngestReport:
    """Validate every row, then store all of it in one transaction (or, with
    skip_invalid, the good rows, writing the bad ones beside the input).

    First attempt: optimistic — no per-id look-up of stored records; the insert skips
    conflicting ids and counts what it stored. If anything was already stored, that
    transaction is rolled back and the file is ingested again with the precise
    duplicate checks (same result, slower). Fresh data, the common case, pays nothing.
    """
    p = Path(path)
    if not p.exists():
        raise IngestError(f"{p}: no such file", [])
    # Millions of short-lived row objects and no reference cycles: the cyclic garbage
    # collector would walk them again and again for nothing (a fifth of ingest time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _ingest(ledger, p, skip_invalid, backfill, optimistic=True, progress=progress)
    except _Conflict:
        return _ingest(ledger, p, skip_invalid, backfill, optimistic=False, progress=progress)
    finally:
        if collecting:
            gc.enable()


def _validated(v: Validator, p: Path, progress: Callable[[int], None] | None) -> list[Row]:
    if progress is None:
        return [v.row(n, raw) for n, raw in read_rows(p)]
    rows: list[Row] = []
    for n, raw in read_rows(p):
        rows.append(v.row(n, raw))
        if len(rows) % 20_000 == 0:
            progress(len(rows))
    progress(len(rows))
    return rows


def _ingest(ledger: Ledger, p: Path, skip_invalid: bool, backfill: bool, *,
            optimistic: bool, progress: Callable[[int], None] | None = None) -> IngestReport:
    with ledger.engine.begin() as conn:
        v = Validator(ledger, conn, backfill)
        try:
            rows = _validated(v, p, progress)
        except UnicodeDecodeError as exc:
            raise IngestError(f"{p}: not UTF-8 text ({exc.reason})", []) from None
        except csv.Error as exc:
            raise IngestError(f"{p}: not valid CSV ({exc})", []) from None
        insert, dup, new_subjects = _cross_check(rows, conn, stored_duplicates=not optimistic)
        bad = [r for r in rows if r.errors]
        rejected_file = None
        if bad and not skip_invalid:
            problems = [f"{p}:{r.line}: {e}" for r in bad for e in r.errors]
            shown = problems[:MAX_LISTED]
            more = len(problems) - len(shown)
            raise IngestError(
                f"{p}: {len(bad)} bad row(s); nothing was ingested (use --skip-invalid to "
                "ingest the good rows)\n  " + "\n  ".join(shown)
                + (f"\n  … and {more} more" if more else ""), problems)
        if bad:
            rejected_file = str(_write_rejected(p, bad))
        recorded_at = ledger.tick(conn)
        if backfill:
            for r in insert:
                if r.recorded_at is None:
                    # a pilot's history without transaction times: known when it occurred,
                    # but never later than now
                    r.recorded_at = min(r.occurred_at, recorded_at)
        if new_subjects:
            first_seen: dict[str, int] = {}
            for r in insert:
                at = r.recorded_at if r.recorded_at is not None else recorded_at
                if r.subject in new_subjects and at < first_seen.get(r.subject, at + 1):
                    first_seen[r.subject] = at
            conn.execute(s.subjects.insert(), [
                {"subject": k, "kind": kind, "first_recorded_at": first_seen[k]}
                for k, kind in new_subjects.items()])
        if insert:
            mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            cols = ("record_id", "provider", "subject", "type", "kind", "occurred_at",
                    "recorded_at", "value_num", "value_text", "evidence", "ref")
            sql = (f"INSERT INTO {s.records.name} ({', '.join(cols)}) VALUES "
                   f"({', '.join([mark] * len(cols))})")
            if optimistic:
                sql += " ON CONFLICT (record_id) DO NOTHING"
            res = conn.exec_driver_sql(sql, [
                (r.record_id, r.provider, r.subject, r.type, r.kind, r.occurred_at,
                 r.recorded_at if r.recorded_at is not None else recorded_at, r.value_num,
                 r.value_text, r.evidence, r.ref) for r in insert])
            if optimistic and res.rowcount != len(insert):
                raise _Conflict()
        if backfill:
            _backdate_subjects(conn, insert, set(new_subjects))
            ledger.operation(conn, "ingest.backfill", {"file": str(p), "records": len(insert)})
        ledger.log_events(conn, _events_for(ledger, conn, insert, recorded_at))
        from socialcredit.scoring.materialized import refresh_standings
        refresh_standings(ledger, conn, {r.subject for r in insert})  # no-op until score --all
    return IngestReport(str(p), len(rows), len(insert), dup, len(bad), rejected_file,
                        recorded_at if insert else None)


def ingest_text(ledger: Ledger, text: str, suffix: str = ".csv", **kw: Any) -> IngestReport:
    """Convenience for tests and the API: ingest records given as text."""
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / f"records{suffix}"
        f.write_text(text, encoding="utf-8")
        return ingest_file(ledger, f, **kw)


__all__ = ["IngestReport", "ingest_file", "ingest_text"]
