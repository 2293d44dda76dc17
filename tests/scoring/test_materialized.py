"""score --all, the sc_standings table, refresh on ingest, and Parquet export/import."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.errors import IngestError, LedgerError
from socialcredit.scoring.batch import dimension_column
from socialcredit.scoring.materialized import has_rows, read_standing, score_all
from socialcredit.scoring.partitions import score_ledger, score_parquet
from socialcredit.service import Service
from socialcredit.service.parquet_import import ImportReport
from socialcredit.timeutil import parse_instant

RB = """
rulebook: city
version: "1"
subjects: [person, organization]
catalogue: {id: test-catalogue, version: "t1"}
scale: {base: 1000, min: 0, max: 1200}
dimensions:
  - {id: commercial, min: -600, max: 200}
  - {id: capacity}
record_types:
  - {id: finance.arrears, kind: conduct, providers: [bank], evidence: required,
     legal_basis: "test", category: financial_obligation, context: finance, item: finance,
     resolved_by: [finance.paid]}
  - {id: finance.paid, kind: resolution, providers: [bank], item: finance}
  - {id: fact.months, kind: fact, providers: [bank], evidence: required, legal_basis: "test",
     item: finance}
  - {id: review.void, kind: void, providers: [reviewer], item: review}
rules:
  - {record: finance.arrears, dimension: commercial, points: -40, half_life: 365d,
     expires: 5y, max_count: 3, resolved_points: -10}
attributes:
  - record: fact.months
    dimension: capacity
    bins: [{below: 12, points: 20}, {below: 36, points: 5}, {points: -10}]
tiers: [{id: A, min: 1000}, {id: B, min: 950}, {id: C, min: 0}]
lists:
  - {id: arrears_list, kind: black, enter_when: {record: finance.arrears}, notice: 1d,
     max_duration: 1y}
"""
PROVIDERS = {"bank-1": "bank", "rev-1": "reviewer"}


def seed_csv(n: int = 40) -> str:
    lines = ["record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref"]
    for i in range(n):
        subj = f"p{i % 13:02d}"
        kind = "person" if i < 13 else ""
        typ = "fact.months" if i % 5 == 0 else "finance.arrears"
        value = str(i % 50) if typ == "fact.months" else ""
        ev = f"doc{i}"
        lines.append(f"bank-1:{i},bank-1,{subj},{kind},{typ},2025-{1 + i % 12:02d}-0{1 + i % 9}"
                     f",{value},{ev},")
    return "\n".join(lines) + "\n"


def rows_by_subject(table: Any) -> dict[str, dict[str, Any]]:
    return {r["subject"]: r for r in table.to_pylist()}


def import_into(directory: Path, db: str) -> ImportReport:
    with Service.create_empty(db) as svc:
        return svc.population.import_(directory)


def no_rows(svc: Service) -> bool:
    with svc.ledger.engine.connect() as conn:
        return not has_rows(conn)


def check_row(row: dict[str, Any], svc: Service, subject: str, t: int) -> None:
    ref = svc.standings.of(subject, "city", t, t)
    assert math.isclose(row["score"], ref.score, abs_tol=1e-6)
    assert row["tier"] == ref.tier
    assert row["lists"] == ref.lists
    for d, v in ref.dimensions.items():
        assert math.isclose(row["dimensions"][d], v, abs_tol=1e-6)


def test_score_all_and_refresh_on_ingest(make_ledger: Callable[..., Service], clock: Any,
                                         tmp_path: Path) -> None:
    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv())
    assert no_rows(svc)
    clock.set("2026-02-01T00:00:00Z")
    t = parse_instant("2026-02-01T00:00:00Z")
    name, _rb, n = score_all(svc.ledger, None, t, t, out=tmp_path / "s.parquet",
                             rows_per_partition=7)
    assert (name, n) == ("city", 13)
    parquet = rows_by_subject(pq.read_table(tmp_path / "s.parquet"))
    for subject, _ in svc.ledger.all_subjects():
        row = read_standing(svc.ledger.engine, "city", subject)
        assert row is not None and row["at"] == t
        check_row(row, svc, subject, t)
        assert math.isclose(parquet[subject]["score"], row["score"], abs_tol=1e-9)
    # new records: a new subject, a resolution, a void and a new arrear on p01
    clock.set("2026-02-02T00:00:00Z")
    svc.records.ingest_text("record_id,provider,subject,subject_kind,type,occurred_at,value,"
                        "evidence,ref\n"
                        "bank-1:n1,bank-1,newbie,organization,finance.arrears,2026-01-20,,d,\n"
                        "bank-1:n2,bank-1,p01,,finance.arrears,2026-01-30,,d,\n"
                        "bank-1:n3,bank-1,p02,,finance.paid,2026-01-31,,,bank-1:2\n")
    clock.set("2026-02-03T00:00:00Z")
    svc.records.ingest_text("record_id,provider,subject,type,occurred_at,ref\n"
                        "rev-1:1,rev-1,p03,review.void,2026-02-02,bank-1:3\n")
    t2 = parse_instant("2026-02-03T00:00:00Z")
    fresh = rows_by_subject(next(iter(score_ledger(svc.ledger, "city", t2, t2))))
    for subject in ("newbie", "p01", "p03"):
        row = read_standing(svc.ledger.engine, "city", subject)
        assert row is not None
        check_row(row, svc, subject, row["at"])
        if subject == "p03":  # the row is as of the last ingest that touched it
            assert row["at"] == t2
            assert math.isclose(fresh[subject]["score"], row["score"], abs_tol=1e-9)
    p02 = read_standing(svc.ledger.engine, "city", "p02")
    assert p02 is not None
    check_row(p02, svc, "p02", p02["at"])
    untouched = read_standing(svc.ledger.engine, "city", "p05")
    assert untouched is not None and untouched["at"] == t


def test_refresh_is_a_no_op_without_materialized_table(make_ledger: Callable[..., Service]
                                                       ) -> None:
    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv(5))
    assert no_rows(svc)


def test_export_import_round_trip(make_ledger: Callable[..., Service], clock: Any,
                                  tmp_path: Path) -> None:
    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv())
    clock.set("2026-01-05T00:00:00Z")
    svc.records.ingest_text("record_id,provider,subject,type,occurred_at,ref\n"
                        "rev-1:1,rev-1,p03,review.void,2026-01-02,bank-1:3\n"
                        "bank-1:r1,bank-1,p04,finance.paid,2026-01-03,bank-1:4\n")
    out = tmp_path / "export"
    manifest = svc.population.export(out, buckets=4)
    assert manifest["counts"]["records"] == 42
    assert {p.name for p in (out / "records").iterdir()} <= {f"bucket={i}" for i in range(4)}
    # DuckDB reads it, with the hive partition column
    con = duckdb.connect()
    got = con.execute(f"select count(*), count(distinct bucket) from read_parquet("
                      f"'{out}/records/*/*.parquet', hive_partitioning = true)").fetchone()
    assert got is not None and got[0] == 42
    # the Parquet ledger scores like the database
    t = parse_instant("2026-01-10T00:00:00Z")
    from_db = rows_by_subject(next(iter(score_ledger(svc.ledger, "city", t, t))))
    import pyarrow as pa

    from_pq = rows_by_subject(pa.concat_tables(list(score_parquet(out, None, t, t,
                                                                  rows_per_partition=5))))
    assert from_pq.keys() == from_db.keys()
    for s, row in from_db.items():
        assert math.isclose(from_pq[s]["score"], row["score"], abs_tol=1e-9)
        assert from_pq[s]["lists"] == row["lists"]
    # import into a fresh ledger (SQLite), twice: idempotent
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    rep = import_into(out, target)
    assert (rep.records, rep.subjects, rep.programs, rep.providers) == (42, 13, 1, 2)
    rep2 = import_into(out, target)
    assert (rep2.records, rep2.duplicates, rep2.subjects, rep2.programs) == (0, 42, 0, 0)
    with Service.open(target) as copy:
        assert copy.ledger.count_records() == 42
        for s, _ in svc.ledger.all_subjects():
            a = svc.standings.of(s, "city", t, t)
            b = copy.standings.of(s, "city", t, t)
            assert a.score == b.score and a.lists == b.lists
            assert sorted(svc.ledger.records_of(s), key=lambda r: r.record_id) == sorted(
                copy.ledger.records_of(s), key=lambda r: r.record_id)
        assert copy.ledger.program_versions()[0].published_at == \
            svc.ledger.program_versions()[0].published_at


def test_import_validates(make_ledger: Callable[..., Service], tmp_path: Path) -> None:
    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv(6))
    out = tmp_path / "export"
    svc.population.export(out, buckets=1)
    # tamper: a record whose type no program declares
    import pyarrow as pa

    f = next((out / "records").glob("bucket=*/*.parquet"))
    t = pq.read_table(f)
    types = t.column("type").to_pylist()
    types[0] = "no.such.type"
    pq.write_table(t.set_column(t.schema.get_field_index("type"), "type",
                                pa.array(types, pa.string())), f)
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    with pytest.raises(IngestError, match="unknown record type"):
        import_into(out, target)
    with Service.open(target) as copy:  # all or nothing: nothing went in
        assert copy.ledger.count_records() == 0
        assert copy.ledger.program_versions() == []
    with pytest.raises(LedgerError, match="not empty"):
        svc.population.export(out)


def test_cli_score_export_import(make_ledger: Callable[..., Service], clock: Any,
                                 tmp_path: Path, db_url: str) -> None:
    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv())
    runner = CliRunner()
    res = runner.invoke(app, ["score", "--all", "--at", "2026-01-10", "--db", db_url,
                              "--out", str(tmp_path / "s.parquet"), "--table", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "13 subject(s)" in res.output
    t = parse_instant("2026-01-10")
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.schema.metadata[b"socialcredit.at"] == str(t).encode()
    assert dimension_column("commercial") in table.schema.names
    row = read_standing(svc.ledger.engine, "city", "p01")
    assert row is not None and row["at"] == t
    res = runner.invoke(app, ["score", "--db", db_url])
    assert res.exit_code == 64 and "--all" in res.output
    res = runner.invoke(app, ["export", str(tmp_path / "x"), "--db", db_url, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["counts"]["records"] == 40
    res = runner.invoke(app, ["import", str(tmp_path / "x"), "--db",
                              str(tmp_path / "y.db"), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["records"] == 40
    res = runner.invoke(app, ["score", "--all", "--from", str(tmp_path / "x"), "--at",
                              "2026-01-10", "--out", str(tmp_path / "z.parquet"), "--quiet"])
    assert res.exit_code == 0, res.output
    z = rows_by_subject(pq.read_table(tmp_path / "z.parquet"))
    assert math.isclose(z["p01"]["score"], row["score"], abs_tol=1e-9)


def test_a_decision_sees_a_new_record_within_a_second_through_the_table(make_ledger, clock):
    """The decision path reads the materialized standings; ingest keeps them current,
    so a relying party's next decision reflects a record just ingested."""
    import time

    from socialcredit.scoring.materialized import score_all
    from tests.helpers import BASE

    h = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
    svc = make_ledger(BASE.replace("notice: 10d", "notice: 1d"),
                         {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"})
    svc.records.ingest_text(h + "bank-1:b1,bank-1,alice,person,bonus,2025-12-01,,,\n")
    score_all(svc.ledger, None, svc.now(), svc.now())
    d = svc.decisions.decide("alice", "bike", materialized=True)
    assert d.source == "materialized" and d.effect == "benefit"
    clock.set("2026-01-01T00:00:01Z")
    started = time.perf_counter()
    svc.records.ingest_text(h + "".join(f"bank-1:a{i},bank-1,alice,,arrears,2025-12-31,,e,\n"
                                    for i in range(3)))
    d = svc.decisions.decide("alice", "bike", materialized=True)
    elapsed = time.perf_counter() - started
    assert d.source == "materialized"
    assert d.standing.score < 1000 and d.effect == "allow"  # the arrears are seen
    assert elapsed < 1.0, elapsed
    live = svc.decisions.decide("alice", "bike")
    assert abs(live.standing.score - d.standing.score) < 1e-6


def test_import_keeps_materialized_standings_current(make_ledger, clock, tmp_path, db_url):
    """After an import, a decision read from the table equals the live one."""
    from tests.helpers import BASE, catalogue_for_tests

    h = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
    providers = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
    source = make_ledger(BASE, providers)
    source.records.ingest_text(h + "bank-1:b1,bank-1,alice,person,bonus,2025-12-01,,,\n"
                                   "bank-1:b2,bank-1,alice,,bonus,2025-12-02,,,\n")
    source.population.export(tmp_path / "exp")
    target = Service.create(source.ledger.program_versions()[0].rulebook,
                            f"sqlite:///{tmp_path}/t.db", clock=clock,
                            catalogue=catalogue_for_tests())
    for p, role in providers.items():
        target.providers.add(p, role)
    target.records.ingest_text(h + "bank-1:b1,bank-1,alice,person,bonus,2025-12-01,,,\n")
    target.population.score_all(None, target.now(), target.now())
    target.population.import_(tmp_path / "exp")
    fast = target.decisions.decide("alice", "bike", materialized=True)
    live = target.decisions.decide("alice", "bike")
    assert fast.source == "materialized"
    assert abs(fast.standing.score - live.standing.score) < 1e-6 and live.standing.score == 1057
    target.close()


def scored_city(make_ledger: Callable[..., Service], clock: Any) -> tuple[Service, list[str]]:
    """The seeded city ledger with every standing materialized on 1 February 2026."""
    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv())
    clock.set("2026-02-01T00:00:00Z")
    t = parse_instant("2026-02-01T00:00:00Z")
    score_all(svc.ledger, None, t, t)
    return svc, [s for s, _ in svc.ledger.all_subjects()]


def test_materialized_standing_is_exact_at_any_time(make_ledger: Callable[..., Service],
                                                    clock: Any) -> None:
    """`check --materialized` at any later time equals the live check: the row is
    evaluated at now while now is before its next change, recomputed (and written back)
    at or after it; a new record or due process drops the cached row."""
    from socialcredit.service.standings import materialized_standing

    svc, subjects = scored_city(make_ledger, clock)
    for day in ("2026-02-01T00:00:00Z", "2026-02-01T00:00:01Z", "2026-02-09T12:00:00Z",
                "2026-05-17T03:00:00Z", "2026-06-30T00:00:00Z", "2027-01-02T00:00:00Z",
                "2031-03-01T00:00:00Z"):
        clock.set(day)
        for subject in subjects:
            found = materialized_standing(svc.ctx, subject, None)
            assert found is not None
            if found.writeback is not None:  # a refreshed row is stored with the next write
                with svc.ledger.write() as conn:
                    found.write(conn)
            live = svc.standings.of(subject)
            got = found.standing
            assert math.isclose(got.score, live.score, abs_tol=1e-9), (day, subject)
            assert got.tier == live.tier and got.lists == live.lists, (day, subject)
            for d, v in live.dimensions.items():
                assert math.isclose(got.dimensions[d], v, abs_tol=1e-9)
            d = svc.decisions.decide(subject, "nothing.declared", materialized=True)
            assert d.source == "materialized" and d.at == got.at
    row = read_standing(svc.ledger.engine, "city", "p01")
    assert row is not None and row["terms"] is not None
    # a new record: the cached row goes, the ingest's row is read
    cache = svc.ctx.cache
    assert cache is not None
    before = materialized_standing(svc.ctx, "p01", None)
    assert before is not None
    svc.records.ingest_text("record_id,provider,subject,type,occurred_at,evidence\n"
                            "bank-1:late,bank-1,p01,finance.arrears,2031-02-28,d\n")
    after = materialized_standing(svc.ctx, "p01", None)
    assert after is not None and after.standing.score < before.standing.score
    assert math.isclose(after.standing.score, svc.standings.of("p01").score, abs_tol=1e-9)


def test_decisions_logged_under_group_commit(make_ledger: Callable[..., Service],
                                             clock: Any) -> None:
    """Rows gathered per group commit are all written: every decision acknowledged is in
    the log, with its access-log entry."""
    import threading

    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv())
    clock.set("2026-02-01T00:00:00Z")
    t = parse_instant("2026-02-01T00:00:00Z")
    score_all(svc.ledger, None, t, t)
    gc = svc.with_group_commit()
    ids: list[str] = []

    def work(j: int) -> None:
        for i in range(20):
            ids.append(gc.decisions.decide(f"p{(i + j) % 13:02d}", "nothing.declared",
                                           materialized=True).decision_id)

    threads = [threading.Thread(target=work, args=(j,)) for j in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    logged = {d["decision_id"] for d in svc.decisions.log(None, 1000)}
    assert set(ids) <= logged and len(ids) == 120
    from sqlalchemy import func, select

    from socialcredit.dueprocess.schema import access_log

    with svc.ledger.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(access_log).where(
            access_log.c.operation == "decision")).scalar()
    assert n == 120


def test_a_version_published_after_the_rows_is_read_exactly(
        make_ledger: Callable[..., Service], clock: Any) -> None:
    """A row computed under version 1 stops being used once version 2 is published: a
    milder v2 (lex mitior reaches back) changes standings without any new record."""
    from socialcredit.rulebook.loader import parse_rulebook
    from socialcredit.service.standings import materialized_standing

    svc, subjects = scored_city(make_ledger, clock)
    before = {s: materialized_standing(svc.ctx, s, None) for s in subjects}
    clock.set("2026-02-02T00:00:00Z")
    milder = RB.replace('version: "1"', 'version: "2"').replace("points: -40", "points: -20")
    svc.programs.publish(parse_rulebook(milder, "v2.yaml"))
    clock.set("2026-02-03T00:00:00Z")
    changed = 0
    for subject in subjects:
        found = materialized_standing(svc.ctx, subject, None)
        assert found is not None
        live = svc.standings.of(subject)
        assert math.isclose(found.standing.score, live.score, abs_tol=1e-9), subject
        assert found.standing.lists == live.lists and found.standing.tier == live.tier
        old = before[subject]
        assert old is not None
        changed += not math.isclose(old.standing.score, live.score, abs_tol=1e-6)
    assert changed > 0  # the milder version did reach back


def test_score_all_rows_are_exact_without_recomputation(
        make_ledger: Callable[..., Service], clock: Any) -> None:
    """Rows from `score --all` carry the batch engine's exact terms: a first read at a
    later time evaluates the row (nothing recomputed, nothing written back), equal to
    the live standing, and the row is the one the reference path would write."""
    from socialcredit.scoring.exact import Terms, evaluate
    from socialcredit.scoring.materialized import exact_row
    from socialcredit.service.standings import materialized_standing

    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv())
    clock.set("2026-02-01T00:00:00Z")
    run = svc.population.score_all()  # as the CLI runs it: known at the last commit
    t, k = run.at, run.known_at
    subjects = [s for s, _ in svc.ledger.all_subjects()]
    clock.set("2026-02-01T06:00:00Z")
    later = parse_instant("2026-02-01T06:00:00Z")
    history = svc.ledger.program_versions("city")
    rb = svc.ledger.version_in_force("city", t, k).rulebook
    untouched = 0
    for subject in subjects:
        row = read_standing(svc.ledger.engine, "city", subject)
        assert row is not None and row["terms"] is not None
        with svc.ledger.engine.connect() as conn:
            ref_row, _, ref_terms = exact_row(svc.ledger, conn, rb, "city", subject, t, k,
                                              history)
        assert row["valid_until"] == ref_row["valid_until"], subject
        mine = Terms.loads(row["terms"], t, row["valid_until"])
        assert mine.record_lists == ref_terms.record_lists
        if mine.valid(later):
            assert math.isclose(evaluate(rb, mine, later).score,
                                evaluate(rb, ref_terms, later).score, abs_tol=1e-9)
        found = materialized_standing(svc.ctx, subject, None)
        assert found is not None
        if mine.valid(later):
            assert found.writeback is None, subject  # read from the row alone
            untouched += 1
        live = svc.standings.of(subject)
        assert math.isclose(found.standing.score, live.score, abs_tol=1e-9), subject
        assert found.standing.tier == live.tier and found.standing.lists == live.lists
    assert untouched > len(subjects) // 2
    # an ingest's refreshed row is exact too: read later without recomputation
    svc.records.ingest_text("record_id,provider,subject,type,occurred_at,evidence\n"
                            "bank-1:new,bank-1,p01,finance.arrears,2026-01-31,d\n")
    row = read_standing(svc.ledger.engine, "city", "p01")
    assert row is not None and row["terms"] is not None
    clock.set("2026-02-01T07:00:00Z")
    found = materialized_standing(svc.ctx, "p01", None)
    assert found is not None and found.writeback is None
    assert math.isclose(found.standing.score, svc.standings.of("p01").score, abs_tol=1e-9)


def test_score_all_as_known_earlier_writes_rows_exact_at_their_instant_only(
        make_ledger: Callable[..., Service], clock: Any) -> None:
    """A run as known at an earlier k than the ledger's last commit cannot promise what
    was recorded since: its rows carry no terms."""
    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv())
    clock.set("2026-02-01T00:00:00Z")
    t = parse_instant("2026-02-01T00:00:00Z")
    with svc.ledger.engine.connect() as conn:
        committed = svc.ledger.committed(conn)
    score_all(svc.ledger, None, t, committed - 1)
    for subject, _ in svc.ledger.all_subjects():
        row = read_standing(svc.ledger.engine, "city", subject)
        assert row is not None and row["terms"] is None and row["valid_until"] is None
