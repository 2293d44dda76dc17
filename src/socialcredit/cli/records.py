"""Records in: ingest files of CSV or JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from socialcredit.cli.options import AsOpt, DbOpt, JsonOpt, emit_json, err, open_service, say


def ingest(file: Annotated[Path, typer.Argument(help="A CSV or JSONL file of records.")],
           db: DbOpt = None, as_: AsOpt = None,
           skip_invalid: Annotated[bool, typer.Option(
               "--skip-invalid", help="Ingest the good rows; write the bad ones, with "
                                      "reasons, beside the input.")] = False,
           backfill: Annotated[bool, typer.Option(
               "--backfill", help="Operator's migration of a pilot's history: rows may "
                                  "carry recorded_at (default: occurred_at). Logged.")] = False,
           row_path: Annotated[bool, typer.Option(
               "--row-path", help="Read and validate a CSV file row by row, not by columns "
                                  "(the reference path: the same result, slower; for "
                                  "debugging).")] = False,
           json_: JsonOpt = False) -> None:
    """Ingest records from CSV or JSONL (all or nothing unless --skip-invalid)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from socialcredit.ledger.readers import estimate_rows

    estimate = estimate_rows(file)
    with open_service(db, as_) as svc, Progress(
            TextColumn("validating {task.completed:,} of ~{task.total:,} rows"), BarColumn(),
            TimeElapsedColumn(), console=err(), transient=True,
            disable=estimate < 100_000 or not err().is_terminal) as bar:
        task = bar.add_task("ingest", total=estimate)
        rep = svc.records.ingest_file(file, skip_invalid=skip_invalid, backfill=backfill,
                                      progress=lambda n: bar.update(task, completed=n),
                                      columnar=not row_path)
    if json_:
        emit_json(rep.as_dict())
    else:
        say(f"{file}: {rep.accepted} record(s) ingested, {rep.duplicates} already present, "
            f"{rep.rejected} rejected")
    if rep.rejected_file:
        err().print(f"rejected rows, with reasons: {rep.rejected_file}", markup=False,
                    highlight=False)


__all__ = ["ingest"]
