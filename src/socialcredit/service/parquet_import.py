"""Import a Parquet ledger export through the same path as ingest.

Programs are published through `publish` (with their original effective and
publication times), records go through ingest's validation, storage and events (as a
backfill: they keep their recorded_at), so an imported ledger has the same public log —
publication, listing, void and resolution leaves — as one built by ingest. Everything
is one unit of work: the import is all or nothing, and idempotent (what is already
there with the same content is skipped; the same key with other content is an error).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialcredit.errors import IngestError, LedgerError, RulebookError
from socialcredit.ledger.parquet import (
    CATALOGUES,
    PROGRAMS,
    PROVIDERS,
    RECORDS,
    SUBJECTS,
    bucket_names,
    read_manifest,
    read_table,
)
from socialcredit.ledger.validate import SUBJECT_KINDS, Row
from socialcredit.rulebook.catalogue import catalogue_from_canonical
from socialcredit.rulebook.limits import MAX_BYTES, check_counts
from socialcredit.rulebook.model import Rulebook
from socialcredit.service.context import Context
from socialcredit.service.ingest import Located, Records
from socialcredit.service.programs import Catalogues, Programs, Providers
from socialcredit.timeutil import format_instant


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


def _rulebook(root: Path, row: dict[str, Any]) -> Rulebook:
    """An exported rulebook, within the bounds a YAML one has (an export is untrusted)."""
    where = f"{root}/programs: {row['program']} {row['version']}"
    canonical = str(row["canonical"])
    if len(canonical) > 4 * MAX_BYTES:
        raise LedgerError(f"{where}: the rulebook is too large", code="import.invalid")
    try:
        data = json.loads(canonical)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        check_counts(data, where)
        return Rulebook.model_validate(data)
    except (ValueError, RecursionError, RulebookError) as exc:
        msg = exc.message if isinstance(exc, RulebookError) else exc.__class__.__name__
        raise LedgerError(f"{where}: not a valid rulebook ({msg})",
                          code="import.invalid") from None


def import_ledger(ctx: Context, directory: str | Path) -> ImportReport:
    root = Path(directory)
    read_manifest(root)
    ledger = ctx.ledger
    programs, records = Programs(ctx), Records(ctx)
    n_prog = n_prov = n_sub = n_rec = dup = 0
    with ctx.write() as conn:
        before = {(pv.program, pv.version) for pv in ledger.program_versions(None, conn)}
        for r in sorted(read_table(root, "catalogues", CATALOGUES).to_pylist(),
                        key=lambda r: int(r["seq"])):
            cat = catalogue_from_canonical(r["canonical"])
            if cat.sha256 != r["sha256"]:
                raise LedgerError(f"{root}/catalogues: {r['catalogue']} {r['version']}: "
                                  "sha256 does not match the canonical catalogue",
                                  code="import.invalid")
            Catalogues(ctx).publish_in(conn, cat, int(r["published_at"]), r["source"])
            ledger.advance_clock(conn, int(r["published_at"]))
        for r in sorted(read_table(root, "programs", PROGRAMS).to_pylist(),
                        key=lambda r: int(r["seq"])):
            rb = _rulebook(root, r)
            if rb.sha256 != r["sha256"]:
                raise LedgerError(f"{root}/programs: {r['program']} {r['version']}: sha256 "
                                  "does not match the canonical rulebook",
                                  code="import.invalid")
            programs.publish_in(conn, rb, int(r["effective_at"]), int(r["published_at"]),
                                r["source"])
            ledger.advance_clock(conn, int(r["published_at"]))
            n_prog += (r["program"], r["version"]) not in before
        registered = []
        for r in read_table(root, "providers", PROVIDERS).to_pylist():
            try:
                event = Providers(ctx).add_in(conn, r["provider"], r["role"],
                                              int(r["registered_at"]))
            except LedgerError as exc:
                raise LedgerError(f"{root}/providers: {exc}", code="import.invalid") from None
            if event is not None:
                registered.append(event)
        n_prov = len(registered)
        ctx.sink.emit(conn, registered)
        for b in bucket_names(root):
            subs = read_table(root, "subjects", SUBJECTS, b)
            recs = read_table(root, "records", RECORDS, b)
            kinds = dict(zip(subs.column("subject").to_pylist(),
                             subs.column("kind").to_pylist(), strict=True))
            numbered = []
            stored_kind: dict[int, str] = {}
            for n, r in enumerate(recs.to_pylist(), start=1):
                stored_kind[n] = r["kind"]
                numbered.append((n, {
                    "record_id": r["record_id"], "provider": r["provider"],
                    "subject": r["subject"], "type": r["type"],
                    "occurred_at": format_instant(r["occurred_at"]),
                    "recorded_at": format_instant(r["recorded_at"]),
                    "value": r["value_num"] if r["value_num"] is not None else r["value_text"],
                    "evidence": r["evidence"], "ref": r["ref"],
                    "ingested_at": format_instant(r["ingested_at"]),
                    "subject_kind": kinds.get(r["subject"])}))

            def same_kind(row: Row, kinds_of: dict[int, str] = stored_kind) -> None:
                if row.kind != kinds_of[row.line]:
                    row.errors.append(f"kind: {kinds_of[row.line]!r} but type {row.type!r} "
                                      f"is {row.kind!r}")

            rep = records.ingest_in(conn, numbered, Located(f"{root}/records/bucket={b}", "row"),
                                    skip_invalid=False, backfill=True, check=same_kind,
                                    notify=False, replicate=True)
            n_rec += rep.accepted
            dup += rep.duplicates
            # subjects without records in this export come too, with the same checks
            first_at = dict(zip(subs.column("subject").to_pylist(),
                                subs.column("first_recorded_at").to_pylist(), strict=True))
            have = ledger.known_subjects(conn, list(kinds))
            fresh = []
            for subject, kind in kinds.items():
                known = have.get(subject)
                if known is not None:
                    if known != kind:
                        raise IngestError(f"{root}/subjects: {subject!r} is already a {known}, "
                                          f"not a {kind}", [], code="import.invalid")
                    continue
                if kind not in SUBJECT_KINDS:
                    raise IngestError(f"{root}/subjects: {subject!r}: unknown subject kind "
                                      f"{kind!r}", [], code="import.invalid")
                fresh.append((subject, kind, int(first_at.get(subject) or 0)))
            ledger.insert_subjects(conn, fresh)
            n_sub += rep.new_subjects + len(fresh)
        ledger.operation(conn, "import", {"directory": str(root), "records": n_rec,
                                          "programs": n_prog})
    return ImportReport(n_prog, n_prov, n_sub, n_rec, dup)


__all__ = ["ImportReport", "import_ledger"]
