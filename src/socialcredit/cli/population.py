"""Whole populations: `score --all`, and the ledger as Parquet (`export`, `import`)."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from socialcredit.cli.options import (
    AsOpt,
    AtOpt,
    DbOpt,
    JsonOpt,
    KnownAtOpt,
    ProgramOpt,
    emit_json,
    err,
    instant,
    open_service,
    say,
)
from socialcredit.errors import UsageError

if TYPE_CHECKING:
    from socialcredit.service.population import ScoreRun


class _Rates:
    """A progress bar over subjects, with subjects/s and records/s."""

    def __init__(self, total_subjects: int, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.records = 0
        self.start = time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]scoring"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} subjects"),
            TextColumn("{task.fields[rates]}"), TimeElapsedColumn(),
            console=err(), disable=not enabled)
        self.task = self.progress.add_task("score", total=max(total_subjects, 1), rates="")

    def __call__(self, subjects: int, records: int) -> None:
        self.records += records
        dt = max(time.perf_counter() - self.start, 1e-9)
        done = self.progress.tasks[0].completed + subjects
        self.progress.update(self.task, advance=subjects,
                             rates=f"{done / dt:,.0f} subjects/s · {self.records / dt:,.0f} "
                                   "records/s")


def score(
    all_: Annotated[bool, typer.Option("--all", help="Score every subject of the program.")]
    = False,
    program: ProgramOpt = None, at: AtOpt = None, known_at: KnownAtOpt = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write the standings to Parquet (a file; a directory with "
                      "--engine spark).", show_default=False)] = None,
    engine: Annotated[str, typer.Option("--engine", help="batch (single node) or spark "
                                        "(needs the [spark] extra and Java 17+).")]
    = "batch",
    db: DbOpt = None, as_: AsOpt = None,
    source: Annotated[Path | None, typer.Option(
        "--from", help="Score a Parquet ledger (from `export`) instead of the database; "
                       "writes Parquet only.", show_default=False)] = None,
    table: Annotated[bool | None, typer.Option(
        "--table/--no-table", help="Materialize into sc_standings in the ledger database "
                                   "(default: yes unless --out or --from is given).",
        show_default=False)] = None,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="Peak memory for the batch engine, e.g. 2GB (sets the number "
                               "of subject partitions).", show_default=False)] = None,
    spark_master: Annotated[str | None, typer.Option(
        "--spark-master", help="Spark master for --engine spark (default: local[*], or "
                               "what spark-submit set).", show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Materialize the standings of every subject (score --all)."""
    from socialcredit.service.population import readers_started, require_engine, score_export

    if not all_:
        raise UsageError("score needs --all (one subject: `socialcredit standing SUBJECT`)")
    require_engine(engine)
    t, k = instant(at, "--at"), instant(known_at, "--known-at")
    started = time.perf_counter()
    if source is not None:
        if table:
            raise UsageError("--from scores a Parquet ledger: give --out, not --table")
        if out_file is None:
            raise UsageError("--from needs --out")
        run = score_export(source, out_file, program, t, k, engine=engine,
                           memory_limit=memory_limit, spark_master=spark_master)
    else:
        # with the batch engine, the readers start while the ledger opens
        with (readers_started(db) if engine == "batch" else contextlib.nullcontext()), \
                open_service(db, as_) as svc:
            rates = _Rates(svc.population.totals()[0],
                           enabled=not quiet and engine == "batch" and err().is_terminal)
            with rates.progress:
                run = svc.population.score_all(program, t, k, out=out_file, table=table,
                                               engine=engine, memory_limit=memory_limit,
                                               spark_master=spark_master, progress=rates)
    _summary(run, time.perf_counter() - started, json_)


def _summary(run: ScoreRun, took: float, json_: bool) -> None:
    from socialcredit.timeutil import format_instant

    where = " and ".join(x for x in (run.out, "sc_standings" if run.table else None) if x)
    if json_:
        emit_json({"program": run.program, "subjects": run.subjects,
                   "at": format_instant(run.at), "known_at": format_instant(run.known_at),
                   "out": run.out, "table": run.table, "seconds": round(took, 3)})
        return
    say(f"scored {run.subjects:,} subject(s) under {run.program} at {format_instant(run.at)} "
        f"(known at {format_instant(run.known_at)}) in {took:.1f}s → {where}")


def export(directory: Annotated[Path, typer.Argument(help="A new (or empty) directory.")],
           db: DbOpt = None, as_: AsOpt = None,
           buckets: Annotated[int, typer.Option("--buckets", help="Hash buckets of "
                                                "subjects (hive-style bucket=NN).")] = 16,
           json_: JsonOpt = False) -> None:
    """Export the ledger (records, subjects, providers, programs) as a Parquet dataset."""
    with open_service(db, as_) as svc:
        manifest = svc.population.export(directory, buckets)
    if json_:
        emit_json(manifest)
        return
    c = manifest["counts"]
    say(f"exported {c['records']:,} records, {c['subjects']:,} subjects, {c['providers']} "
        f"providers, {c['programs']} program version(s) to {directory}")


def import_(directory: Annotated[Path, typer.Argument(help="A directory from `export`.")],
            db: DbOpt = None, json_: JsonOpt = False) -> None:
    """Import a Parquet ledger export into the ledger (created if absent): validated like
    ingest, all or nothing, idempotent; the public log gets the same leaves."""
    from socialcredit.service import Service

    with Service.create_empty(db) as svc:
        rep = svc.population.import_(directory)
    if json_:
        emit_json(rep.as_dict())
        return
    say(f"imported {rep.records:,} records ({rep.duplicates:,} already present), "
        f"{rep.subjects:,} subjects, {rep.providers} providers, {rep.programs} program "
        "version(s)")


__all__ = ["export", "import_", "score"]
