"""The ledger's fast read of a subject's records against the plain paths: Records built
from rows without the dataclass __init__, and rows read from the driver's cursor."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from socialcredit.dueprocess import effects
from socialcredit.ledger.model import Record, records_and_top, records_of_rows
from socialcredit.ledger.store import driver_rows
from tests.helpers import BASE

text = st.text(max_size=8)
maybe_text = st.none() | text
maybe_int = st.none() | st.integers(-2**62, 2**62)
rows = st.lists(st.tuples(text, text, text, text, st.integers(-2**62, 2**62),
                          st.integers(-2**62, 2**62),
                          st.none() | st.floats(allow_nan=False), maybe_text, maybe_text,
                          maybe_text, maybe_int), max_size=20)


@given(rows, text)
def test_records_of_rows_are_the_records_init_builds(got: list[tuple], subject: str) -> None:
    fast = records_of_rows(got, subject)
    plain = [Record(r[0], r[1], subject, *r[2:]) for r in got]
    assert fast == plain
    assert all(type(r) is Record for r in fast)  # built as another class, then given Record's
    assert [hash(r) for r in fast] == [hash(r) for r in plain]
    assert [dataclasses.astuple(r) for r in fast] == [dataclasses.astuple(r) for r in plain]
    for r in fast:
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.kind = "void"  # type: ignore[misc]
        assert dataclasses.replace(r, ref="x") == dataclasses.replace(
            Record(r.record_id, r.provider, subject, r.type, r.kind, r.occurred_at,
                   r.recorded_at, r.value_num, r.value_text, r.evidence, r.ref,
                   r.ingested_at), ref="x")



@given(rows, st.lists(st.integers(1, 2**62), unique=True), text)
def test_records_and_top_are_the_records_and_the_highest_seq(got: list[tuple],
                                                             seqs: list[int],
                                                             subject: str) -> None:
    """Rows with a seq as a twelfth column, read as a driver's cursor gives them (one at
    a time): the Records of the first eleven columns, and the highest seq."""
    with_seq = [(*r, q) for r, q in zip(got, seqs, strict=False)]
    fast, top = records_and_top(iter(with_seq), subject)
    assert fast == records_of_rows([r[:11] for r in with_seq], subject)
    assert fast == [Record(r[0], r[1], subject, *r[2:11]) for r in with_seq]
    assert all(type(r) is Record for r in fast)
    assert top == (max(r[11] for r in with_seq) if with_seq else None)
    assert records_of_rows(iter(got), subject) == records_of_rows(got, subject)


HEADER = "record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"


def test_records_of_reads_the_same_in_and_out_of_a_transaction(make_ledger,
                                                                tmp_path: Path) -> None:
    svc = make_ledger(BASE, {"bank-1": "bank", "court-1": "court"})
    f = tmp_path / "r.csv"
    f.write_text(HEADER + "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n"
                 "bank-1:b1,bank-1,alice,,bonus,2025-12-02T08:00:00+08:00,,,\n"
                 "bank-1:c1,bank-1,bob,person,bonus,2025-12-03,,,\n", encoding="utf-8")
    assert svc.records.ingest_file(f).accepted == 3
    led = svc.ledger
    alone = led.records_of("alice")  # a fresh connection: its first statement
    with led.engine.connect() as conn:
        assert led.committed(conn) > 0  # the transaction has begun: the driver's cursor
        assert conn.in_transaction()
        inside = led.records_of("alice", conn)
    assert sorted(r.record_id for r in alone) == ["bank-1:a1", "bank-1:b1"]
    assert inside == alone
    assert all(r.subject == "alice" for r in inside)


def test_driver_errors_are_sqlalchemys(make_ledger) -> None:
    """What callers catch (a busy database, a missing table) stays SQLAlchemy's type."""
    svc = make_ledger(BASE, {"bank-1": "bank"})
    with svc.ledger.engine.connect() as conn:
        svc.ledger.committed(conn)
        with pytest.raises(DBAPIError) as caught:
            driver_rows(conn, "SELECT nope FROM no_such_table", ())
    assert isinstance(caught.value.orig, conn.dialect.loaded_dbapi.Error)



def test_a_read_transactions_begin_fails_as_sqlalchemys(make_ledger) -> None:
    """SQLite: a read's BEGIN, issued on the driver's connection, fails as SQLAlchemy's
    error (here: the driver's connection is in a transaction already)."""
    svc = make_ledger(BASE, {"bank-1": "bank"})
    with svc.ledger.engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            return
        conn.connection.driver_connection.execute("BEGIN")  # type: ignore[union-attr]
        with pytest.raises(DBAPIError) as caught:
            svc.ledger.committed(conn)
        assert "within a transaction" in str(caught.value.orig)
        conn.connection.driver_connection.execute("ROLLBACK")  # type: ignore[union-attr]

def test_a_standings_small_reads_are_the_same_in_and_out_of_a_transaction(
        make_ledger, tmp_path: Path) -> None:
    """The subject's kind, its effects and the published versions, read on the driver's
    cursor inside a begun transaction, are what the statement beginning one reads."""
    svc = make_ledger(BASE, {"bank-1": "bank"})
    f = tmp_path / "r.csv"
    f.write_text(HEADER + "bank-1:a1,bank-1,alice,person,arrears,2025-12-01,,sha256:1,\n",
                 encoding="utf-8")
    assert svc.records.ingest_file(f).accepted == 1
    led = svc.ledger
    with led.write() as conn:
        effects.add(conn, [effects.Effect("alice", "bank-1:a1", "suspend", 5, 9, None, None,
                                          "case-1", None),
                           effects.Effect("alice", "bank-1:a1", "withdraw", 7)])

    with led.engine.connect() as conn:
        k = led.committed(conn)
    one_read: list[Callable[[Connection], object]] = [
        lambda c: led.subject_kind("alice", None, c), lambda c: led.subject_kind("alice", k, c),
        lambda c: led.subject_kind("alice", 0, c), lambda c: led.subject_kind("nobody", k, c),
        lambda c: effects.of(c, "alice"), lambda c: effects.of(c, "nobody"),
        lambda c: [(v.program, v.version, v.seq) for v in led.program_versions(None, c)]]
    with led.engine.connect() as conn:
        led.committed(conn)
        assert conn.in_transaction()  # the driver's cursor from here
        inside = tuple(read(conn) for read in one_read)
    first = []
    for read in one_read:  # each read as the statement that begins a transaction
        with led.engine.connect() as conn:
            assert not conn.in_transaction()
            first.append(read(conn))
    assert tuple(first) == inside
    assert inside[:4] == ("person", "person", None, None)
    assert [e.kind for e in inside[4]] == ["suspend", "withdraw"]
    assert inside[4][0].case_id == "case-1" and inside[5] == []
    assert inside[6]
