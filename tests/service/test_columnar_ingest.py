"""The columnar ingest path (ledger/columnar.py) against the row path, its reference.

For random CSV feeds — valid rows and rows wrong in every field, Unicode and look-alike
identifiers, duplicates, resolutions and voids, quoting the two CSV readers could read
differently — both paths must leave identical ledgers: the same records with the same
hashes and batches, the same log leaves, subjects and notices, the same report, and the
same errors with the same lines and messages. Commitments in leaves are compared by
which subject they stand for (each ledger draws its own random salts).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialcredit.errors import IngestError
from socialcredit.ledger.columnar import read_csv_columns, validate_columns
from socialcredit.ledger.validate import Validator
from socialcredit.rulebook import parse_rulebook
from socialcredit.service import Service
from socialcredit.timeutil import format_instant
from tests.conftest import Clock
from tests.helpers import BASE, catalogue_for_tests, day

PROVIDERS = {"bank-1": "bank", "court-1": "court", "rev-1": "reviewer"}
CORPUS = Path(__file__).resolve().parent.parent / "fuzz" / "corpus" / "records"
HEADER = ["record_id", "provider", "subject", "subject_kind", "type", "occurred_at", "value",
          "evidence", "ref"]

PROVIDER_VALUES = ["bank-1", "bank-1", "bank-1", "court-1", "court-1", "rev-1", "zzz-9", "",
                   "bank-1 ", "ｂank-1", "bank\u200b-1"]
SUBJECTS = ["s0", "s1", "s2", "s1", "S1", " s1", "ｓ1", "s\u200b1", "\u0455\u0456", "e\u0301",
            "\u00e9", "91350100M000100Y43", "91350100m000100y43", "911000001234567890", "",
            "x" * 300, "李四"]
KINDS = ["person", "person", "", "", "organization", "robot", " person", "Person"]
TYPES = ["arrears", "bonus", "hours", "history", "ruling", "paid", "void", "nope", "",
         "hours ", "ａrrears"]
INSTANTS = ["2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "2026-01-01", "2026-01-01T00:00:00",
            "2026-01-01T00:00:00+08:00", "2025-01-01T24:00:00Z", "2025-06-01T23:60:00Z",
            "2300-01-01T00:00:00Z", "1899-12-31T23:59:59Z",
            "1900-01-01T00:00:00Z", "2026-01-01T24:00:00Z", " 2025-01-01T00:00:00Z", "x",
            "2025-13-01T00:00:00Z", "2025-12-31T23:59:60Z", "2025-04-31T00:00:00Z",
            "2027-01-01T00:00:00Z", "2026-01-01T00:04:59Z", "2026-01-01T00:05:01Z",
            "1970-01-01T00:00:00Z", "2025-06-01T10:20:30.5Z", "２０２５-01-01T00:00:00Z", ""]
VALUES = ["", "", "3", "-2", "1e3", "1e999", "abc", " 5", "5 ", "1_000", "\u0663", "nan",
          "99", "x y", "1.", ".5", "+4", "1e13", "-0", "0.1", "inf", "12", "a\u00e9"]
EVIDENCE = ["ev", "ev", "urn:ev:1", "", " ev", "\u00e9v", "e\x01v", "x" * 5000, "a,b", 'q"q',
            "two\nlines"]


@st.composite
def feeds(draw: st.DrawFn) -> str:
    """A CSV feed: plausible rows, about half of them wrong in one or two fields (a row
    wrong everywhere would only ever test the first check)."""
    rows: list[list[str]] = []
    ids: list[str] = []
    with_recorded = draw(st.integers(0, 9)) == 0
    for i in range(draw(st.integers(0, 30))):
        typ = draw(st.sampled_from(TYPES[:7]))
        prov = {"ruling": "court-1", "void": "rev-1"}.get(typ, "bank-1")
        refs = [r for r in ids if r] or ["nope:x"]
        row = [f"{prov}:r{i}", prov, draw(st.sampled_from(SUBJECTS[:4])),
               draw(st.sampled_from(KINDS[:5])), typ,
               format_instant(day(-draw(st.integers(0, 500)))
                              + draw(st.integers(0, 86399)) * 1_000_000),
               str(draw(st.integers(0, 9))) if typ in ("hours", "history") else "",
               draw(st.sampled_from(EVIDENCE[:3])),
               draw(st.sampled_from(refs)) if typ in ("paid", "void") else ""]
        hostile = {0: [f"bank-1:r{i}", f"{prov}:", f"{prov}:r{i}é", "", *ids[-3:]],
                   1: PROVIDER_VALUES, 2: SUBJECTS, 3: KINDS, 4: TYPES, 5: INSTANTS,
                   6: VALUES, 7: EVIDENCE, 8: ["", "nope:x", "é", *ids[-3:]]}
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
            field = draw(st.integers(0, 8))
            row[field] = draw(st.sampled_from(hostile[field]))
            if field == 1 and draw(st.booleans()):  # another provider's record, in its name
                row[0] = f"{row[1]}:r{i}"
        if with_recorded:
            row.append(draw(st.sampled_from(["", "", "2025-01-01T00:00:00Z"])))
        rows.append(row)
        if draw(st.integers(0, 5)) == 0:  # a duplicate, the same or with other content
            twin = list(row)
            if draw(st.booleans()):
                twin[6] = "7"
            rows.append(twin)
        ids.append(row[0])
    out = io.StringIO()
    w = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\n", "\n", "\r\n"])),
                   quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))
    w.writerow(HEADER + (["recorded_at"] if with_recorded else []))
    w.writerows(rows)
    text = out.getvalue()
    damage = draw(st.integers(0, 12))
    if damage == 0:
        text = text.replace("bank-1,", 'bank"-1,', 1)  # a quote inside a field
    elif damage == 1:
        text += "\n"  # a blank line
    elif damage == 2 and rows:
        text = text.rstrip("\n") + ",extra\n"  # a row of the wrong width
    return text


def fresh(d: Path, name: str, clock: Clock) -> Service:
    clock.set("2025-01-01T00:00:00Z")
    svc = Service.create(parse_rulebook(BASE), str(d / f"{name}.db"), clock=clock,
                         catalogue=catalogue_for_tests())
    for p, role in PROVIDERS.items():
        svc.providers.add(p, role)
    clock.set("2026-01-01T00:00:00Z")
    return svc


def _relabel(value: Any, labels: dict[str, str]) -> Any:
    """Leaves with each commitment named by its order of first appearance."""
    if isinstance(value, dict):
        return {k: (labels.setdefault(v, f"c{len(labels)}") if k == "commitment"
                    and isinstance(v, str) else _relabel(v, labels)) for k, v in value.items()}
    if isinstance(value, list):
        return [_relabel(v, labels) for v in value]
    return value


def ledger_state(db: Path) -> dict[str, Any]:
    con = sqlite3.connect(db)
    try:
        labels: dict[str, str] = {}
        leaves = [_relabel(json.loads(bytes(d)), labels)
                  for (d,) in con.execute("SELECT data FROM tlog_leaves ORDER BY idx")]
        return {
            "records": con.execute("SELECT * FROM sc_records ORDER BY seq").fetchall(),
            "subjects": con.execute("SELECT * FROM sc_subjects ORDER BY subject").fetchall(),
            "leaves": leaves,
            "notices": con.execute(
                "SELECT audience, subject, kind, created_at, program, record_id, case_id, "
                "decision_id, leaf_index, detail FROM sc_notices ORDER BY seq").fetchall(),
        }
    finally:
        con.close()


def outcome(svc: Service, db: Path, path: Path, columnar: bool, skip: bool) -> Any:
    rejected = path.with_name(path.stem + ".rejected.csv")
    rejected.unlink(missing_ok=True)
    try:
        rep = svc.records.ingest_file(path, columnar=columnar, skip_invalid=skip)
    except IngestError as exc:
        result: Any = ("refused", str(exc), exc.problems, exc.code, exc.details)
    else:
        result = ("stored", rep.as_dict(), rep.rejected_rows, rep.new_subjects, rep.provider,
                  rejected.read_text() if rejected.exists() else None)
    return result, ledger_state(db)


def both_paths(text: str, skip: bool) -> None:
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        path = d / "feed.csv"
        path.write_bytes(text.encode("utf-8"))
        results = []
        for columnar in (False, True):
            svc = fresh(d, f"ledger-{columnar}", clock)
            try:
                results.append(outcome(svc, d / f"ledger-{columnar}.db", path, columnar, skip))
            finally:
                svc.close()
        assert results[1] == results[0]


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(feeds(), st.booleans())
def test_the_columnar_path_leaves_the_ledger_the_row_path_leaves(text: str, skip: bool) -> None:
    both_paths(text, skip)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(feeds())
def test_columnar_rows_are_the_row_validators_rows(tmp_path: Path, text: str) -> None:
    """Row by row, without storing: every field and every error of every row."""
    path = tmp_path / "feed.csv"
    path.write_bytes(text.encode("utf-8"))
    cols = read_csv_columns(path)
    if cols is None:
        return
    with_ledger(tmp_path, lambda v: compare_rows(v, cols))


_SVC: dict[str, Service] = {}


def with_ledger(tmp: Path, fn: Callable[[Validator], None]) -> None:
    """One ledger for every example (validation does not write)."""
    svc = _SVC.get("svc")
    if svc is None:
        d = Path(tempfile.mkdtemp())
        svc = _SVC["svc"] = fresh(d, "rows", Clock())
    ledger = svc.ledger
    with ledger.engine.connect() as conn:
        fn(Validator(ledger, conn, False, day(0)))


def compare_rows(v: Validator, cols: Any) -> None:
    from socialcredit.ledger.columnar import fill_raw

    fast = validate_columns(v, cols)
    fill_raw(cols, fast)
    slow = [v.row(n, cols.raw(n)) for n in range(2, len(cols) + 2)]
    assert [_fields(r) for r in fast] == [_fields(r) for r in slow]


def _fields(r: Any) -> tuple[Any, ...]:
    return tuple((name, getattr(r, name), type(getattr(r, name)))
                 for name in type(r).__slots__)


def test_the_fast_path_takes_plain_files_and_leaves_the_rest_to_the_row_reader(
        tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text(",".join(HEADER) + "\nbank-1:a,bank-1,s1,person,bonus,"
                     "2025-01-01T00:00:00Z,,\"ev, with comma\",\n")
    cols = read_csv_columns(plain)
    assert cols is not None and len(cols) == 1
    for name, text in [("quote", 'bank-1:a,bank-1,s"1,person,bonus,2025-01-01T00:00:00Z,,ev,'),
                       ("crlf", "bank-1:a,bank-1,s1,person,bonus,2025-01-01T00:00:00Z,,ev,\r"),
                       ("newline", 'bank-1:a,bank-1,s1,person,bonus,2025-01-01T00:00:00Z,,"e\nv",'),
                       ("width", "bank-1:a,bank-1,s1,person,bonus")]:
        f = tmp_path / f"{name}.csv"
        f.write_text(",".join(HEADER) + "\n" + text + "\n")
        assert read_csv_columns(f) is None, name


def test_the_shipped_feeds_and_the_fuzz_corpus_ingest_alike_on_both_paths() -> None:
    files = sorted(CORPUS.glob("*.csv"))
    assert files
    for f in files:
        for skip in (False, True):
            both_paths(f.read_text(encoding="utf-8", errors="replace"), skip)


def every_single_fault() -> str:
    """Rows of every type, each wrong in one field, in every way the lists know."""
    rows: list[list[str]] = []
    for t, typ in enumerate(TYPES[:7]):
        prov = {"ruling": "court-1", "void": "rev-1"}.get(typ, "bank-1")
        base = [f"{prov}:b{t}", prov, "s1", "person", typ, "2025-06-01T10:20:30Z",
                "3" if typ in ("hours", "history") else "", "ev",
                "bank-1:b0" if typ in ("paid", "void") else ""]
        rows.append(base)
        faults = {0: [f"bank-1:x{t}", f"{prov}:", f"{prov}:xé"], 1: PROVIDER_VALUES,
                  2: SUBJECTS, 3: KINDS, 4: TYPES, 5: INSTANTS, 6: VALUES, 7: EVIDENCE,
                  8: ["", "nope:x", "é", "bank-1:b0", "court-1:b4"]}
        for field, values in faults.items():
            for k, value in enumerate(values):
                row = list(base)
                row[0] = f"{prov}:f{t}-{field}-{k}"
                row[field] = value
                if field == 1:
                    row[0] = f"{value}:f{t}-{field}-{k}"
                rows.append(row)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(r for r in rows if "\n" not in "".join(r) and '"' not in "".join(r))
    return out.getvalue()


def test_every_single_fault_is_judged_alike(tmp_path: Path) -> None:
    path = tmp_path / "faults.csv"
    path.write_text(every_single_fault(), encoding="utf-8")
    cols = read_csv_columns(path)
    assert cols is not None and len(cols) > 500
    with_ledger(tmp_path, lambda v: compare_rows(v, cols))
    both_paths(path.read_text(encoding="utf-8"), skip=True)


def test_a_file_of_thousands_of_unknown_providers_and_types_is_judged_alike(
        tmp_path: Path) -> None:
    """Distinct spellings are counted once each, not pairwise (a hostile file must not
    make the column checks quadratic), and every row falls back with its own message."""
    path = tmp_path / "hostile.csv"
    lines = [f"p{i}:r,p{i},s1,person,t{i},2025-06-01T10:20:30Z,,ev," for i in range(5000)]
    path.write_text(",".join(HEADER) + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    cols = read_csv_columns(path)
    assert cols is not None
    with_ledger(tmp_path, lambda v: compare_rows(v, cols))
