"""Whole populations: materialize every standing (batch or Spark engine), export and
import the ledger as Parquet. The engine choice and the Spark orchestration live here,
not in the command line, so every interface gets the same behaviour."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialcredit.errors import SocialCreditError, UsageError
from socialcredit.ledger.parquet import DEFAULT_BUCKETS, export_ledger, read_program_versions
from socialcredit.ledger.versions import choose_program, pick_version, program_names
from socialcredit.service.context import Context
from socialcredit.service.parquet_import import ImportReport, import_ledger
from socialcredit.timeutil import now_us

ENGINES = ("batch", "spark")
Progress = Callable[[int, int], None]  # (subjects, records) done in the last partition


@dataclass(frozen=True)
class ScoreRun:
    program: str
    subjects: int
    at: int
    known_at: int
    out: str | None
    table: bool


def require_engine(engine: str) -> None:
    """Refuse an unknown engine, or Spark without its runtime, before any work starts."""
    if engine not in ENGINES:
        raise UsageError(f"engine {engine!r}: choose batch or spark")
    if engine == "spark":
        if importlib.util.find_spec("pyspark") is None:
            raise SocialCreditError("the Spark engine needs PySpark: pip install "
                                    "'socialcredit[spark]' (and Java 17+)",
                                    code="engine.unavailable")
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise SocialCreditError("the Spark engine needs a Java 17+ runtime (`java` on "
                                    "PATH or JAVA_HOME), e.g. Debian's default-jre-headless",
                                    code="engine.unavailable")


@contextlib.contextmanager
def readers_started(db: str | None) -> Iterator[None]:
    """The ledger's reader processes (SQLite, with the ADBC driver) started ahead of a
    `score_all` by the batch engine on this ledger run in the block, so that they start
    while the caller opens the ledger and the run reads its rulebook. They read nothing
    until the run's reader takes them (its snapshot is the run's); those not taken end
    with the block."""
    from socialcredit.db import resolve_db_url
    from socialcredit.ledger.arrow import prestarted

    with prestarted(resolve_db_url(db)):
        yield


def score_parquet(source: Path, program: str | None, t: int, k: int, dest: Path,
                  engine: str = "batch", *, memory_limit: str | None = None,
                  spark_master: str | None = None) -> tuple[str, int]:
    """Score an exported (Parquet) ledger into Parquet; returns (program, subjects)."""
    require_engine(engine)
    versions = read_program_versions(source)
    name = choose_program(program_names(versions), program)
    if engine == "spark":
        from socialcredit.scoring.spark import run_spark_job

        return name, run_spark_job(source, dest, name, t, k, master=spark_master)
    import pyarrow.parquet as pq

    from socialcredit.scoring.materialized import with_metadata
    from socialcredit.scoring.partitions import score_parquet as score_partitions

    rb = pick_version(versions, name, t, k).rulebook
    n = 0
    writer: pq.ParquetWriter | None = None
    try:
        for res in score_partitions(source, name, t, k, memory_limit=memory_limit):
            res = with_metadata(res, rb, name, t, k)
            if writer is None:
                writer = pq.ParquetWriter(str(dest), res.schema)
            writer.write_table(res)
            n += res.num_rows
    finally:
        if writer is not None:
            writer.close()
    return name, n


def score_export(source: Path, dest: Path, program: str | None = None,
                 at: int | None = None, known_at: int | None = None, *,
                 engine: str = "batch", memory_limit: str | None = None,
                 spark_master: str | None = None) -> ScoreRun:
    """Score an exported ledger into Parquet: no database involved (t defaults to now)."""
    t = at if at is not None else now_us()
    k = known_at if known_at is not None else t
    name, n = score_parquet(source, program, t, k, dest, engine,
                            memory_limit=memory_limit, spark_master=spark_master)
    return ScoreRun(name, n, t, k, str(dest), False)


class Population:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def score_all(self, program: str | None = None, at: int | None = None,
                  known_at: int | None = None, *, out: Path | None = None,
                  table: bool | None = None, engine: str = "batch",
                  memory_limit: str | None = None, spark_master: str | None = None,
                  progress: Progress | None = None) -> ScoreRun:
        """Every subject's standing at (t, k) into sc_standings (default unless `out`)
        and/or Parquet. The Spark engine reads an export made for it on the fly."""
        self.ctx.allow("population.score")
        require_engine(engine)
        ledger = self.ctx.ledger
        with self.ctx.read() as conn:
            committed = ledger.committed(conn)
        t = at if at is not None else max(ledger.clock(), committed)
        # what has committed is known; a write in flight stamps a later time
        k = known_at if known_at is not None else min(t, committed)
        to_table = table if table is not None else out is None
        if engine == "batch":
            from socialcredit.scoring.materialized import score_all

            name, _rb, n = score_all(ledger, program, t, k, out=out, table=to_table,
                                     memory_limit=memory_limit, progress=progress)
            return ScoreRun(name, n, t, k, str(out) if out else None, to_table)
        from socialcredit.scoring.materialized import load_standings

        name = ledger.resolve_program(program)
        rb = ledger.version_in_force(name, t, k).rulebook
        with tempfile.TemporaryDirectory(prefix="sc-spark-") as tmp:
            export_ledger(ledger, Path(tmp) / "ledger")
            dest = out or Path(tmp) / "standings"
            _, n = score_parquet(Path(tmp) / "ledger", name, t, k, dest, "spark",
                                 memory_limit=memory_limit, spark_master=spark_master)
            if to_table:
                load_standings(ledger, name, rb, dest, t, k)
        return ScoreRun(name, n, t, k, str(out) if out else None, to_table)

    def export(self, directory: Path, buckets: int = DEFAULT_BUCKETS) -> dict[str, Any]:
        self.ctx.allow("population.export")
        return export_ledger(self.ctx.ledger, directory, buckets=buckets)

    def import_(self, directory: Path) -> ImportReport:
        self.ctx.allow("population.import")
        return import_ledger(self.ctx, directory)

    def totals(self) -> tuple[int, int]:
        """(subjects, records), for progress bars."""
        self.ctx.allow("population.score")
        return self.ctx.ledger.count_subjects(), self.ctx.ledger.count_records()


__all__ = ["ENGINES", "Population", "ScoreRun", "require_engine", "score_export",
           "score_parquet"]
