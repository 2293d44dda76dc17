"""The ledger on SQLite and PostgreSQL: ingest, idempotency, bad input, append-only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from socialcredit.errors import IngestError, LedgerError, RulebookError
from socialcredit.ledger import schema
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.helpers import BASE, catalogue_for_tests

PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer", "rev-2": "reviewer"}
HEADER = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"


@pytest.fixture
def svc(make_ledger):
    return make_ledger(BASE, PROVIDERS)


def write(tmp_path: Path, body: str, name: str = "r.csv", header: str = HEADER) -> Path:
    p = tmp_path / name
    p.write_text(header + body if name.endswith(".csv") else body, encoding="utf-8")
    return p


def count(svc: Service) -> int:
    return svc.ledger.count_records()


def test_ingest_csv_and_standing(svc, tmp_path, clock):
    f = write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n"
                        "bank-1:b1,bank-1,alice,,bonus,2025-12-02T08:00:00+08:00,,,\n")
    rep = svc.records.ingest_file(f)
    assert (rep.accepted, rep.duplicates, rep.rejected) == (2, 0, 0)
    st = svc.standings.of("alice")
    assert {c.record_id for c in st.contributions} == {"bank-1:a1", "bank-1:b1"}
    recs = {r.record_id: r for r in svc.ledger.records_of("alice")}
    assert recs["bank-1:b1"].occurred_at == parse_instant("2025-12-02T00:00:00Z")
    # the ledger's clock, not the file's: the wall clock, or a microsecond after the last
    # transaction when the clock stands still (transaction times strictly increase)
    assert recs["bank-1:a1"].recorded_at == rep.recorded_at
    assert 0 < rep.recorded_at - clock.now < 10


def test_ingest_jsonl(svc, tmp_path):
    lines = [{"record_id": "bank-1:h1", "provider": "bank-1", "subject": "bob",
              "subject_kind": "person", "type": "hours", "occurred_at": "2025-11-01",
              "value": 4},
             {"record_id": "bank-1:f1", "provider": "bank-1", "subject": "bob", "type": "history",
              "occurred_at": "2025-11-01T00:00:00Z", "value": "abc", "evidence": "e"}]
    f = write(tmp_path, "\n".join(json.dumps(x) for x in lines) + "\n", "r.jsonl")
    assert svc.records.ingest_file(f).accepted == 2
    recs = {r.record_id: r for r in svc.ledger.records_of("bob")}
    assert recs["bank-1:h1"].value_num == 4.0 and recs["bank-1:f1"].value_text == "abc"


def test_same_record_twice_is_accepted_once(svc, tmp_path):
    f = write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n"
                        "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n")
    rep = svc.records.ingest_file(f)
    assert (rep.accepted, rep.duplicates) == (1, 1)
    rep = svc.records.ingest_file(f)
    assert (rep.accepted, rep.duplicates) == (0, 2)
    assert count(svc) == 1


def test_same_id_other_content_is_an_error(svc, tmp_path):
    svc.records.ingest_file(write(tmp_path,
                                  "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n"))
    f = write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2025-12-02,,sha256:1,\n", "b.csv")
    with pytest.raises(IngestError, match=r"b\.csv:2: record_id: 'bank-1:a1' is already in the "
                                          r"ledger with other content \(occurred_at differ\)"):
        svc.records.ingest_file(f)
    f = write(tmp_path, "bank-1:a2,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n"
                        "bank-1:a2,bank-1,alice,person,arrears,2025-12-01,,sha256:2,\n", "c.csv")
    with pytest.raises(IngestError, match=r"c\.csv:3: record_id: 'bank-1:a2' appears on line 2"):
        svc.records.ingest_file(f)
    assert count(svc) == 1


@pytest.mark.parametrize(("row", "field", "message"), [
    ("bank-1:x1,bank-1,alice,person,nosuch,2025-12-01,,e,", "type", "unknown record type 'nosuch'"),
    ("bank-1:x1,bank-1,alice,alien,arrears,2025-12-01,,e,", "subject_kind", "unknown subject kind"),
    ("bank-1:x1,bank-1,alice,,arrears,2025-12-01,,e,", "subject_kind", "required the first time"),
    ("bank-1:x1,bank-1,alice,person,arrears,2025-12-01,,,", "evidence", "required for 'arrears'"),
    ("bank-1:x1,bank-1,alice,person,arrears,yesterday,,e,", "occurred_at", "not an ISO 8601"),
    ("bank-1:x1,bank-1,alice,person,arrears,2025-12-01T10:00:00,,e,", "occurred_at",
     "needs a zone"),
    ("bank-1:x1,bank-1,alice,person,arrears,2025-13-01,,e,", "occurred_at", "not an ISO 8601"),
    ("x1,nobody,alice,person,arrears,2025-12-01,,e,", "provider", "unknown provider"),
    ("court-1:x1,court-1,alice,person,arrears,2025-12-01,,e,", "provider",
     "may not submit 'arrears'"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,lots,,", "value", "needs a number"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,nan,,", "value", "needs a number"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,1e400,,", "value", "finite"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,1_000,,", "value", "needs a number"),
    (",bank-1,alice,person,arrears,2025-12-01,,e,", "record_id", "missing"),
    ("bank-1:x1,bank-1,alice,person,paid,2025-12-01,,e,", "ref", "names the record_id"),
    ("bank-1:x1,bank-1,alice,person,paid,2025-12-01,,e,zzz", "ref", "no record 'zzz'"),
    ("bank-1:x1,bank-1,alice,person,arrears,2025-12-01,,e,zzz", "ref", "only resolution and void"),
    ("bank-1:x1,bank-1,alice,person,void,2025-12-01,,e,zzz", "provider", "may not submit 'void'"),
])
def test_bad_rows_name_file_line_and_field(svc, tmp_path, row, field, message):
    good = "bank-1:g1,bank-1,bob,person,bonus,2025-12-01,,,\n"
    f = write(tmp_path, good + row + "\n")
    with pytest.raises(IngestError) as exc:
        svc.records.ingest_file(f)
    text = str(exc.value)
    assert f"{f}:3: {field}:" in text, text
    assert message in text, text
    assert "nothing was ingested" in text
    assert count(svc) == 0  # a refused file stores nothing, not even its good rows


def test_voids_only_by_a_reviewer_who_did_not_provide_the_record(make_ledger, tmp_path):
    rb = BASE.replace("providers: [reviewer]", "providers: [reviewer]")
    svc = make_ledger(rb, {**PROVIDERS, "rev-bank": "reviewer"})
    svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,e,"
                                            "\n"))
    ok = write(tmp_path, "rev-1:v1,rev-1,alice,,void,2025-12-05,,e,bank-1:a1\n", "v.csv")
    assert svc.records.ingest_file(ok).accepted == 1
    st = svc.standings.of("alice")
    assert st.contributions == []


def test_ref_must_be_about_the_same_subject(svc, tmp_path):
    svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,e,"
                                            "\n"))
    f = write(tmp_path, "bank-1:r1,bank-1,bob,person,paid,2025-12-05,,e,bank-1:a1\n", "r.csv")
    with pytest.raises(IngestError, match="about another subject"):
        svc.records.ingest_file(f)


def test_void_of_a_void_and_resolution_of_a_fact_are_refused(svc, tmp_path):
    svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,e,\n"
                                        "bank-1:f1,bank-1,alice,,history,2025-12-01,3,e,\n"
                                        "rev-1:v1,rev-1,alice,,void,2025-12-02,,e,bank-1:a1\n"))
    with pytest.raises(IngestError, match="itself a void"):
        svc.records.ingest_file(write(tmp_path, "rev-2:v2,rev-2,alice,,void,2025-12-03,,e,"
                                                "rev-1:v1\n", "b.csv"))
    with pytest.raises(IngestError, match="resolves a conduct record"):
        svc.records.ingest_file(write(tmp_path, "bank-1:r2,bank-1,alice,,paid,2025-12-03,,e,"
                                                "bank-1:f1\n",
                                      "c.csv"))


def test_subject_kind_cannot_change(svc, tmp_path):
    svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice,person,bonus,2025-12-01,,,\n"))
    with pytest.raises(IngestError, match="already a person"):
        svc.records.ingest_file(write(tmp_path,
                                      "bank-1:a2,bank-1,alice,organization,bonus,2025-12-01,,,\n",
                                  "b.csv"))


def test_organizations_with_uscc_ids_are_validated(make_ledger, tmp_path):
    svc = make_ledger(BASE.replace("subjects: [person]", "subjects: [person, organization]"),
                         PROVIDERS)
    good = "91350100M000100Y43"
    bad = "91350100M000100Y44"
    svc.records.ingest_file(write(tmp_path, f"bank-1:a1,bank-1,{good},organization,bonus,"
                                            f"2025-12-01,,,\n"))
    assert svc.ledger.subject_kind(good) == "organization"
    with pytest.raises(IngestError, match="not a valid Unified Social Credit Code"):
        svc.records.ingest_file(write(tmp_path,
                                      f"bank-1:a2,bank-1,{bad},organization,bonus,2025-12-01,,,\n",
                                  "b.csv"))
    # opaque organization ids that are not USCC-shaped stay allowed
    svc.records.ingest_file(write(tmp_path, "bank-1:a3,bank-1,ORG-7,organization,bonus,2025-12-01,"
                                            ",,\n",
                              "c.csv"))


def test_skip_invalid_ingests_good_rows_and_writes_rejects_beside(svc, tmp_path):
    f = write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,e,\n"
                        "bank-1:a2,bank-1,alice,,nosuch,2025-12-01,,e,\n"
                        "bank-1:r1,bank-1,alice,,paid,2025-12-02,,e,bank-1:a2\n"
                        "bank-1:a3,bank-1,alice,,bonus,2025-12-03,,,\n")
    rep = svc.records.ingest_file(f, skip_invalid=True)
    assert (rep.accepted, rep.rejected) == (2, 2)
    rejected = Path(rep.rejected_file or "")
    assert rejected == tmp_path / "r.rejected.csv"
    text = rejected.read_text()
    assert "unknown record type 'nosuch'" in text and "bank-1:a2" in text
    assert "bank-1:r1" in text  # its reference was rejected, so it goes too
    assert {r.record_id for r in svc.ledger.records_of("alice")} == {"bank-1:a1", "bank-1:a3"}


def test_recorded_at_only_with_backfill(svc, tmp_path, clock):
    header = HEADER.rstrip("\n") + ",recorded_at\n"
    body = "bank-1:a1,bank-1,alice,person,arrears,2024-01-01,,e,,2024-01-03\n"
    with pytest.raises(IngestError, match="recorded_at: set by the ledger's clock"):
        svc.records.ingest_file(write(tmp_path, body, header=header))
    rep = svc.records.ingest_file(write(tmp_path, body, header=header), backfill=True)
    assert rep.accepted == 1
    (r,) = svc.ledger.records_of("alice")
    assert r.recorded_at == parse_instant("2024-01-03")
    with svc.ledger.engine.connect() as conn:
        kinds = [k for (k,) in conn.execute(select(schema.operations.c.kind))]
    assert "ingest.backfill" in kinds  # the backfill is a logged operation
    future = "bank-1:a9,bank-1,alice,,arrears,2024-01-01,,e,,2030-01-01\n"
    with pytest.raises(IngestError, match="future"):
        svc.records.ingest_file(write(tmp_path, future, "f.csv", header=header), backfill=True)


def test_recorded_at_is_monotone_when_the_wall_clock_steps_back(svc, tmp_path, clock):
    clock.set("2026-03-01T00:00:00Z")
    svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice,person,bonus,2025-12-01,,,\n"))
    clock.set("2026-02-01T00:00:00Z")
    svc.records.ingest_file(write(tmp_path, "bank-1:a2,bank-1,alice,,bonus,2025-12-01,,,\n",
                                  "b.csv"))
    recs = {r.record_id: r.recorded_at for r in svc.ledger.records_of("alice")}
    assert recs["bank-1:a2"] >= recs["bank-1:a1"]


def test_malformed_csv_header_and_width(svc, tmp_path):
    with pytest.raises(IngestError, match=r"r\.csv:1: missing column\(s\): occurred_at"):
        svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice,arrears\n",
                                  header="record_id,provider,subject,type\n"))
    with pytest.raises(IngestError, match=r"r\.csv:2: row: expected 9 fields, found 3"):
        svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice\n"))


def test_jsonl_bad_line(svc, tmp_path):
    f = write(tmp_path, '{"record_id": "a"\n', "r.jsonl")
    with pytest.raises(IngestError, match=r"r\.jsonl:1: row: not valid JSON"):
        svc.records.ingest_file(f)


def test_open_missing_ledger_and_double_init(db_url, clock):
    with pytest.raises(LedgerError, match="no ledger"):
        Service.open(db_url)
    from socialcredit.rulebook import parse_rulebook

    Service.create(parse_rulebook(BASE), db_url, clock=clock,
                   catalogue=catalogue_for_tests()).close()
    with pytest.raises(LedgerError, match="already exists"):
        Service.create(parse_rulebook(BASE), db_url, clock=clock,
                   catalogue=catalogue_for_tests())


def test_programs_sharing_a_type_must_agree(svc):
    from socialcredit.rulebook import parse_rulebook

    other = BASE.replace("rulebook: test", "rulebook: other").replace(
        "{id: bonus, kind: conduct, providers: [bank]", "{id: bonus, kind: conduct, "
        "providers: [court]")
    with pytest.raises(RulebookError, match="record type 'bonus': providers"):
        svc.programs.publish(parse_rulebook(other))


def test_provider_roles(svc):
    svc.providers.add("bank-1", "bank")  # idempotent
    with pytest.raises(LedgerError, match="already registered with role 'bank'"):
        svc.providers.add("bank-1", "court")


def test_records_are_never_updated_in_place(svc, tmp_path):
    svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,e,\n"
                                        "rev-1:v1,rev-1,alice,,void,2025-12-02,,e,bank-1:a1\n"))
    with svc.ledger.engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(schema.records)).scalar()
    assert n == 2  # the void is a new record; the voided one is still there


def test_backfilled_history_of_a_known_subject_counts_at_earlier_known_at(svc, tmp_path,
                                                                          clock):
    clock.set("2026-06-01T00:00:00Z")
    svc.records.ingest_file(write(tmp_path, "bank-1:b1,bank-1,alice,person,bonus,2026-05-01,,,\n"))
    header = HEADER.rstrip("\n") + ",recorded_at\n"
    svc.records.ingest_file(write(tmp_path, "bank-1:a1,bank-1,alice,,arrears,2026-01-10,,e,,"
                                            "2026-01-12\n",
                              "old.csv", header=header), backfill=True)
    at = parse_instant("2026-02-01")
    st = svc.standings.of("alice", at=at)
    assert st.applies and [c.record_id for c in st.contributions] == ["bank-1:a1"]
    from socialcredit.scoring.materialized import read_standing, score_all

    score_all(svc.ledger, None, at, at)  # the batch engine agrees
    row = read_standing(svc.ledger.engine, "test", "alice")
    assert row is not None and abs(row["score"] - st.score) < 1e-6


def test_a_type_dropped_by_a_future_version_stays_ingestible(svc, tmp_path, clock):
    from socialcredit.rulebook import parse_rulebook

    clock.set("2026-01-01T00:00:00Z")
    v2 = BASE.replace('version: "1"', 'version: "2"').replace(
        "  - {record: bonus, dimension: civic, points: 30}\n", "")
    svc.programs.publish(parse_rulebook(v2), effective=parse_instant("2026-07-01"))
    rep = svc.records.ingest_file(write(tmp_path, "bank-1:b1,bank-1,alice,person,bonus,2025-12-01,"
                                                  ",,\n"))
    assert rep.accepted == 1
    assert svc.standings.of("alice").contributions[0].record_id == "bank-1:b1"


def test_skip_invalid_backfill_rejects_only_the_future_row(svc, tmp_path):
    header = HEADER.rstrip("\n") + ",recorded_at\n"
    f = write(tmp_path, "bank-1:a1,bank-1,alice,person,arrears,2024-01-01,,e,,2024-01-03\n"
                        "bank-1:a2,bank-1,alice,,arrears,2024-01-01,,e,,2099-01-01\n",
              header=header)
    rep = svc.records.ingest_file(f, backfill=True, skip_invalid=True)
    assert (rep.accepted, rep.rejected) == (1, 1)
    assert "future" in (tmp_path / "r.rejected.csv").read_text()


def test_csv_with_a_byte_order_mark(svc, tmp_path):
    f = tmp_path / "bom.csv"
    f.write_bytes(b"\xef\xbb\xbf" + (HEADER + "bank-1:b1,bank-1,alice,person,bonus,2025-12-01,,,\n")
                  .encode())
    assert svc.records.ingest_file(f).accepted == 1


def test_per_unit_types_refuse_negative_values_unless_declared(svc, tmp_path):
    f = write(tmp_path, "bank-1:h1,bank-1,alice,person,hours,2025-12-01,-2000,,\n")
    with pytest.raises(IngestError, match="value: 'hours' is scored per unit and does not "
                                          "declare negative values allowed"):
        svc.records.ingest_file(f)


def test_init_finishes_a_ledger_whose_first_publication_failed(db_url, clock):
    from socialcredit.rulebook import parse_rulebook

    half = Service.create_empty(db_url, clock=clock)  # tables, log and key, but no program
    half.close()
    svc = Service.create(parse_rulebook(BASE), db_url, clock=clock,
                   catalogue=catalogue_for_tests())
    assert [pv.program for pv in svc.ledger.program_versions()] == ["test"]
    svc.close()


def test_bucketed_files_gather_rows_into_few_row_groups(tmp_path: Path) -> None:
    """Many small batches written across buckets make row groups of many rows each, not
    one per batch and bucket (readers pay every per-chunk step per row group)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from socialcredit.ledger.parquet import MIN_ROWS_PER_GROUP, write_bucketed

    schema = pa.schema([("subject", pa.string()), ("n", pa.int64())])
    batches = [pa.table({"subject": [f"s{i}-{j}" for j in range(500)],
                         "n": list(range(500))}, schema=schema) for i in range(40)]
    write_bucketed(tmp_path / "t", iter(batches), schema, 4)
    files = sorted((tmp_path / "t").rglob("*.parquet"))
    assert len(files) == 4
    rows = 0
    for f in files:
        md = pq.ParquetFile(f).metadata
        rows += md.num_rows
        assert md.num_rows < MIN_ROWS_PER_GROUP and md.num_row_groups == 1, (f, md)
    assert rows == 20_000
