"""A batch submitted over HTTP takes the columnar path (ledger/columnar.py); the row path
is its reference.

For random batches — plausible records and records wrong in every field, with every
JSON type where text belongs, fields null or absent, unknown keys, lone surrogates,
duplicates, resolutions and voids — posting the batch to `POST /api/v1/records` (a JSON
array or NDJSON) must leave exactly the ledger that the row validator leaves for the same
numbered rows: the same answer (report, or problem with the same message and the same
errors located by row and field), the same records, subjects, log leaves (commitments
compared by which subject they stand for), notices, submissions and materialized
standings. Row by row, without storing, the columns' rows equal the row validator's.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from socialcredit.api import create_app
from socialcredit.errors import IngestError
from socialcredit.ledger.columnar import RowColumns, columns_of_rows, fill_raw, validate_columns
from socialcredit.ledger.validate import Validator
from socialcredit.service import Service
from socialcredit.service.ingest import Located
from socialcredit.service.submissions import COLUMNS_FROM, as_columns
from socialcredit.timeutil import format_instant
from tests.conftest import Clock
from tests.helpers import day
from tests.service.test_columnar_ingest import (
    EVIDENCE,
    HEADER,
    INSTANTS,
    KINDS,
    PROVIDER_VALUES,
    SUBJECTS,
    TYPES,
    VALUES,
    _fields,
    fresh,
    ledger_state,
    with_ledger,
)

#: What JSON can put where text belongs, and text JSON can carry but CSV cannot.
JSON_VALUES: list[Any] = [None, None, 3, -2.5, 0, True, False, [], ["a"], {}, {"a": 1},
                          1e308, "", "two\nlines", "nul\x00", "cr\r", "\ud800", " ", "\t"]
#: Dates alone (00:00 UTC): leap days, the ends of the supported range, the future.
DATES = ["2024-02-29", "2023-02-29", "1899-12-31", "1900-01-01", "2199-12-31", "2200-01-01",
         "2025-13-01", "2025-04-31", "2025-00-10", "2027-01-01", "1970-01-01", "2026-01-01",
         "2025-6-01", "2025-06-01 "]


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A batch: plausible records; in two batches of three, about half of them wrong in
    a field or two (a batch is stored only if every record is good)."""
    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    faulty = draw(st.integers(0, 2)) > 0
    for i in range(draw(st.integers(0, 25))):
        # a good batch: the bank's own types (any principal may submit them)
        typ = draw(st.sampled_from(TYPES[:7] if faulty else
                                   ["arrears", "bonus", "hours", "history"]))
        prov = {"ruling": "court-1", "void": "rev-1"}.get(typ, "bank-1")
        refs = [r for r in ids if r] or ["nope:x"]
        at = format_instant(day(-draw(st.integers(0, 500)))
                            + draw(st.integers(0, 86399)) * 1_000_000)
        assert at is not None
        values: list[Any] = [
            f"{prov}:r{i}", prov, draw(st.sampled_from(SUBJECTS[:4])),
            draw(st.sampled_from(KINDS[:5] if faulty else ["person"])), typ,
            at[:10] if draw(st.booleans()) else at,  # a date alone, or a full instant
            str(draw(st.integers(0, 9))) if typ in ("hours", "history") else "",
            draw(st.sampled_from(EVIDENCE[:3] if faulty else EVIDENCE[2:3])),
            draw(st.sampled_from(refs)) if typ in ("paid", "void") else ""]
        hostile = {0: [f"bank-1:r{i}", f"{prov}:", f"{prov}:r{i}é", "", *ids[-3:],
                       # 200 characters, the most an identifier has, and 201
                       f"{prov}:{i:x<{199 - len(prov)}}", f"{prov}:{i:x<{200 - len(prov)}}"],
                   1: PROVIDER_VALUES, 2: SUBJECTS, 3: KINDS, 4: TYPES, 5: INSTANTS + DATES,
                   6: [*VALUES, 3, -2.5, 1e308, 0], 7: EVIDENCE,
                   8: ["", "nope:x", "é", *ids[-3:]]}
        for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2])) if faulty else 0):
            field = draw(st.integers(0, 8))
            values[field] = draw(st.sampled_from(
                hostile[field] if draw(st.integers(0, 2)) else JSON_VALUES))
            if field == 1 and isinstance(values[1], str) and draw(st.booleans()):
                values[0] = f"{values[1]}:r{i}"
        row: dict[str, Any] = {}
        for name, value in zip(HEADER, values, strict=True):
            shape = draw(st.integers(0, 9))
            if shape == 0 and value == "":
                continue  # absent
            row[name] = None if shape == 1 and value == "" else value
        extra = draw(st.integers(0, 14)) if faulty else 3
        if extra == 0:
            row["recorded_at"] = draw(st.sampled_from(["", None, "2025-01-01T00:00:00Z"]))
        elif extra == 1:
            row["note"] = "an unknown key"
        elif extra == 2:
            row["__error__"] = "a reader's own complaint"
        rows.append(row)
        if draw(st.integers(0, 5)) == 0:  # a duplicate, the same or with other content
            twin = dict(row)
            if faulty and draw(st.booleans()):
                twin["value"] = "7"
            rows.append(twin)
        ids.append(values[0] if isinstance(values[0], str) else "")
    return rows


def _state(svc: Service, db: Path) -> dict[str, Any]:
    """The ledger (records, subjects, leaves, notices), its submissions and standings."""
    state = ledger_state(db)
    con = sqlite3.connect(db)
    try:
        state["submissions"] = con.execute(
            "SELECT principal_id, provider, idempotency_key, source, batch, rows, accepted, "
            "duplicates, submitted_at, report FROM sc_submissions ORDER BY seq").fetchall()
        state["standings"] = con.execute(
            "SELECT * FROM sc_standings ORDER BY program, subject").fetchall()
    finally:
        con.close()
    return state


def _ledger(d: Path, name: str, clock: Clock) -> tuple[Service, dict[str, str]]:
    svc = fresh(d, name, clock)
    svc.population.score_all()  # standings materialized: ingest keeps them current
    tokens = {"op": svc.principals.add("op", "operator")["token"],
              "bank": svc.principals.add("bank", "provider", provider="bank-1")["token"]}
    return svc, tokens


def filled(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch followed by good records enough for the columns to take it (a smaller
    batch is checked row by row): the drawn rows keep their positions."""
    return rows + [{"record_id": f"bank-1:fill{i}", "provider": "bank-1",
                    "subject": f"fill{i}", "subject_kind": "person", "type": "bonus",
                    "occurred_at": "2025-06-01", "evidence": "urn:ev:fill"}
                   for i in range(COLUMNS_FROM)]


def both_paths(rows: list[dict[str, Any]], who: str, ndjson: bool) -> None:
    rows = filled(rows)
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        # the reference: the row validator, as every submission was validated before
        ref, _ = _ledger(d, "rows", clock)
        try:
            try:
                rep = ref.acting_as(who).records.ingest_numbered(
                    list(enumerate(rows, 1)), Located("request", "row"))
            except IngestError as exc:
                expected: Any = (422, {"detail": str(exc), "code": exc.code,
                                       "errors": json.loads(json.dumps(exc.details))})
            else:
                expected = (200, json.loads(json.dumps(
                    {**rep.as_dict(), "batch": rep.batch, "submission": rep.submission,
                     "provider": rep.provider, "replayed": False})))
            want = _state(ref, d / "rows.db")
        finally:
            ref.close()
        # over HTTP: the columnar path
        svc, tokens = _ledger(d, "http", clock)
        try:
            if ndjson:
                body, ctype = "\n".join(json.dumps(r) for r in rows), "application/x-ndjson"
            else:
                body, ctype = json.dumps(rows), "application/json"
            with TestClient(create_app(service=svc)) as client:
                r = client.post("/api/v1/records", content=body.encode(), headers={
                    "Authorization": f"Bearer {tokens[who]}", "content-type": ctype})
            if r.status_code == 422:
                p = r.json()
                got: Any = (422, {"detail": p["detail"], "code": p["code"],
                                  "errors": p.get("errors", [])})
            else:
                got = (r.status_code, r.json())
            have = _state(svc, d / "http.db")
        finally:
            svc.close()
        event(f"answered {got[0]}")
        assert got == expected
        assert have == want


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(batches(), st.sampled_from(["op", "bank"]), st.booleans())
def test_a_batch_over_http_leaves_the_ledger_the_row_path_leaves(
        rows: list[dict[str, Any]], who: str, ndjson: bool) -> None:
    both_paths(rows, who, ndjson)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(batches())
def test_the_columns_rows_are_the_row_validators_rows(tmp_path: Path,
                                                      rows: list[dict[str, Any]]) -> None:
    """Row by row, without storing: every field and every error of every row."""
    cols = columns_of_rows(rows)
    if cols is None:
        return

    def compare(v: Validator) -> None:
        fast = validate_columns(v, cols)
        fill_raw(cols, fast)
        slow = [v.row(n, raw) for n, raw in enumerate(rows, 1)]
        assert [_fields(r) for r in fast] == [_fields(r) for r in slow]
        for r in fast:
            assert r.raw is rows[r.line - 1]  # the row as sent, for messages and reports

    with_ledger(tmp_path, compare)


def test_plain_rows_take_the_columns_and_the_rest_the_row_validator(tmp_path: Path) -> None:
    plain = {"record_id": "bank-1:a", "provider": "bank-1", "subject": "s1",
             "subject_kind": "person", "type": "bonus", "occurred_at": "2025-01-01",
             "evidence": "ev", "value": None}
    cols = columns_of_rows([plain, {**plain, "value": 3}, {**plain, "__error__": "x"}])
    assert isinstance(cols, RowColumns) and cols.forced is not None
    assert cols.forced.tolist() == [False, True, True]
    assert columns_of_rows([{**plain, "value": 3}]) is None  # nothing to gain
    assert columns_of_rows([{**plain, "evidence": "\ud800"}]) is None  # not UTF-8
    # numbered otherwise than 1, 2, 3, …, or too few to be worth it: the row path
    numbered = [(i, plain) for i in range(COLUMNS_FROM)]
    assert as_columns(numbered) is numbered
    few = [(i, plain) for i in range(1, COLUMNS_FROM)]
    assert as_columns(few) is few
    assert isinstance(as_columns([(i, plain) for i in range(1, COLUMNS_FROM + 1)]),
                      RowColumns)


def test_the_batch_digest_is_the_canonical_json_of_its_rows() -> None:
    """A retry is recognised by this digest, stored with every keyed submission: its
    spelling — each row's canonical JSON and a line feed — must not change."""
    import hashlib

    from socialcredit.service.submissions import digest

    rows = [{"b": 1, "a": "é", "c": None}, {"x": [1.5, True], "y": {"z": "\u674e"}}]
    spelled = b"".join(json.dumps(r, sort_keys=True, separators=(",", ":"), default=str,
                                  ensure_ascii=False).encode() + b"\n" for r in rows)
    assert digest(list(enumerate(rows, 1))) == hashlib.sha256(spelled).hexdigest()
    # a lone surrogate (JSON can carry one) has a digest too: the row is then refused
    # by validation, not by the digest
    assert len(digest([(1, {"subject": "\ud800"})])) == 64


def test_a_keyed_batch_with_a_lone_surrogate_is_refused_with_its_errors(
        tmp_path: Path) -> None:
    clock = Clock()
    svc, tokens = _ledger(tmp_path, "keyed", clock)
    try:
        with TestClient(create_app(service=svc)) as client:
            r = client.post("/api/v1/records", content=json.dumps(
                [{"record_id": "bank-1:a", "provider": "bank-1", "subject": "\ud800",
                  "subject_kind": "person", "type": "bonus", "occurred_at": "2025-06-01"}]
            ).encode(), headers={"Authorization": f"Bearer {tokens['bank']}",
                                 "content-type": "application/json",
                                 "Idempotency-Key": "k1"})
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["subject"]
    finally:
        svc.close()
