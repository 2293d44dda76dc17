"""The batch engine agrees with the reference engine (the oracle) on every subject.

Property tests draw random rulebooks (decay, expiry, max_count, resolved points, per
unit points, attributes with every kind of bin, clamps, tiers, record and score lists)
and random ledgers whose times sit on a coarse grid, so ties on occurred_at, records
exactly at the expiry boundary, voids recorded after k and resolutions after t are
common rather than rare. A few tests go through a real ledger on both backends.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from socialcredit.ledger import Record
from socialcredit.ledger.model import ProgramVersion
from socialcredit.ledger.versions import version_at
from socialcredit.rulebook import Rulebook
from socialcredit.scoring import reference
from socialcredit.scoring.batch import (
    dimension_column,
    records_to_table,
    score_batches,
    score_partition,
    score_records,
    subjects_to_table,
)
from socialcredit.scoring.partitions import parquet_partitions
from socialcredit.scoring.standing import Standing
from socialcredit.service import Service
from socialcredit.timeutil import BEGINNING_OF_TIME, US_PER_DAY, parse_instant

T0 = parse_instant("2026-01-01T00:00:00Z")
CONDUCT = ["c0", "c1", "c2", "c3"]
FACTS = ["f0", "f1"]
TOL = 1e-6

# -- strategies ----------------------------------------------------------------------------


@st.composite
def rulebooks(draw: st.DrawFn) -> Rulebook:
    dims = [f"d{i}" for i in range(draw(st.integers(1, 3)))]

    def bound() -> float | None:
        return draw(st.one_of(st.none(), st.sampled_from([-50.0, -20.0, 0.0, 10.0, 30.0])))

    dimensions = []
    for d in dims:
        lo, hi = bound(), bound()
        if lo is not None and hi is not None and lo > hi:
            lo, hi = hi, lo
        dimensions.append({"id": d, "min": lo, "max": hi})
    rules = []
    for _ in range(draw(st.integers(1, 6))):
        rule: dict[str, Any] = {"record": draw(st.sampled_from(CONDUCT + FACTS)),
                                "dimension": draw(st.sampled_from(dims))}
        if draw(st.booleans()):
            rule["points"] = draw(st.sampled_from([-10.0, -3.5, 2.0, 7.0]))
        else:
            rule["points_per_unit"] = draw(st.sampled_from([-1.5, 0.5, 2.0]))
        rule["half_life"] = draw(st.one_of(st.none(), st.sampled_from([1, 3, 10])))
        rule["expires"] = draw(st.one_of(st.none(), st.sampled_from([1, 2, 5, 8])))
        rule["max_count"] = draw(st.one_of(st.none(), st.integers(1, 3)))
        rule["resolved_points"] = draw(st.one_of(st.none(), st.sampled_from([-1.0, 0.0])))
        rules.append(rule)
    attributes = []
    for f in draw(st.lists(st.sampled_from([*FACTS, "c3"]), max_size=2)):
        bins: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(0, 3))):
            which = draw(st.sampled_from(["below", "values", "any"]))
            b: dict[str, Any] = {"points": draw(st.sampled_from([-5.0, 1.0, 4.0]))}
            if which == "below":
                b["below"] = draw(st.sampled_from([0.0, 2.0, 5.0]))
            elif which == "values":
                b["values"] = draw(st.lists(st.sampled_from(["a", "b", "3", 1.0, 2.0]),
                                            min_size=1, max_size=3))
            bins.append(b)
        attributes.append({"record": f, "dimension": draw(st.sampled_from(dims)),
                           "bins": bins, "missing": draw(st.sampled_from([0.0, -2.0, 3.0])),
                           "expires": draw(st.one_of(st.none(), st.sampled_from([2, 6])))})
    mins = sorted(draw(st.lists(st.sampled_from([-20.0, 0.0, 80.0, 100.0, 105.0, 120.0]),
                                min_size=0, max_size=4, unique=True)), reverse=True)
    lists = []
    for i in range(draw(st.integers(0, 3))):
        x: dict[str, Any] = {"id": f"l{i}", "kind": draw(st.sampled_from(["black", "red"])),
                             "notice": draw(st.sampled_from([0, 1, 2])),
                             "max_duration": draw(st.one_of(st.none(),
                                                            st.sampled_from([1, 3])))}
        if draw(st.booleans()):
            x["enter_when"] = {"record": draw(st.sampled_from(CONDUCT))}
        else:
            x["enter_when"] = {"score_below": draw(st.sampled_from([90.0, 100.0, 110.0]))}
        lists.append(x)
    scale: dict[str, Any] = {"base": 100.0}
    if draw(st.booleans()):
        scale.update({"min": 60.0, "max": 130.0})
    return Rulebook.model_validate({
        "rulebook": "prop", "version": "1",
        "subjects": draw(st.sampled_from([["person"], ["organization"],
                                          ["person", "organization"]])),
        "scale": scale, "dimensions": dimensions,
        "record_types": [{"id": c, "kind": "conduct"} for c in CONDUCT]
        + [{"id": f, "kind": "fact"} for f in FACTS]
        + [{"id": "res", "kind": "resolution"}, {"id": "void", "kind": "void",
                                                "providers": ["reviewer"]},
           {"id": "other", "kind": "conduct"}],
        "rules": rules, "attributes": attributes,
        "tiers": [{"id": f"T{i}", "min": m} for i, m in enumerate(mins)],
        "lists": lists})


SUBJECTS: list[tuple[str, str | None]] = [("s1", "person"), ("s2", "organization"),
                                          ("s3", "person"), ("s4", None)]


@st.composite
def ledgers(draw: st.DrawFn) -> list[Record]:
    """Records on a half-day grid over ten days, so ties and boundaries are common."""
    out: list[Record] = []
    n = draw(st.integers(0, 40))
    for i in range(n):
        subject = draw(st.sampled_from([s for s, _ in SUBJECTS]))
        mine = [r for r in out if r.subject == subject]
        kind = draw(st.sampled_from(["conduct", "conduct", "conduct", "fact", "resolution",
                                     "void"]))
        if kind in ("resolution", "void") and not mine:
            kind = "conduct"
        occ = T0 + draw(st.integers(0, 12)) * US_PER_DAY // 2
        rec = occ + draw(st.sampled_from([0, 0, 0, 1, US_PER_DAY // 2, 3 * US_PER_DAY]))
        ref = None
        if kind == "conduct":
            typ = draw(st.sampled_from([*CONDUCT[:2], *CONDUCT, "other"]))
        elif kind == "fact":
            typ = draw(st.sampled_from([FACTS[0], *FACTS]))
        else:
            typ = "res" if kind == "resolution" else "void"
            ref = draw(st.sampled_from(mine)).record_id
        value = draw(st.one_of(st.none(), st.sampled_from([0.0, 1.0, 2.0, 3.0, 4.5, 7.0]),
                               st.sampled_from(["a", "b", "3", "x", "2.0"])))
        num = value if isinstance(value, float) else None
        text = value if isinstance(value, str) else None
        # record ids in code-point order that differs from insertion and length order
        rid = draw(st.sampled_from(["r", "R", "é", "r_"])) + str(i)
        # some records were backfilled: this ledger learned of them later (notice runs
        # from then)
        ing = draw(st.one_of(st.none(), st.none(), st.sampled_from(
            [rec + US_PER_DAY // 2, rec + 2 * US_PER_DAY])))
        out.append(Record(rid, "p", subject, typ, kind, occ, rec, num, text, None, ref, ing))
    return out


@st.composite
def histories(draw: st.DrawFn) -> list[ProgramVersion]:
    """Two versions of one program: the second effective and published at drawn times, so
    records occur before and after it and standings are asked before and after it is
    known."""
    first, second = draw(rulebooks()), draw(rulebooks())
    second = Rulebook.model_validate({**second.model_dump(exclude_none=True), "version": "2"})
    eff = T0 + draw(st.integers(0, 12)) * US_PER_DAY // 2
    pub = eff + draw(st.sampled_from([-US_PER_DAY, 0, US_PER_DAY // 2, 2 * US_PER_DAY]))
    return [ProgramVersion("prop", "1", BEGINNING_OF_TIME, T0 - US_PER_DAY, first.sha256,
                           first, 1),
            ProgramVersion("prop", "2", eff, pub, second.sha256, second, 2)]


times = st.integers(-2, 26).map(lambda h: T0 + h * US_PER_DAY // 2)

# -- comparison -----------------------------------------------------------------------------


def near_boundary(score: float, rb: Rulebook) -> bool:
    """Float sums in another order may fall on the other side of an exact boundary."""
    edges = [t.min for t in rb.tiers] + [x.enter_when.score_below for x in rb.lists
                                         if x.enter_when.score_below is not None]
    return any(abs(score - e) < TOL for e in edges)


def assert_agrees(rb: Rulebook, table: pa.Table, expected: dict[str, Standing]) -> None:
    rows = {r["subject"]: r for r in table.to_pylist()}
    assert set(rows) == set(expected)
    for subject, ref in expected.items():
        row = rows[subject]
        assert math.isclose(row["score"], ref.score, abs_tol=TOL), (subject, row, ref.score)
        for d in rb.dimensions:
            assert math.isclose(row[dimension_column(d.id)], ref.dimensions[d.id],
                                abs_tol=TOL), (subject, d.id)
        if not near_boundary(ref.score, rb):
            assert row["tier"] == ref.tier, subject
            assert row["lists"] == ref.lists, (subject, row["lists"], ref.lists)
        else:  # record lists never depend on a float boundary
            rec_lists = [x.id for x in rb.lists if x.enter_when.record is not None]
            assert [x for x in row["lists"] if x in rec_lists] == [
                x for x in ref.lists if x in rec_lists]


def reference_all(rb: Rulebook, records: list[Record], t: int, k: int,
                  subjects: Sequence[tuple[str, str | None]],
                  history: Sequence[ProgramVersion] | None = None) -> dict[str, Standing]:
    return {s: reference.standing(rb, s, kind, [r for r in records if r.subject == s], t, k,
                                  history=history)
            for s, kind in subjects}


# -- property tests ------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rb=rulebooks(), records=ledgers(), t=times, dk=st.integers(-6, 6))
def test_batch_agrees_with_reference(rb: Rulebook, records: list[Record], t: int,
                                     dk: int) -> None:
    k = t + dk * US_PER_DAY // 2  # k before, at and after t: voids recorded after k
    subjects: list[tuple[str, str | None]] = [(s, kd) for s, kd in SUBJECTS if kd is not None]
    table = score_records(rb, records, subjects, t, k)
    # s4 has records but no kind (unknown to the ledger): the program does not apply
    universe = subjects + ([("s4", None)] if any(r.subject == "s4" for r in records) else [])
    assert_agrees(rb, table, reference_all(rb, records, t, k, universe))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories(), records=ledgers(), t=times, dk=st.integers(-6, 6))
def test_batch_agrees_with_reference_across_versions(history: list[ProgramVersion],
                                                     records: list[Record], t: int,
                                                     dk: int) -> None:
    """No retroactive punishment (lex mitior): both engines judge each record by the
    version in force when it occurred unless the version in force at t is milder."""
    k = t + dk * US_PER_DAY // 2
    pv = version_at(history, t, k)
    assume(pv is not None)
    assert pv is not None
    subjects: list[tuple[str, str | None]] = [(s, kd) for s, kd in SUBJECTS if kd is not None]
    table = score_records(pv.rulebook, records, subjects, t, k, history=history)
    universe = subjects + ([("s4", None)] if any(r.subject == "s4" for r in records) else [])
    assert_agrees(pv.rulebook, table, reference_all(pv.rulebook, records, t, k, universe,
                                                    history))


@settings(max_examples=150, deadline=None)
@given(rb=rulebooks(), records=ledgers(), t=times, parts=st.integers(1, 3))
def test_partitions_change_nothing(rb: Rulebook, records: list[Record], t: int,
                                   parts: int) -> None:
    """Scoring subject partitions separately gives the same rows as one pass."""
    subjects = [(s, kind) for s, kind in SUBJECTS if kind is not None]
    whole = {r["subject"]: r for r in score_records(rb, records, subjects, t).to_pylist()}
    pieces: dict[str, dict[str, Any]] = {}
    for j in range(parts):
        mine = {s for i, (s, _) in enumerate(SUBJECTS) if i % parts == j}
        got = score_records(rb, [r for r in records if r.subject in mine],
                            [(s, kd) for s, kd in subjects if s in mine], t)
        pieces.update({r["subject"]: r for r in got.to_pylist()})
    assert pieces.keys() == whole.keys()
    for s, row in whole.items():
        assert math.isclose(pieces[s]["score"], row["score"], abs_tol=TOL)


# -- hand-picked edge cases ------------------------------------------------------------------

EDGE_RB = Rulebook.model_validate({
    "rulebook": "edge", "version": "1", "subjects": ["person"],
    "scale": {"base": 100, "min": 0, "max": 200},
    "dimensions": [{"id": "d"}],
    "record_types": [{"id": "c", "kind": "conduct"}, {"id": "res", "kind": "resolution"},
                     {"id": "void", "kind": "void", "providers": ["reviewer"]}],
    "rules": [{"record": "c", "dimension": "d", "points": -10, "expires": 5, "max_count": 2,
               "resolved_points": -1}],
    "tiers": [{"id": "A", "min": 95}, {"id": "B", "min": 0}],
    "lists": [{"id": "bl", "kind": "black", "enter_when": {"record": "c"}, "notice": 1,
               "max_duration": 3}],
})


def rec(rid: str, day: float, kind: str = "conduct", ref: str | None = None,
        recorded: float | None = None, typ: str | None = None) -> Record:
    occ = T0 + int(day * US_PER_DAY)
    r = occ if recorded is None else T0 + int(recorded * US_PER_DAY)
    t = typ or {"conduct": "c", "resolution": "res", "void": "void"}[kind]
    return Record(rid, "p", "s", t, kind, occ, r, None, None, None, ref)


@pytest.mark.parametrize(("records", "t_day", "k_day"), [
    # ties on occurred_at: the larger record ids win max_count (c is resolved)
    ([rec("a", 0), rec("b", 0), rec("c", 0), rec("z", 0, "resolution", "c")], 1, 1),
    ([rec("c", 0), rec("b", 0), rec("a", 0), rec("z", 0, "resolution", "a")], 1, 1),
    # exactly at the expiry boundary (age == expires does not count)
    ([rec("a", 0), rec("b", 1)], 5, 5),
    # a void recorded after k does not withdraw; at k after it, it does
    ([rec("a", 0), rec("v", 0, "void", "a", recorded=3)], 2, 2),
    ([rec("a", 0), rec("v", 0, "void", "a", recorded=3)], 2, 3),
    # a resolution occurring after t does not apply, nor end the listing
    ([rec("a", 0), rec("z", 4, "resolution", "a")], 3, 5),
    ([rec("a", 0), rec("z", 2, "resolution", "a")], 3, 5),
    # max_count after voids: the voided record frees its slot
    ([rec("a", 1), rec("b", 2), rec("c", 3), rec("v", 3, "void", "c")], 3.5, 4),
])
def test_edge_cases(records: list[Record], t_day: float, k_day: float) -> None:
    t, k = T0 + int(t_day * US_PER_DAY), T0 + int(k_day * US_PER_DAY)
    table = score_records(EDGE_RB, records, [("s", "person")], t, k)
    assert_agrees(EDGE_RB, table, reference_all(EDGE_RB, records, t, k, [("s", "person")]))


def test_empty_partition_and_no_records() -> None:
    table = score_records(EDGE_RB, [], [("s", "person"), ("o", "organization")], T0)
    rows = {r["subject"]: r for r in table.to_pylist()}
    assert rows["s"]["score"] == 100.0 and rows["s"]["tier"] == "A" and rows["s"]["lists"] == []
    assert rows["o"]["subject_kind"] == "organization"


def test_output_schema() -> None:
    table = score_partition(EDGE_RB, pa.table({
        "record_id": pa.array([], pa.string()), "subject": pa.array([], pa.string()),
        "type": pa.array([], pa.string()), "kind": pa.array([], pa.string()),
        "occurred_at": pa.array([], pa.int64()), "recorded_at": pa.array([], pa.int64()),
        "value_num": pa.array([], pa.float64()), "value_text": pa.array([], pa.string()),
        "ref": pa.array([], pa.string())}), None, T0, T0)
    assert table.schema.names == ["subject", "subject_kind", "score", "tier", "dim_d", "lists"]
    assert table.schema.field("lists").type == pa.list_(pa.string())


# -- through a real ledger, on SQLite and PostgreSQL -----------------------------------------

LEDGER_RB = """
rulebook: city
version: "1"
subjects: [person]
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
     expires: 5y, max_count: 2, resolved_points: -10}
attributes:
  - record: fact.months
    dimension: capacity
    bins: [{below: 12, points: 20}, {below: 36, points: 5}, {points: -10}]
tiers: [{id: A, min: 1000}, {id: B, min: 900}, {id: C, min: 0}]
lists:
  - {id: arrears_list, kind: black, enter_when: {record: finance.arrears}, notice: 10d,
     max_duration: 1y}
  - {id: low_score, kind: black, enter_when: {score_below: 960}, notice: 5d}
"""

LEDGER_CSV = """record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref
bank-1:1,bank-1,alice,person,finance.arrears,2025-01-01,,doc1,
bank-1:2,bank-1,alice,,finance.arrears,2025-06-01,,doc2,
bank-1:3,bank-1,alice,,finance.arrears,2025-06-01,,doc3,
bank-1:4,bank-1,alice,,finance.paid,2025-08-01,,,bank-1:2
bank-1:5,bank-1,bob,person,fact.months,2025-03-01,30,doc5,
bank-1:6,bank-1,bob,,finance.arrears,2025-11-01,,doc6,
"""


def test_ledger_standings_match_reference(make_ledger: Callable[..., Service],
                                          clock: Any) -> None:
    from socialcredit.scoring.partitions import score_ledger

    svc = make_ledger(LEDGER_RB, {"bank-1": "bank", "rev-1": "reviewer"})
    svc.records.ingest_text(LEDGER_CSV, backfill=True)  # recorded_at = occurred_at
    clock.set("2026-01-05T00:00:00Z")
    svc.records.ingest_text("record_id,provider,subject,type,occurred_at,ref\n"
                        "rev-1:1,rev-1,bob,review.void,2025-12-01,bank-1:6\n")
    for at in ("2026-01-02T00:00:00Z", "2026-01-10T00:00:00Z", "2030-01-01T00:00:00Z"):
        t = parse_instant(at)
        for known in (parse_instant("2026-01-02T00:00:00Z"), t):
            table = pa.concat_tables(list(score_ledger(svc.ledger, "city", t, known,
                                                       rows_per_partition=3)))
            expected = {s: svc.standings.of(s, "city", t, known)
                        for s, _ in svc.ledger.all_subjects()}
            assert_agrees(svc.ledger.program_versions("city")[-1].rulebook, table, expected)


ATTR_RB = Rulebook.model_validate({
    "rulebook": "attr", "version": "1", "subjects": ["person"], "scale": {"base": 0},
    "dimensions": [{"id": "d"}],
    "record_types": [{"id": "f", "kind": "fact"}],
    "attributes": [{"record": "f", "dimension": "d", "missing": -1,
                    "bins": [{"below": 10, "points": 1}, {"values": ["x", 99], "points": 2},
                             {"points": 3}]}],
})


def fact(rid: str, day: float, value: float | str | None, recorded: float | None = None
         ) -> Record:
    occ = T0 + int(day * US_PER_DAY)
    r = occ if recorded is None else T0 + int(recorded * US_PER_DAY)
    num = value if isinstance(value, float) else None
    text = value if isinstance(value, str) else None
    return Record(rid, "p", "s", "f", "fact", occ, r, num, text)


@pytest.mark.parametrize("records", [
    [fact("a", 0, 1.0), fact("b", 0, 50.0)],  # tie on (occurred, recorded): larger id
    [fact("b", 0, 1.0), fact("a", 0, 50.0)],
    [fact("a", 0, 1.0, recorded=2), fact("b", 0, 50.0, recorded=1)],  # later recorded_at
    [fact("a", 0, "x"), fact("b", 0, "99")],  # listed values: text and numeric text
    [fact("a", 0, 99.0)], [fact("a", 0, "9")], [fact("a", 0, None)], [],
])
def test_attribute_latest_fact(records: list[Record]) -> None:
    t = T0 + 3 * US_PER_DAY
    table = score_records(ATTR_RB, records, [("s", "person")], t)
    assert_agrees(ATTR_RB, table, reference_all(ATTR_RB, records, t, t, [("s", "person")]))


# -- record ids read lazily ------------------------------------------------------------------


class CountingIds:
    """A record-id source over the whole table that remembers which rows were asked."""

    def __init__(self, table: pa.Table) -> None:
        self.ids = table.column("record_id").combine_chunks()
        self.asked: set[int] = set()

    def __call__(self, rows: Any) -> pa.Array:
        self.asked.update(int(r) for r in rows)
        return self.ids.take(pa.array(rows, pa.int64()))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rb=rulebooks(), records=ledgers(), t=times, dk=st.integers(-6, 6))
def test_record_ids_read_lazily_change_nothing(rb: Rulebook, records: list[Record], t: int,
                                               dk: int) -> None:
    """Without a record_id column and with a source to ask instead, every row is the
    same; the source is asked only for records of subjects that hold a void or a
    resolution, or that have a tie (max_count, latest fact)."""
    k = t + dk * US_PER_DAY // 2
    subjects = subjects_to_table([(s, kd) for s, kd in SUBJECTS if kd is not None])
    table = records_to_table(records)
    src = CountingIds(table)
    lazy = score_partition(rb, table.drop_columns(["record_id"]), subjects, t, k,
                           record_ids=src)
    assert lazy.equals(score_partition(rb, table, subjects, t, k))
    referring = {r.subject for r in records if r.kind in ("void", "resolution")}
    tied = {(r.subject, r.occurred_at) for r in records
            if sum((o.subject, o.occurred_at) == (r.subject, r.occurred_at)
                   for o in records) > 1}
    for i in src.asked:
        r = records[i]
        assert r.subject in referring or (r.subject, r.occurred_at) in tied


def _write_bucketed(root: Path, records: list[Record], subjects: list[tuple[str, str]],
                    old: bool = False) -> None:
    """A one-bucket export layout with small row groups (several per file); `old`: as
    written before ingested_at existed."""
    (root / "records" / "bucket=00").mkdir(parents=True)
    (root / "subjects" / "bucket=00").mkdir(parents=True)
    table = records_to_table(records)
    if old:
        table = table.drop_columns(["ingested_at"])
    pq.write_table(table, root / "records" / "bucket=00" / "a.parquet", row_group_size=5)
    pq.write_table(subjects_to_table(subjects),
                   root / "subjects" / "bucket=00" / "a.parquet")


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rb=rulebooks(), records=ledgers(), t=times, dk=st.integers(-6, 6),
       rows=st.sampled_from([1, 7, 1000]), old=st.booleans())
def test_parquet_partitions_lazy_ids(tmp_path_factory: pytest.TempPathFactory, rb: Rulebook,
                                     records: list[Record], t: int, dk: int, rows: int,
                                     old: bool) -> None:
    """Parquet partitions read without record ids (ids read on demand, through the rows
    each partition kept: k before some records were recorded, splits of a bucket by a
    second hash) score exactly as those read with them, and as the reference; columns
    without a value, or missing from an older export, are nulls."""
    k = t + dk * US_PER_DAY // 2
    if old:  # an export from before ingested_at: this ledger knew each record when recorded
        records = [dataclasses.replace(r, ingested_at=None) for r in records]
    subjects = [(s, kd) for s, kd in SUBJECTS if kd is not None]
    root = tmp_path_factory.mktemp("ledger")
    _write_bucketed(root, records, subjects, old)

    def scored(lazy: bool) -> dict[str, dict[str, Any]]:
        parts = parquet_partitions(root, rb, k, rows_per_partition=rows, lazy_ids=lazy)
        out = pa.concat_tables(list(score_batches(rb, parts, t, k, workers=1)))
        return {r["subject"]: r for r in out.to_pylist()}

    lazy = scored(True)
    assert lazy == scored(False)
    # s4 (no kind) is seen only through records the read keeps (known at k, of a type
    # the program reads); the program never applies to it
    assert {s for s, _ in subjects} <= set(lazy)
    universe = subjects + ([("s4", None)] if "s4" in lazy else [])
    assert_agrees(rb, pa.Table.from_pylist(list(lazy.values())),
                  reference_all(rb, records, t, k, universe))
