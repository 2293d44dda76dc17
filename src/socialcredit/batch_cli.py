"""CLI commands for population-scale scoring and Parquet interchange (issue 3).

Plain functions, ready to mount on the main Typer app::

    app.command("score")(score_cmd)
    app.command("export")(export_cmd)
    app.command("import")(import_cmd)

giving ``socialcredit score --all …``, ``socialcredit export DIR`` and
``socialcredit import DIR``. They are thin over :mod:`socialcredit.scoring.materialized`,
:mod:`socialcredit.interchange` and :mod:`socialcredit.scoring.spark`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from socialcredit.errors import IngestError, SocialCreditError
from socialcredit.timeutil import format_instant, option_instant

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="Ledger URL or SQLite path "
                                           "(default: $SOCIALCREDIT_DB, else ./socialcredit.db)")]


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"error: {exc}", markup=False, highlight=False)
    return typer.Exit(1)


class _Rates:
    """A rich progress bar over subjects, with subjects/s and records/s."""

    def __init__(self, total_subjects: int, enabled: bool) -> None:
        self.records = 0
        self.start = time.perf_counter()
        self.progress = Progress(
            TextColumn("[bold]scoring"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} subjects"),
            TextColumn("{task.fields[rates]}"), TimeElapsedColumn(),
            console=err, disable=not enabled)
        self.task = self.progress.add_task("score", total=max(total_subjects, 1), rates="")

    def __call__(self, subjects: int, records: int) -> None:
        self.records += records
        dt = max(time.perf_counter() - self.start, 1e-9)
        done = self.progress.tasks[0].completed + subjects
        self.progress.update(self.task, advance=subjects,
                             rates=f"{done / dt:,.0f} subjects/s · {self.records / dt:,.0f} "
                                   "records/s")


def score_cmd(
    all_: Annotated[bool, typer.Option("--all", help="Score every subject of the program.")]
    = False,
    program: Annotated[str | None, typer.Option("--program", help="Program id (optional when "
                                                "the ledger hosts one program).")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Valid time t (default now).")] = None,
    known_at: Annotated[str | None, typer.Option("--known-at", help="Transaction time k "
                                                 "(default: --at).")] = None,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write the standings to Parquet (a file; a directory with "
                      "--engine spark).")] = None,
    engine: Annotated[str, typer.Option("--engine", help="batch (single node) or spark.")]
    = "batch",
    db: DbOpt = None,
    source: Annotated[Path | None, typer.Option(
        "--from", help="Score a Parquet ledger (from `export`) instead of the database; "
                       "writes Parquet only.")] = None,
    table: Annotated[bool | None, typer.Option(
        "--table/--no-table", help="Materialize into sc_standings in the ledger database "
                                   "(default: yes unless --out or --from is given).")] = None,
    memory_limit: Annotated[str | None, typer.Option(
        "--memory-limit", help="Peak memory for the batch engine, e.g. 2GB (sets the number "
                               "of subject partitions).")] = None,
    spark_master: Annotated[str | None, typer.Option(
        "--spark-master", help="Spark master for --engine spark (default: local[*], or "
                               "what spark-submit set).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Materialize the standings of every subject (score --all)."""
    try:
        _score(all_, program, at, known_at, out_file, engine, db, source, table, memory_limit,
               spark_master, quiet)
    except (SocialCreditError, IngestError) as exc:
        raise _fail(exc) from None


def _score(all_: bool, program: str | None, at: str | None, known_at: str | None,
           out_file: Path | None, engine: str, db: str | None, source: Path | None,
           table: bool | None, memory_limit: str | None, spark_master: str | None,
           quiet: bool) -> None:
    from socialcredit.ledger import Ledger
    from socialcredit.timeutil import now_us

    if not all_:
        raise SocialCreditError("score needs --all (one subject: `socialcredit standing "
                                "SUBJECT`)")
    if engine not in ("batch", "spark"):
        raise SocialCreditError(f"--engine: {engine!r} (batch or spark)")
    if engine == "spark":
        import importlib.util
        import shutil

        if importlib.util.find_spec("pyspark") is None:
            raise SocialCreditError("--engine spark needs PySpark: pip install "
                                    "'socialcredit[spark]' (and Java 17+)")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise SocialCreditError("--engine spark needs a Java 17+ runtime (`java` on PATH "
                                    "or JAVA_HOME), e.g. Debian's default-jre-headless")
    t0 = option_instant(at, "--at")
    k0 = option_instant(known_at, "--known-at")
    started = time.perf_counter()
    if source is not None:
        if table:
            raise SocialCreditError("--from scores a Parquet ledger: give --out, not --table")
        if out_file is None:
            raise SocialCreditError("--from needs --out")
        t = t0 if t0 is not None else now_us()
        k = k0 if k0 is not None else t
        n = _score_parquet(source, program, t, k, out_file, engine, memory_limit,
                           spark_master, quiet)
        _summary(n, out_file, None, t, k, started)
        return
    with Ledger.open(db) as ledger:
        t = t0 if t0 is not None else ledger.clock()
        k = k0 if k0 is not None else t
        to_table = table if table is not None else out_file is None
        if engine == "batch":
            from socialcredit.scoring.materialized import score_all, totals

            rates = _Rates(totals(ledger)[0], enabled=not quiet and err.is_terminal)
            with rates.progress:
                name, _rb, n = score_all(ledger, program, t, k, out=out_file, table=to_table,
                                         memory_limit=memory_limit, progress=rates)
        else:
            from socialcredit.interchange import export_ledger
            from socialcredit.scoring.materialized import load_standings

            name = ledger.resolve_program(program)
            rb = ledger.version_in_force(name, t, k).rulebook
            with tempfile.TemporaryDirectory(prefix="sc-spark-") as tmp:
                export_ledger(ledger, Path(tmp) / "ledger")
                dest = out_file or Path(tmp) / "standings"
                n = _score_parquet(Path(tmp) / "ledger", name, t, k, dest, "spark",
                                   memory_limit, spark_master, quiet)
                if to_table:
                    load_standings(ledger, name, rb, dest, t, k)
        _summary(n, out_file, "sc_standings" if to_table else None, t, k, started, name)


def _score_parquet(source: Path, program: str | None, t: int, k: int, dest: Path,
                   engine: str, memory_limit: str | None, spark_master: str | None,
                   quiet: bool) -> int:
    if engine == "spark":
        from socialcredit.scoring.spark import run_spark_job

        return run_spark_job(source, dest, program, t, k, master=spark_master)
    import pyarrow.parquet as pq

    from socialcredit.scoring.materialized import with_metadata
    from socialcredit.scoring.partitions import (
        read_program_versions,
        score_parquet,
        version_in_force,
    )

    versions = read_program_versions(source)
    name = program or (versions[0].program if versions else "")
    rb = version_in_force(versions, name, t, k).rulebook
    n = 0
    writer: pq.ParquetWriter | None = None
    try:
        for res in score_parquet(source, program, t, k, memory_limit=memory_limit):
            res = with_metadata(res, rb, name, t, k)
            if writer is None:
                writer = pq.ParquetWriter(str(dest), res.schema)
            writer.write_table(res)
            n += res.num_rows
    finally:
        if writer is not None:
            writer.close()
    del quiet
    return n


def _summary(n: int, out_file: Path | None, table: str | None, t: int, k: int,
             started: float, program: str | None = None) -> None:
    where = " and ".join(x for x in (str(out_file) if out_file else None, table) if x)
    out.print(f"scored {n:,} subject(s){f' under {program}' if program else ''} at "
              f"{format_instant(t)} (known at {format_instant(k)}) in "
              f"{time.perf_counter() - started:.1f}s → {where}", highlight=False)


def export_cmd(directory: Annotated[Path, typer.Argument(help="A new directory.")],
               db: DbOpt = None,
               buckets: Annotated[int, typer.Option("--buckets", help="Hash buckets of "
                                                    "subjects (hive-style bucket=NN).")] = 16,
               json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Export the ledger (records, subjects, providers, programs) as a Parquet dataset."""
    from socialcredit.interchange import export_ledger
    from socialcredit.ledger import Ledger

    try:
        with Ledger.open(db) as ledger:
            manifest = export_ledger(ledger, directory, buckets=buckets)
    except SocialCreditError as exc:
        raise _fail(exc) from None
    if json_:
        sys.stdout.write(json.dumps(manifest, indent=2) + "\n")
    else:
        c = manifest["counts"]
        out.print(f"exported {c['records']:,} records, {c['subjects']:,} subjects, "
                  f"{c['providers']} providers, {c['programs']} program version(s) to "
                  f"{directory}", highlight=False)


def import_cmd(directory: Annotated[Path, typer.Argument(help="A directory from `export`.")],
               db: DbOpt = None,
               json_: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Import a Parquet ledger export (validated, idempotent; its subjects and records
    are all or nothing, after the programs and providers it carries are registered)."""
    from socialcredit.interchange import import_ledger

    try:
        rep = import_ledger(directory, db)
    except (SocialCreditError, IngestError) as exc:
        raise _fail(exc) from None
    if json_:
        sys.stdout.write(json.dumps(rep.as_dict()) + "\n")
    else:
        out.print(f"imported {rep.records:,} records ({rep.duplicates:,} already present), "
                  f"{rep.subjects:,} subjects, {rep.providers} providers, {rep.programs} "
                  "program version(s)", highlight=False)


app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Population-scale scoring and Parquet interchange.")
app.command("score")(score_cmd)
app.command("export")(export_cmd)
app.command("import")(import_cmd)

__all__ = ["app", "export_cmd", "import_cmd", "score_cmd"]

if __name__ == "__main__":  # pragma: no cover
    app()
