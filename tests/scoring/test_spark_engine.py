"""The Spark engine agrees with the reference engine (local[2], one lazy session).

The session is created on first use by a session-scoped fixture in this module, so
no other test ever starts a JVM; every test here is marked `spark` (deselect with
`-m "not spark"`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_batch_engine import (
    LEDGER_CSV,
    LEDGER_RB,
    SUBJECTS,
    assert_agrees,
    histories,
    ledgers,
    reference_all,
    rulebooks,
    times,
)

from socialcredit.ledger import Record
from socialcredit.ledger.model import ProgramVersion
from socialcredit.rulebook import Rulebook
from socialcredit.scoring.batch import records_to_table
from socialcredit.service import Service
from socialcredit.timeutil import US_PER_DAY, parse_instant

pytestmark = pytest.mark.spark


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark")
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("socialcredit-tests")
               .config("spark.ui.enabled", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.default.parallelism", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.adaptive.enabled", "false")
               .config("spark.driver.memory", "1g")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def write_parquet_ledger(root: Path, rb: Rulebook, records: list[Record],
                         subjects: Sequence[tuple[str, str | None]]) -> None:
    """The layout `socialcredit export` writes, built directly from Records."""
    recs = records_to_table(records)
    (root / "records" / "bucket=0").mkdir(parents=True)
    (root / "subjects" / "bucket=0").mkdir(parents=True)
    (root / "programs").mkdir()
    pq.write_table(recs, root / "records" / "bucket=0" / "part-0.parquet")
    pq.write_table(pa.table({"subject": pa.array([s for s, _ in subjects], pa.string()),
                             "kind": pa.array([k for _, k in subjects], pa.string())}),
                   root / "subjects" / "bucket=0" / "part-0.parquet")
    pq.write_table(pa.table({
        "seq": pa.array([1], pa.int64()), "program": [rb.rulebook], "version": [rb.version],
        "effective_at": pa.array([-(2**62)], pa.int64()),
        "published_at": pa.array([0], pa.int64()), "sha256": [rb.sha256],
        "canonical": [rb.canonical()], "source": pa.array([None], pa.string())}),
        root / "programs" / "part-0.parquet")


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rb=rulebooks(), records=ledgers(), t=times, dk=st.integers(-4, 4))
def test_spark_agrees_with_reference(spark: Any, tmp_path_factory: pytest.TempPathFactory,
                                     rb: Rulebook, records: list[Record], t: int,
                                     dk: int) -> None:
    from socialcredit.scoring.spark import standings_frame

    k = t + dk * US_PER_DAY // 2
    root = tmp_path_factory.mktemp("pq")
    subjects = [(s, kind) for s, kind in SUBJECTS if kind is not None]
    write_parquet_ledger(root, rb, records, subjects)
    got = standings_frame(spark, root, rb, t, k).toArrow()
    assert_agrees(rb, got, reference_all(rb, records, t, k, subjects))


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(history=histories(), records=ledgers(), t=times, dk=st.integers(-4, 4))
def test_spark_agrees_with_reference_across_versions(
        spark: Any, tmp_path_factory: pytest.TempPathFactory, history: list[ProgramVersion],
        records: list[Record], t: int, dk: int) -> None:
    """Lex mitior in the cluster engine: the same standings as the reference."""
    from socialcredit.ledger.versions import version_at
    from socialcredit.scoring.spark import standings_frame

    k = t + dk * US_PER_DAY // 2
    pv = version_at(history, t, k)
    assume(pv is not None)
    assert pv is not None
    root = tmp_path_factory.mktemp("pq")
    subjects = [(s, kind) for s, kind in SUBJECTS if kind is not None]
    write_parquet_ledger(root, pv.rulebook, records, subjects)
    got = standings_frame(spark, root, pv.rulebook, t, k, history).toArrow()
    assert_agrees(pv.rulebook, got, reference_all(pv.rulebook, records, t, k, subjects,
                                                  history))


def test_spark_cli_on_a_real_ledger(spark: Any, make_ledger: Callable[..., Service],
                                    clock: Any, tmp_path: Path, db_url: str) -> None:
    """score --all --engine spark: export, Spark job, sc_standings; equals reference."""
    from typer.testing import CliRunner

    from socialcredit.cli.app import app
    from socialcredit.scoring.materialized import read_standing

    svc = make_ledger(LEDGER_RB, {"bank-1": "bank", "rev-1": "reviewer"})
    svc.records.ingest_text(LEDGER_CSV, backfill=True)
    clock.set("2026-01-05T00:00:00Z")
    svc.records.ingest_text("record_id,provider,subject,type,occurred_at,ref\n"
                        "rev-1:1,rev-1,bob,review.void,2025-12-01,bank-1:6\n")
    out = tmp_path / "standings"
    res = CliRunner().invoke(app, ["score", "--all", "--engine", "spark", "--db", db_url,
                                   "--at", "2026-01-10", "--out", str(out), "--table",
                                   "--quiet"])
    assert res.exit_code == 0, res.output
    t = parse_instant("2026-01-10")
    rows = {r["subject"]: r for r in pq.read_table(out).to_pylist()}
    for subject, _ in svc.ledger.all_subjects():
        ref = svc.standings.of(subject, "city", t, t)
        assert math.isclose(rows[subject]["score"], ref.score, abs_tol=1e-6)
        assert rows[subject]["lists"] == ref.lists and rows[subject]["tier"] == ref.tier
        row = read_standing(svc.ledger.engine, "city", subject)
        assert row is not None and math.isclose(row["score"], ref.score, abs_tol=1e-6)


def test_spark_matches_batch_on_synthetic_population(spark: Any, tmp_path: Path) -> None:
    """The benchmark rulebook (decay, expiry, max_count, caps) on a synthetic ledger:
    Spark and the batch engine agree on every subject."""
    from socialcredit.lab.synth import benchmark_rulebook, synthesize_batches
    from socialcredit.lab.synth_parquet import rows_to_ledger
    from socialcredit.scoring.batch import score_partition
    from socialcredit.scoring.spark import standings_frame

    rb = benchmark_rulebook(n_types=10)
    raw = pa.concat_tables(list(synthesize_batches(rb, subjects=300, months=24, seed=3,
                                                   per_subject=20.0)))
    recs, subs = rows_to_ledger(rb, raw)
    root = tmp_path / "pq"
    (root / "records" / "bucket=0").mkdir(parents=True)
    (root / "subjects" / "bucket=0").mkdir(parents=True)
    pq.write_table(recs, root / "records" / "bucket=0" / "part-0.parquet")
    pq.write_table(subs, root / "subjects" / "bucket=0" / "part-0.parquet")
    t = parse_instant("2026-06-01")
    want = {r["subject"]: r for r in score_partition(rb, recs, subs, t, t).to_pylist()}
    got = {r["subject"]: r for r in standings_frame(spark, root, rb, t, t).toArrow()
           .to_pylist()}
    assert got.keys() == want.keys()
    for s, row in want.items():
        assert math.isclose(got[s]["score"], row["score"], abs_tol=1e-6)
        assert got[s]["tier"] == row["tier"]
