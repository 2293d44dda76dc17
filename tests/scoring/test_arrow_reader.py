"""The ledger's columns read into Arrow (ADBC) are the rows the DB-API reads, exactly:
types, nulls (SQLite's ADBC driver infers types from the first rows, so nullable
columns go through a typed default and a null flag), every partition range, and a
snapshot that sees every committed ingest (the SQLite reader is a child process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from socialcredit.ledger import arrow
from socialcredit.ledger import schema as s
from socialcredit.ledger.arrow import ArrowReader, available
from socialcredit.rulebook.loader import parse_rulebook
from socialcredit.rulebook.model import Rulebook
from socialcredit.scoring.batch import Partition, score_batches
from socialcredit.scoring.partitions import (
    fetch_partition,
    read_partition,
    store_partitions,
    store_reader,
    subject_ranges,
)
from socialcredit.service import Service
from socialcredit.timeutil import parse_instant
from tests.helpers import catalogue_for_tests
from tests.scoring.test_materialized import PROVIDERS, RB, seed_csv


def _same(a: pa.Table, b: pa.Table, key: str) -> None:
    assert a.schema == b.schema
    assert a.sort_by(key).to_pylist() == b.sort_by(key).to_pylist()


def test_arrow_partitions_equal_dbapi_rows(make_ledger: Callable[..., Service],
                                           clock: Any) -> None:
    svc = make_ledger(RB, PROVIDERS)
    assert available(svc.ledger.engine.dialect.name)
    svc.records.ingest_text(seed_csv())
    # a first read, then an ingest: a later reader must see it (one snapshot per reader)
    k = parse_instant("2026-03-01T00:00:00Z")
    rb = svc.ledger.version_in_force("city", k, k).rulebook
    with ArrowReader(svc.ledger.engine) as reader:
        assert read_partition(reader, rb, k, None, None)[0].num_rows == 40
    clock.set("2026-02-03T00:00:00Z")
    svc.records.ingest_text("record_id,provider,subject,subject_kind,type,occurred_at,"
                            "value,evidence,ref\n"
                            "bank-1:n1,bank-1,newbie,organization,fact.months,2026-01-20,"
                            "7.5,d,\n"
                            "bank-1:n3,bank-1,p02,,finance.paid,2026-01-31,,,bank-1:2\n"
                            "rev-1:1,rev-1,p03,,review.void,2026-02-02,,d,bank-1:3\n")
    with svc.ledger.engine.connect() as conn:
        ranges = subject_ranges(conn, 3)
        expected = [fetch_partition(conn, rb, k, lo, hi) for lo, hi in ranges]
    assert len(ranges) == 3
    for scan, split in ((True, None), (False, None), (True, "sc_records")):
        # split: on SQLite two reader processes, each scanning half of the seq range
        with ArrowReader(svc.ledger.engine, split=split) as reader:
            got = [read_partition(reader, rb, k, lo, hi, scan=scan) for lo, hi in ranges]
        for (r1, s1), (r2, s2) in zip(expected, got, strict=True):
            _same(r1, r2, "record_id")
            _same(s1, s2, "subject")
    records = pa.concat_tables([r for r, _ in got])
    assert records.num_rows == 43
    assert records.column("ref").null_count == 41
    assert records.column("value_num").drop_null().to_pylist().count(7.5) == 1


_MORE = ("record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
         "bank-1:r1,bank-1,p02,,finance.paid,2026-01-31,,,bank-1:2\n"
         "bank-1:r2,bank-1,p04,,finance.paid,2026-01-30,,,bank-1:4\n"
         "rev-1:v1,rev-1,p03,,review.void,2026-02-02,,d,bank-1:3\n"
         "rev-1:v2,rev-1,p05,,review.void,2026-02-02,,d,bank-1:5\n"
         # an attribute tie on (occurred_at, recorded_at): record ids decide
         "bank-1:t1,bank-1,p06,,fact.months,2026-01-10,3,d,\n"
         "bank-1:t2,bank-1,p06,,fact.months,2026-01-10,40,d,\n")
_APPEND = ("record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
           "rev-1:v3,rev-1,p02,,review.void,2026-02-04,,d,bank-1:r1\n"
           "rev-1:v4,rev-1,p07,,review.void,2026-02-04,,d,bank-1:7\n"
           "bank-1:a1,bank-1,p08,,finance.arrears,2026-02-04,,d,\n"
           "bank-1:a2,bank-1,p06,,fact.months,2026-01-10,70,d,\n")


def _scored(rb: Rulebook, parts: Iterable[Partition], t: int, k: int) -> list[dict[str, Any]]:
    out = pa.concat_tables(list(score_batches(rb, parts, t, k, workers=2)))
    return out.sort_by("subject").to_pylist()


def test_lazy_record_ids_from_the_database(make_ledger: Callable[..., Service],
                                          clock: Any) -> None:
    """Scored from the database with record ids read only when compared (voids,
    resolutions, max_count and attribute ties), partitions equal the eager read; and
    records appended while a run reads — between its partitions, before its ids are
    asked — are not in that run: every read is in the reader's one snapshot."""
    svc = make_ledger(RB, PROVIDERS)
    svc.records.ingest_text(seed_csv())
    t = k = parse_instant("2026-03-01T00:00:00Z")
    ledger = svc.ledger
    rb = ledger.version_in_force("city", t, k).rulebook
    # no record has a ref yet: the column is not read, and comes out as nulls
    with ArrowReader(ledger.engine, split=s.records.name) as reader:
        assert "ref" not in reader.has_values(s.records.name, ["ref", "value_num"])
    with ledger.engine.connect() as conn:
        expected = fetch_partition(conn, rb, k, None, None)
    [(got, subs)] = list(store_partitions(ledger, rb, k))
    _same(expected[0], got, "record_id")
    _same(expected[1], subs, "subject")
    clock.set("2026-02-03T00:00:00Z")
    svc.records.ingest_text(_MORE)
    for rows in (1000, 10):  # one partition; several subject ranges
        eager = _scored(rb, store_partitions(ledger, rb, k, rows_per_partition=rows), t, k)
        with store_reader(ledger) as reader:
            assert reader is not None
            lazy = _scored(rb, store_partitions(ledger, rb, k, rows_per_partition=rows,
                                                lazy_ids=True, reader=reader), t, k)
        assert lazy == eager
        assert {r["subject"] for r in eager} >= {f"p{i:02d}" for i in range(13)}
    clock.set("2026-02-05T00:00:00Z")
    with ArrowReader(ledger.engine, split=s.records.name) as reader:
        parts = iter(store_partitions(ledger, rb, k, rows_per_partition=10, lazy_ids=True,
                                      reader=reader))
        first = next(parts)  # the run has read: its snapshot is taken
        svc.records.ingest_text(_APPEND)
        during = _scored(rb, [first, *parts], t, k)  # later partitions and ids: after
    assert during == eager
    after = _scored(rb, store_partitions(ledger, rb, k, rows_per_partition=10), t, k)
    assert after != eager  # the append changes standings: the test would see a leak


# -- SQLite's reader processes ------------------------------------------------------------

CHILD = Path(arrow.__file__).with_name("arrow_child.py")


# appended while a reader is open: a void of a seeded record, a new subject's record
_LATER = ("record_id,provider,subject,subject_kind,type,occurred_at,value,evidence,ref\n"
          "rev-1:w1,rev-1,p03,,review.void,2026-02-04,,d,bank-1:3\n"
          "bank-1:w2,bank-1,p20,person,finance.arrears,2026-02-04,,d,\n")


def _city_sqlite(tmp_path: Path, clock: Any) -> Service:
    svc = Service.create(parse_rulebook(RB, "city.yaml"), f"sqlite:///{tmp_path / 'r.db'}",
                         clock=clock, catalogue=catalogue_for_tests())
    for p, role in PROVIDERS.items():
        svc.providers.add(p, role)
    svc.records.ingest_text(seed_csv())
    return svc


def _readers() -> list[int]:
    """Pids of this process's reader processes (Linux: /proc)."""
    me = str(os.getpid())
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        if stat[1] == me and stat[0] != "Z" and str(CHILD).encode() in cmd:
            found.append(int(d.name))
    return found


def _mapped(pid: int) -> str:
    return (Path("/proc") / str(pid) / "maps").read_text()


def test_reader_processes_run_without_numpy_or_pandas(tmp_path: Path, clock: Any) -> None:
    """The reader processes answer queries with parameters of every kind (text and
    integers) without NumPy and pandas loaded: their imports took most of a reader's
    start."""
    svc = _city_sqlite(tmp_path, clock)
    k = parse_instant("2026-03-01T00:00:00Z")
    rb = svc.ledger.version_in_force("city", k, k).rulebook
    with svc.ledger.engine.connect() as conn:
        expected = [fetch_partition(conn, rb, k, lo, hi) for lo, hi in subject_ranges(conn, 2)]
    with ArrowReader(svc.ledger.engine, split=s.records.name) as reader:
        with svc.ledger.engine.connect() as conn:
            got = [read_partition(reader, rb, k, lo, hi) for lo, hi in subject_ranges(conn, 2)]
        pids = _readers()
        assert len(pids) == 2
        for pid in pids:
            maps = _mapped(pid)
            assert "pyarrow" in maps and "adbc_driver_sqlite" in maps
            assert "numpy" not in maps and "pandas" not in maps
    for (r1, s1), (r2, s2) in zip(expected, got, strict=True):
        _same(r1, r2, "record_id")
        _same(s1, s2, "subject")
    assert _readers() == []


def test_reader_process_starts_again_with_numpy_for_an_older_pyarrow(tmp_path: Path,
                                                                     clock: Any) -> None:
    """A pyarrow that cannot be imported without NumPy (before 16): the process starts
    again with NumPy allowed, and answers."""
    svc = _city_sqlite(tmp_path, clock)
    old = tmp_path / "old" / "pyarrow"
    old.mkdir(parents=True)
    # stands in for pyarrow < 16: needs NumPy, then hands over to the real pyarrow
    old.joinpath("__init__.py").write_text(
        "import importlib, sys\n"
        "import numpy\n"
        f"sys.path.remove({str(old.parent)!r})\n"
        "del sys.modules['pyarrow']\n"
        "sys.modules['pyarrow'] = importlib.import_module('pyarrow')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(old.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}
    query = json.dumps({"sql": "SELECT count(*) AS n, ? AS x FROM sc_records WHERE seq <= ?",
                        "params": ["text", 1000]})
    done = subprocess.run([sys.executable, "-P", str(CHILD), str(tmp_path / "r.db")],
                          input=(query + "\n").encode(), capture_output=True, env=env,
                          timeout=60, check=True)
    assert pa.ipc.open_stream(done.stdout).read_all().to_pylist() == [{"n": 40, "x": "text"}]
    svc.close()


@pytest.mark.parametrize("stop", [RuntimeError, KeyboardInterrupt])
def test_readers_end_at_once_when_the_caller_stops(tmp_path: Path, clock: Any,
                                                   stop: type[BaseException]) -> None:
    """A run that fails or is interrupted while its readers are busy does not wait for
    their queries to finish: the readers are ended, none is left behind."""
    svc = _city_sqlite(tmp_path, clock)
    # a query of many seconds in SQLite
    slow = ("(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
            "WHERE x < 200000000) SELECT max(x) AS n FROM c)")
    started = time.monotonic()
    with pytest.raises(stop), ArrowReader(svc.ledger.engine, split=s.records.name) as reader:
        reader.submit(s.records.name, [("seq", pa.int64(), False)])()  # the check is read
        reader.submit(slow, [("n", pa.int64(), False)])
        time.sleep(0.5)  # the query runs
        assert len(_readers()) == 2
        raise stop
    assert time.monotonic() - started < 5
    assert _readers() == []
    svc.close()


def test_split_reader_asks_empty_columns_in_a_snapshot_before_its_processes(
        tmp_path: Path, clock: Any) -> None:
    """has_values of a split SQLite reader is answered while its processes start, in a
    snapshot taken before theirs and up to their bound: a reference appended after
    the reader opened is neither read nor counted as a value; a later reader sees it."""
    svc = _city_sqlite(tmp_path, clock)
    k = parse_instant("2026-03-01T00:00:00Z")
    rb = svc.ledger.version_in_force("city", k, k).rulebook
    with ArrowReader(svc.ledger.engine, split=s.records.name) as reader:
        clock.set("2026-02-05T00:00:00Z")
        svc.records.ingest_text(_LATER)
        assert reader.has_values(s.records.name, ["ref", "value_num"]) == {"value_num"}
        records, _ = read_partition(reader, rb, k, None, None)
    assert records.num_rows == 40 and records.column("ref").null_count == 40
    with ArrowReader(svc.ledger.engine, split=s.records.name) as reader:
        assert reader.has_values(s.records.name, ["ref", "value_num"]) == {"ref", "value_num"}
    svc.close()


def test_sqlite_ids_by_seq_in_the_run_snapshot(tmp_path: Path, clock: Any) -> None:
    """On SQLite record ids are read lazily (by seq) while no record holds a reference,
    and with the rows once one does; either way a run's ids come from its snapshot."""
    svc = _city_sqlite(tmp_path, clock)
    t = k = parse_instant("2026-03-01T00:00:00Z")
    ledger = svc.ledger
    rb = ledger.version_in_force("city", t, k).rulebook
    with ledger.engine.connect() as conn:
        expected = fetch_partition(conn, rb, k, None, None)[0]
    with store_reader(ledger) as reader:
        assert reader is not None
        [(records, _, ids)] = list(store_partitions(ledger, rb, k, lazy_ids=True,
                                                    reader=reader))
        clock.set("2026-02-05T00:00:00Z")
        svc.records.ingest_text(_LATER)
        got = ids(np.arange(records.num_rows)).to_pylist()
    assert "record_id" not in records.column_names
    assert sorted(got) == sorted(expected.column("record_id").to_pylist())
    with store_reader(ledger) as reader:
        [part] = list(store_partitions(ledger, rb, k, lazy_ids=True, reader=reader))
    assert len(part) == 2 and "record_id" in part[0].column_names
    svc.close()


def test_prestarted_readers_are_taken_and_read_the_readers_snapshot(tmp_path: Path,
                                                                   clock: Any) -> None:
    """Reader processes started ahead (while a command loads) are the ones the next
    reader of that database takes, and they read that reader's snapshot, not one of
    the time they started: records ingested in between are read."""
    svc = _city_sqlite(tmp_path, clock)
    k = parse_instant("2026-03-01T00:00:00Z")
    rb = svc.ledger.version_in_force("city", k, k).rulebook
    arrow.prestart(f"sqlite:///{tmp_path / 'r.db'}")
    ahead = sorted(_readers())
    assert len(ahead) == 2
    time.sleep(0.5)  # they are up, waiting
    clock.set("2026-02-05T00:00:00Z")
    svc.records.ingest_text(_LATER)
    with ArrowReader(svc.ledger.engine, split=s.records.name) as reader:
        records, subjects = read_partition(reader, rb, k, None, None)
        assert sorted(_readers()) == ahead
    assert records.num_rows == 42 and "p20" in subjects.column("subject").to_pylist()
    assert records.column("ref").drop_null().to_pylist() == ["bank-1:3"]
    assert _readers() == []
    svc.close()


def test_prestarted_readers_not_taken_end_with_the_process(tmp_path: Path,
                                                           clock: Any) -> None:
    """Reader processes started ahead and never taken (the command failed before it
    read) end when the process that started them exits."""
    _city_sqlite(tmp_path, clock).close()
    url = f"sqlite:///{tmp_path / 'r.db'}"
    code = ("import os, sys\n"
            "from pathlib import Path\n"
            "from socialcredit.ledger import arrow\n"
            f"arrow.prestart({url!r})\n"
            "me = str(os.getpid())\n"
            "print(' '.join(d.name for d in Path('/proc').iterdir() if d.name.isdigit()\n"
            "      and (d / 'stat').read_text().rsplit(')', 1)[1].split()[1] == me))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    pids = [int(p) for p in done.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{p}").exists() for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{p}").exists() for p in pids)


def test_no_readers_prestarted_where_there_is_no_ledger(tmp_path: Path) -> None:
    """`score --all` on a path without a ledger reports it missing: starting readers
    there first would have created an empty database file."""
    arrow.prestart(f"sqlite:///{tmp_path / 'none.db'}")
    assert _readers() == []
    assert not (tmp_path / "none.db").exists()


def test_a_command_that_does_not_read_leaves_no_reader_behind(tmp_path: Path,
                                                              clock: Any) -> None:
    """`score --all` starts its readers while it loads; when it fails before it reads
    (an unknown program here) the readers end with the command, not with the process:
    a process that runs many commands keeps no idle pair for each."""
    from typer.testing import CliRunner

    from socialcredit.cli.app import app

    _city_sqlite(tmp_path, clock).close()
    before = set(_readers())
    res = CliRunner().invoke(app, ["score", "--all", "--db", str(tmp_path / "r.db"),
                                   "--program", "nope", "--out", str(tmp_path / "o.parquet")])
    assert res.exit_code != 0, res.output
    deadline = time.monotonic() + 10
    while set(_readers()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(_readers()) - before == set()
    # and a command that does read takes them and leaves none either
    res = CliRunner().invoke(app, ["score", "--all", "--db", str(tmp_path / "r.db"),
                                   "--out", str(tmp_path / "o.parquet")])
    assert res.exit_code == 0, res.output
    assert set(_readers()) - before == set()
