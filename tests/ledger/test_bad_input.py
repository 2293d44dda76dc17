"""Hostile and careless input, the same on SQLite and PostgreSQL (issue 14, items 4, 6, 7
and 8): every bad row is a located error naming the file, the line and the field, never a
driver's traceback, and nothing of the file is stored."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.errors import IngestError, RulebookError
from socialcredit.rulebook import parse_rulebook
from socialcredit.rulebook.baseline import baseline_violations
from tests.helpers import BASE

PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
HEADER = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
GOOD = "bank-1:g1,bank-1,bob,person,bonus,2025-12-01,,,\n"

# (row, field, what the message says): each on line 3, after a good row
CSV_CORPUS = [
    ("bank-1:x1,bank-1,al\x00ice,person,bonus,2025-12-01,,,", "subject", "NUL"),
    ("bank-1:x1,bank-1,alice,person,bonus,2025-12-01,,e\x00v,", "evidence", "control"),
    ("bank-1:x1,bank-1,alice,person,bonus,2025-12-01,a\x00b,,", "value", "control"),
    ("bank-1:x\x001,bank-1,alice,person,bonus,2025-12-01,,,", "record_id", "NUL"),
    ("bank-1:x1,bank-1," + "s" * 401 + ",person,bonus,2025-12-01,,,", "subject",
     "401 characters long (at most 200)"),
    ("bank-1:" + "x" * 400 + ",bank-1,alice,person,bonus,2025-12-01,,,", "record_id",
     "characters long (at most 200)"),
    ("bank-1:x1,bank-1,alice,person,bonus,2025-12-01,,," + "r" * 300, "ref",
     "characters long"),
    ("bank-1:x1,bank-1,alice,person,bonus,2025-12-01,," + "e" * 5000 + ",", "evidence",
     "at most 4096"),
    ("bank-1:x1,bank-1,alice,person,bonus,9999-12-31T23:59:59.999999-23:59,,,",
     "occurred_at", "outside the supported range"),
    ("bank-1:x1,bank-1,alice,person,bonus,1812-06-01,,,", "occurred_at",
     "outside the supported range"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,1_000,,", "value", "needs a number"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,\u0661\u0662,,", "value",
     "needs a number"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,-1.7e308,,", "value",
     "outside the supported range of numbers"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,1e999,,", "value",
     "outside the supported range of numbers"),
    ("bank-1:x1,bank-1,alice,person,hours,2025-12-01,Infinity,,", "value", "needs a number"),
    ("court-1:b9,bank-1,alice,person,bonus,2025-12-01,,,", "record_id",
     "not in provider 'bank-1''s namespace"),
    ("b9,bank-1,alice,person,bonus,2025-12-01,,,", "record_id", "namespace"),
    ("bank-1:x1,bank-1,alice\u200b,person,bonus,2025-12-01,,,", "subject", "invisible"),
]


@pytest.fixture
def svc(make_ledger):  # type: ignore[no-untyped-def]
    return make_ledger(BASE, PROVIDERS)


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8")
    return p


@pytest.mark.parametrize(("row", "field", "message"), CSV_CORPUS,
                         ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(CSV_CORPUS)])
def test_bad_csv_rows_are_located_errors(svc: Any, tmp_path: Path, row: str, field: str,
                                         message: str) -> None:
    f = write(tmp_path, "r.csv", HEADER + GOOD + row + "\n")
    with pytest.raises(IngestError) as exc:
        svc.records.ingest_file(f)
    text = str(exc.value)
    assert f"{f}:3: {field}:" in text, text
    assert message in text, text
    assert svc.ledger.count_records() == 0 and svc.ledger.count_subjects() == 0


JSONL_CORPUS: list[tuple[str, str, str]] = [
    ('{"record_id": {"a": 1}, "provider": "bank-1", "subject": "al", "subject_kind": '
     '"person", "type": "bonus", "occurred_at": "2025-12-01"}', "record_id",
     "must be text, not an object"),
    ('{"record_id": "bank-1:x", "provider": "bank-1", "subject": true, "subject_kind": '
     '"person", "type": "bonus", "occurred_at": "2025-12-01"}', "subject",
     "must be text, not a boolean"),
    ('{"record_id": "bank-1:x", "provider": "bank-1", "subject": 12, "subject_kind": '
     '"person", "type": "bonus", "occurred_at": "2025-12-01"}', "subject",
     "must be text, not a number"),
    ('{"record_id": "bank-1:x", "provider": "bank-1", "subject": "al", "subject_kind": '
     '"person", "type": "hours", "occurred_at": "2025-12-01", "value": NaN}', "row",
     "not valid JSON"),
    ('{"record_id": "bank-1:x", "provider": "bank-1", "subject": "al", "subject_kind": '
     '"person", "type": "hours", "occurred_at": "2025-12-01", "value": -Infinity}', "row",
     "not valid JSON"),
    ('{"record_id": "bank-1:x", "provider": "bank-1", "subject": "al", "subject_kind": '
     '"person", "type": "hours", "occurred_at": "2025-12-01", "value": ' + "9" * 5000 + "}",
     "row", "not valid JSON"),
    ('{"record_id": "bank-1:x", "provider": "bank-1", "subject": "al", "subject_kind": '
     '"person", "type": "hours", "occurred_at": "2025-12-01", "value": 1e309}', "value",
     "outside the supported range"),
    ('{"record_id": "bank-1:x", "provider": "bank-1", "subject": "al", "subject_kind": '
     '"person", "type": "bonus", "occurred_at": 20251201}', "occurred_at",
     "not a number"),
    ('{"record_id": "bank-1:x", "provider": "bank-1", "subject": "al", "subject_kind": '
     '"person", "type": "hours", "occurred_at": "2025-12-01", "value": true}', "value",
     "not a boolean"),
]
GOOD_JSON = json.dumps({"record_id": "bank-1:g1", "provider": "bank-1", "subject": "bob",
                        "subject_kind": "person", "type": "bonus",
                        "occurred_at": "2025-12-01"})


@pytest.mark.parametrize(("line", "field", "message"), JSONL_CORPUS,
                         ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(JSONL_CORPUS)])
def test_bad_jsonl_lines_are_located_errors(svc: Any, tmp_path: Path, line: str, field: str,
                                            message: str) -> None:
    f = write(tmp_path, "r.jsonl", GOOD_JSON + "\n" + line + "\n")
    with pytest.raises(IngestError) as exc:
        svc.records.ingest_file(f)
    text = str(exc.value)
    assert f"{f}:2: {field}:" in text, text
    assert message in text, text
    assert svc.ledger.count_records() == 0


@pytest.mark.parametrize(("name", "data", "message"), [
    ("bad.csv", (HEADER + GOOD).encode() + b"bank-1:x1,bank-1,al\xffice,person,bonus,"
                                           b"2025-12-01,,,\n", "not UTF-8 text"),
    ("bad.jsonl", GOOD_JSON.encode() + b"\n{\"subject\": \"\xc3\"}\n", "not UTF-8 text"),
    ("long.csv", (HEADER + GOOD + "bank-1:x1,bank-1,alice,person,bonus,2025-12-01,,"
                  + "e" * 70_000 + ",\n").encode(), "longer than 65,536 bytes"),
    ("long.jsonl", (GOOD_JSON + "\n" + '{"evidence": "' + "e" * 50_000_000 + '"}\n').encode(),
     "longer than 65,536 bytes"),
    ("quoted.csv", (HEADER + GOOD + 'bank-1:x1,bank-1,alice,person,bonus,2025-12-01,,"'
                    + ("e" * 60_000 + "\n") * 3 + '",\n').encode(), "not valid CSV"),
])
def test_unreadable_files_name_the_line(svc: Any, tmp_path: Path, name: str, data: bytes,
                                        message: str) -> None:
    f = write(tmp_path, name, data)
    with pytest.raises(IngestError) as exc:
        svc.records.ingest_file(f)
    assert exc.value.code == "ingest.unreadable"
    assert re.match(rf"{re.escape(str(f))}:[2-5]: ", str(exc.value)), str(exc.value)
    assert message in str(exc.value), str(exc.value)
    assert exc.value.details and isinstance(exc.value.details[0]["line"], int)
    assert svc.ledger.count_records() == 0


def test_the_cli_reports_bad_input_without_a_traceback(svc: Any, tmp_path: Path,
                                                       db_url: str) -> None:
    f = write(tmp_path, "r.csv", HEADER + "".join(row + "\n" for row, _, _ in CSV_CORPUS))
    res = CliRunner().invoke(app, ["ingest", str(f), "--db", db_url])
    assert res.exit_code == 1
    assert res.output.startswith("error[ingest.rows_invalid]")
    assert "Traceback" not in res.output and "DataError" not in res.output


def test_a_provider_cannot_squat_another_providers_ids(svc: Any, tmp_path: Path) -> None:
    """Record ids are namespaced by their provider: a bank's `court-1:b9` is refused, and
    the court's own file with `court-1:b9` goes in whole."""
    bank = write(tmp_path, "bank.csv", HEADER + "court-1:b9,bank-1,zed,person,bonus,"
                                                "2025-12-01,,,\n")
    with pytest.raises(IngestError, match="namespace"):
        svc.records.ingest_file(bank)
    court = write(tmp_path, "court.csv", HEADER + "court-1:b9,court-1,zed,person,ruling,"
                                                  "2025-12-01,,urn:case:9,\n")
    assert svc.records.ingest_file(court).accepted == 1


def test_json_output_is_always_finite(svc: Any, tmp_path: Path, db_url: str) -> None:
    """Five records of 1.7e308 would sum to infinity: they are refused, and five of the
    largest value the ledger accepts stay a finite standing that prints as JSON (no NaN
    or Infinity anywhere)."""
    rows = "".join(f"bank-1:h{i},bank-1,hal,person,hours,2025-12-0{i + 1},1.7e308,,\n"
                   f"bank-1:k{i},bank-1,hal,person,hours,2025-12-0{i + 1},1e12,,\n"
                   for i in range(5))
    rep = svc.records.ingest_file(write(tmp_path, "r.csv", HEADER + rows), skip_invalid=True)
    assert (rep.accepted, rep.rejected) == (5, 5)
    res = CliRunner().invoke(app, ["standing", "hal", "--json", "--db", db_url])
    assert res.exit_code == 0, res.output
    assert "Infinity" not in res.output and "NaN" not in res.output
    st = json.loads(res.stdout)
    assert math.isfinite(st["score"]) and all(map(math.isfinite, st["dimensions"].values()))
    assert st["dimensions"]["civic"] == 2.5e12  # 5 × 1e12 × 0.5 points per unit


@pytest.mark.parametrize(("old", "new", "what"), [
    ("max_duration: 100d", "max_duration: 9000y", "longer than the longest supported"),
    ("max_duration: 100d", "max_duration: 5000y", "longer than the longest supported"),
    ("points: -10, half_life", "points: .inf, half_life", "finite"),
    ("points: -10, half_life", "points: -1e300, half_life", "greater than or equal"),
])
def test_rulebook_durations_and_numbers_are_bounded(old: str, new: str, what: str) -> None:
    assert old in BASE
    with pytest.raises(RulebookError, match=what):
        parse_rulebook(BASE.replace(old, new))


@pytest.mark.parametrize(("max_duration", "public", "refused"), [
    ("5y", "true", False), ("6y", "true", True), ("10y", "false", False),
    ("11y", "false", True)])
def test_the_baseline_bounds_every_listing(max_duration: str, public: str,
                                           refused: bool) -> None:
    text = BASE.replace("max_duration: 100d", f"max_duration: {max_duration}\n"
                                               f"    public: {public}")
    found = [v for v in baseline_violations(parse_rulebook(text)) if "max_duration" in v.path]
    assert bool(found) == refused
