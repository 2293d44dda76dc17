"""The WAL-index header as a check for commits (service/wal_header.py) against the plain
check it stands in for, `PRAGMA data_version`: whatever other connections do — commit,
roll back, checkpoint in every mode, commit from another process — a header that reads
as before never hides a commit data_version sees, and every commit changes it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcredit.service.wal_header import WalHeader

STEPS = st.lists(st.sampled_from(["commit", "rollback", "read", "passive", "full",
                                  "restart", "truncate", "nothing", "commit-many"]),
                 min_size=1, max_size=25)


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def watched(path: Path) -> tuple[sqlite3.Connection, WalHeader]:
    """A reader as the standing cache keeps one: its connection has read, then watches."""
    reader = connect(path)
    reader.execute("PRAGMA data_version").fetchone()
    header = WalHeader.of(reader)
    assert header is not None
    return reader, header


def step(conn: sqlite3.Connection, what: str, i: int) -> None:
    if what == "commit":
        conn.execute("INSERT INTO t VALUES (?)", (i,))
    elif what == "commit-many":
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,)] * 50)
        conn.execute("COMMIT")
    elif what == "rollback":
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t VALUES (?)", (i,))
        conn.execute("ROLLBACK")
    elif what == "read":
        conn.execute("SELECT count(*) FROM t").fetchone()
    elif what != "nothing":
        conn.execute(f"PRAGMA wal_checkpoint({what.upper()})").fetchone()


@settings(max_examples=40, deadline=None)
@given(STEPS)
def test_an_unchanged_header_hides_no_commit(tmp_path_factory, steps: list[str]) -> None:
    path = tmp_path_factory.mktemp("wal") / "db.sqlite"
    writer = connect(path)
    writer.execute("CREATE TABLE t (x INTEGER)")
    reader, header = watched(path)
    try:
        seen = header.read()
        version = reader.execute("PRAGMA data_version").fetchone()[0]
        for i, what in enumerate(steps):
            step(writer, what, i)
            now = header.read()
            assert now is not None  # no writer is between the two copies here
            changed = reader.execute("PRAGMA data_version").fetchone()[0] != version
            if now == seen:
                assert not changed, (steps[: i + 1], "a commit the header did not show")
            if what.startswith("commit"):
                assert now != seen and changed
            seen = now
            version = reader.execute("PRAGMA data_version").fetchone()[0]
    finally:
        header.close()
        reader.close()
        writer.close()


def test_a_commit_from_another_process_changes_the_header(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    writer = connect(path)
    writer.execute("CREATE TABLE t (x INTEGER)")
    reader, header = watched(path)
    try:
        before = header.read()
        version = reader.execute("PRAGMA data_version").fetchone()[0]
        subprocess.run([sys.executable, "-c",
                        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                        "c.execute('INSERT INTO t VALUES (1)'); c.commit(); c.close()",
                        str(path)], check=True)
        assert header.read() != before
        assert reader.execute("PRAGMA data_version").fetchone()[0] != version
    finally:
        header.close()
        reader.close()
        writer.close()


def test_nothing_to_watch_outside_wal_mode(tmp_path: Path) -> None:
    memory = sqlite3.connect(":memory:")
    assert WalHeader.of(memory) is None
    plain = sqlite3.connect(tmp_path / "plain.sqlite")
    plain.execute("CREATE TABLE t (x INTEGER)")
    assert WalHeader.of(plain) is None  # a rollback journal: no WAL index
    exclusive = connect(tmp_path / "exclusive.sqlite")
    exclusive.execute("PRAGMA locking_mode=EXCLUSIVE")
    exclusive.execute("CREATE TABLE t (x INTEGER)")
    assert WalHeader.of(exclusive) is None
    for conn in (memory, plain, exclusive):
        conn.close()


def test_a_copy_of_the_wal_index_is_not_watched(tmp_path: Path) -> None:
    """A file named like a WAL index that SQLite does not hold open (left beside a
    database reached by another path) is not read as one."""
    path = tmp_path / "db.sqlite"
    writer = connect(path)
    writer.execute("CREATE TABLE t (x INTEGER)")
    reader, header = watched(path)
    try:
        copy = tmp_path / "copy.sqlite-shm"
        copy.write_bytes(Path(f"{path}-shm").read_bytes())
        with pytest.raises(ValueError):
            WalHeader(str(copy))
    finally:
        header.close()
        reader.close()
        writer.close()
