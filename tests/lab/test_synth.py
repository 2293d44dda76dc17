"""Synthetic populations: deterministic, valid for ingest, and the columnar shortcut
(straight to the Parquet layout) stores what ingest would store."""

from __future__ import annotations

import filecmp
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from socialcredit.lab.synth import district_of, providers_for, synthesize_to_file
from socialcredit.lab.synth_parquet import rows_to_ledger
from socialcredit.rulebook.shipped import load_named
from socialcredit.service import Service


def test_same_seed_same_file_other_seed_other_file(tmp_path: Path) -> None:
    rb = load_named("rongcheng")
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    synthesize_to_file([rb], a, subjects=300, months=12, seed=5)
    synthesize_to_file([rb], b, subjects=300, months=12, seed=5)
    synthesize_to_file([rb], c, subjects=300, months=12, seed=6)
    assert filecmp.cmp(a, b, shallow=False)
    assert not filecmp.cmp(a, c, shallow=False)
    groups = (tmp_path / "a.groups.csv").read_text().splitlines()
    assert groups[0] == "subject,district"
    for line in groups[1:]:
        subject, district = line.split(",")
        assert district == district_of(subject, 5)


def test_a_synthetic_file_ingests_cleanly_and_matches_the_columnar_shortcut(
        tmp_path: Path) -> None:
    rbs = [load_named("rongcheng"), load_named("judgment-defaulters")]
    f = tmp_path / "pop.csv"
    stats = synthesize_to_file(rbs, f, subjects=400, months=24, seed=2, backfill_times=True)
    with Service.create(rbs[0], str(tmp_path / "l.db")) as svc:
        svc.programs.publish(rbs[1])
        for p, role in providers_for(rbs):
            svc.providers.add(p, role)
        rep = svc.records.ingest_file(f, backfill=True)
        assert rep.rejected == 0 and rep.accepted == stats.records
        stored = {r.record_id: r for s, _ in svc.ledger.all_subjects()
                  for r in svc.ledger.records_of(s)}
    raw = pacsv.read_csv(f, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in ("value", "evidence", "ref", "record_id",
                                                "subject", "subject_kind")},
        strings_can_be_null=True))
    records, subjects = rows_to_ledger(rbs, raw)
    assert records.num_rows == len(stored)
    for row in records.to_pylist():
        r = stored[row["record_id"]]
        assert (r.subject, r.type, r.kind, r.occurred_at, r.recorded_at, r.value_num,
                r.value_text, r.evidence, r.ref) == (
            row["subject"], row["type"], row["kind"], row["occurred_at"], row["recorded_at"],
            row["value_num"], row["value_text"], row["evidence"], row["ref"])
    assert subjects.num_rows == stats.subjects
