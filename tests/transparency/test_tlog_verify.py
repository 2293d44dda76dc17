"""Tamper evidence: change the stored log with SQL and `log verify` must name the damage.

Every test builds a small log through the ledger's API (log_events), checks that
`socialcredit log verify` passes, tampers with the database directly, and checks
that verify exits 1 naming the leaf, subtree or checkpoint concerned.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from socialcredit.cli.app import app
from socialcredit.service import Service
from socialcredit.transparency import (
    TransparencyLog,
    Verifier,
    commitment_for,
    log_events,
    merkle,
    verify_log,
)
from socialcredit.transparency.schema import node_pos

runner = CliRunner()
ORIGIN = "credit.example/log"


def _entry(commitment: str, i: int) -> tuple[str, dict[str, object]]:
    return (
        "list.entry",
        {
            "program": "rongcheng",
            "list": "dishonest_judgment_defaulters",
            "commitment": commitment,
            "start": f"2026-03-{i + 1:02d}T00:00:00Z",
            "end": f"2028-03-{i + 1:02d}T00:00:00Z",
            "reasons": [f"court:{i}"],
        },
    )


@pytest.fixture
def log_db(db_url: str, engine: Engine, tmp_path: Path) -> tuple[str, Engine, Path]:
    """A log of 20 leaves over 8 log_events calls (8 checkpoints); the pubkey file."""
    with Service.create_empty(db_url, origin=ORIGIN) as svc:  # a ledger with no program yet
        vkey = svc.log.pubkey()
    k = 0
    for call in range(8):
        with engine.begin() as conn:
            events = []
            for _ in range(1 + call % 4):
                events.append(_entry(commitment_for(conn, f"P-{k}"), k))
                k += 1
            log_events(conn, events)
    assert TransparencyLog(engine).size() == 20
    keyfile = tmp_path / "log.pub"
    keyfile.write_text(vkey + "\n")
    return db_url, engine, keyfile


def _verify(db_url: str, keyfile: Path | None = None, *extra: str) -> tuple[int, str]:
    args = ["log", "verify", "--db", db_url, *extra]
    if keyfile is not None:
        args += ["--pubkey", str(keyfile)]
    res = runner.invoke(app, args)
    return res.exit_code, res.output


def _sql(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for s in statements:
            conn.execute(text(s))


def test_sound_log_verifies(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    code, output = _verify(db_url, keyfile)
    assert code == 0, output
    assert "log verified" in output and "20 leaves" in output
    report = verify_log(engine, keyfile.read_text())
    assert (
        report.ok and report.checkpoints_checked == 8 and report.subtrees_checked == 18
    )  # 10 + 5 + 2 + 1
    code, output = _verify(db_url, None, "--json")
    assert code == 0 and json.loads(output)["ok"] is True


def test_edited_leaf_data_is_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tlog_leaves SET data = :d WHERE idx = 5"), {"d": b'{"kind":"forged"}'}
        )
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "leaf 5: its data does not hash to its stored leaf hash" in output
    report = verify_log(engine, keyfile.read_text())
    assert report.bad_leaves() == [5]


def test_rewritten_leaf_and_hash_are_caught_by_the_subtree(
    log_db: tuple[str, Engine, Path],
) -> None:
    db_url, engine, keyfile = log_db
    forged = b'{"kind":"forged"}'
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tlog_leaves SET data = :d, leaf_hash = :h WHERE idx = 5"),
            {"d": forged, "h": merkle.leaf_hash(forged)},
        )
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "leaf 4 or leaf 5 was rewritten" in output
    assert "do not give the root signed in checkpoint" in output


def test_deleted_leaf_is_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    _sql(engine, "DELETE FROM tlog_leaves WHERE idx = 7")
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "leaf 7 is missing" in output
    assert verify_log(engine, keyfile.read_text()).bad_leaves() == [7]


def test_truncated_log_is_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    _sql(
        engine,
        "DELETE FROM tlog_leaves WHERE idx >= 18",
        "UPDATE tlog_state SET size = 18",
        f"DELETE FROM tlog_nodes WHERE pos > {node_pos(0, 17)}",
    )
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "checkpoint #8 signs size 20 but the log has 18 leaves" in output


def test_reordered_leaves_are_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    _sql(
        engine,
        "UPDATE tlog_leaves SET idx = -1 WHERE idx = 3",
        "UPDATE tlog_leaves SET idx = 3 WHERE idx = 4",
        "UPDATE tlog_leaves SET idx = 4 WHERE idx = -1",
    )
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "leaf 3 was replaced: the tree recorded here the leaf now at index 4" in output
    assert "leaf 4 was replaced: the tree recorded here the leaf now at index 3" in output


def test_edited_subtree_is_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tlog_nodes SET hash = :h WHERE level = 2 AND idx = 1"),
            {"h": b"\x00" * 32},
        )
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "subtree (level 2, index 1) over leaves 4..7 does not match" in output


def test_consistent_rewrite_is_caught_by_the_signed_checkpoints(
    log_db: tuple[str, Engine, Path],
) -> None:
    """Data, leaf hashes and every subtree rebuilt: only the signatures still object."""
    db_url, engine, keyfile = log_db
    log = TransparencyLog(engine)
    data = log.leaves()
    data[12] = b'{"kind":"forged"}'
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM tlog_leaves"))
        conn.execute(text("DELETE FROM tlog_nodes"))
        conn.execute(text("UPDATE tlog_state SET size = 0"))
        log.append(conn, data)
    code, output = _verify(db_url, keyfile)
    assert code == 2
    # checkpoint sizes are 1, 3, 6, 10, 11, 13, 16, 20: #6 (size 13) is the first to object
    assert "root signed in checkpoint #6 (size 13) (and 2 later checkpoints)" in output
    assert "leaves 11..12 were altered after it was signed" in output


def test_edited_checkpoint_note_is_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    with engine.begin() as conn:
        note = conn.execute(text("SELECT note FROM tlog_checkpoints WHERE id = 3")).scalar_one()
        conn.execute(
            text("UPDATE tlog_checkpoints SET note = :n WHERE id = 3"),
            {"n": note.replace("\n6\n", "\n5\n")},
        )
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "checkpoint #3: the signature by 'credit.example/log' does not verify" in output
    assert verify_log(engine, keyfile.read_text()).bad_checkpoints() == [3]


def test_edited_checkpoint_root_is_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE tlog_checkpoints SET root = :r WHERE id = 4"), {"r": b"\x01" * 32}
        )
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "checkpoint #4: stored size/root" in output and "differ from its signed note" in output


def test_deleted_checkpoints_are_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    _sql(engine, "DELETE FROM tlog_checkpoints WHERE id = 5")
    code, output = _verify(db_url, keyfile)
    assert code == 2 and "checkpoint #5 missing" in output
    _sql(engine, "DELETE FROM tlog_checkpoints WHERE id = 8")
    code, output = _verify(db_url, keyfile)
    assert code == 2 and "checkpoint #8 missing (the log recorded 8 checkpoints)" in output


def test_reordered_checkpoints_are_named(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    _sql(
        engine,
        "UPDATE tlog_checkpoints SET id = -1 WHERE id = 2",
        "UPDATE tlog_checkpoints SET id = 2 WHERE id = 6",
        "UPDATE tlog_checkpoints SET id = 6 WHERE id = -1",
    )
    code, output = _verify(db_url, keyfile)
    assert code == 2
    assert "checkpoint #3 (size 6) is smaller than checkpoint #2 (size 13)" in output


def test_replaced_key_is_caught_with_the_published_key(
    log_db: tuple[str, Engine, Path], tmp_path: Path
) -> None:
    """An operator who swaps the key and re-signs fools only those who trust the database."""
    db_url, _, _ = log_db
    other = tmp_path / "other.pub"
    other_key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    other.write_text(Verifier.from_public_key(ORIGIN, other_key).encode() + "\n")
    code, output = _verify(db_url, other)
    assert code == 2
    assert "the key stored with the log" in output and "is not the trusted key" in output
    assert "checkpoint #1: the note carries no signature by 'credit.example/log'" in output


def test_export_verifies_and_tampering_is_named(
    log_db: tuple[str, Engine, Path], tmp_path: Path
) -> None:
    db_url, _, keyfile = log_db
    out = tmp_path / "export"
    res = runner.invoke(app, ["log", "export", str(out), "--db", db_url])
    assert res.exit_code == 0, res.output
    assert (out / "checkpoint").read_text().startswith(ORIGIN + "\n20\n")
    assert (out / "verifier-key.txt").read_text() == keyfile.read_text()
    res = runner.invoke(app, ["log", "verify", "--export", str(out), "--pubkey", str(keyfile)])
    assert res.exit_code == 0, res.output
    lines = (out / "leaves.jsonl").read_text().splitlines()
    row = json.loads(lines[9])
    row["data"] = b'{"kind":"forged"}'.hex()
    lines[9] = json.dumps(row)
    (out / "leaves.jsonl").write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["log", "verify", "--export", str(out), "--pubkey", str(keyfile)])
    assert res.exit_code == 2
    assert "leaf 9: its data does not hash to its stored leaf hash" in res.output
    del lines[9]
    (out / "leaves.jsonl").write_text("\n".join(lines) + "\n")
    res = runner.invoke(app, ["log", "verify", "--export", str(out), "--pubkey", str(keyfile)])
    assert res.exit_code == 2 and "leaf 9 is missing" in res.output


def test_read_commands(log_db: tuple[str, Engine, Path]) -> None:
    db_url, engine, keyfile = log_db
    res = runner.invoke(app, ["log", "checkpoint", "--db", db_url, "--json"])
    assert res.exit_code == 0, res.output
    cp = json.loads(res.output)
    assert cp["size"] == 20 and cp["note"].startswith(f"{ORIGIN}\n20\n")
    root = bytes.fromhex(cp["root"])

    res = runner.invoke(app, ["log", "leaves", "--db", db_url, "--start", "2", "--end", "5",
                              "--json"])
    got = json.loads(res.output)
    assert (got["start"], got["end"], len(got["leaves"])) == (2, 5, 3)
    leaf2 = bytes.fromhex(got["leaves"][0])
    assert json.loads(leaf2)["kind"] == "list.entry"

    res = runner.invoke(app, ["log", "prove", "2", "--db", db_url, "--json"])
    p = json.loads(res.output)
    assert (p["leaf_index"], p["tree_size"]) == (2, 20)
    assert p["leaf_hash"] == merkle.leaf_hash(leaf2).hex()
    path = [bytes.fromhex(h) for h in p["path"]]
    assert merkle.verify_inclusion(2, 20, merkle.leaf_hash(leaf2), path, root)

    res = runner.invoke(app, ["log", "prove", "2", "--size", "6", "--db", db_url, "--json"])
    assert json.loads(res.output)["tree_size"] == 6

    res = runner.invoke(app, ["log", "consistency", "6", "20", "--db", db_url, "--json"])
    c = json.loads(res.output)
    assert (c["first"], c["second"]) == (6, 20)
    r6 = TransparencyLog(engine).root(6)
    assert merkle.verify_consistency(6, 20, r6, root, [bytes.fromhex(h) for h in c["path"]])

    res = runner.invoke(app, ["log", "pubkey", "--db", db_url])
    assert res.output == keyfile.read_text()

    for args in (["checkpoint"], ["leaves"], ["prove", "2"], ["consistency", "1", "3"]):
        res = runner.invoke(app, ["log", *args, "--db", db_url])
        assert res.exit_code == 0, res.output


def test_errors_are_clear(log_db: tuple[str, Engine, Path], tmp_path: Path) -> None:
    db_url, _, _ = log_db
    res = runner.invoke(app, ["log", "prove", "20", "--db", db_url, "--json"])
    assert res.exit_code == 1 and "leaf 20 is not in a tree of size 20" in res.output
    res = runner.invoke(app, ["log", "consistency", "9", "3", "--db", db_url])
    assert res.exit_code == 1 and "no consistency proof" in res.output
    res = runner.invoke(app, ["log", "checkpoint", "--db", str(tmp_path / "missing.db")])
    assert res.exit_code == 1 and "no ledger at" in res.output
    res = runner.invoke(app, ["log", "verify", "--export", str(tmp_path / "nothing")])
    assert res.exit_code == 1 and "not a log export" in res.output


@pytest.mark.parametrize("column", ["data", "leaf_hash"])
def test_a_leaf_holding_text_is_named_not_a_crash(tmp_path: Path, column: str) -> None:
    """SQLite keeps what a statement gives it: a leaf's column rewritten as TEXT (issue 14
    item 8) is named, where verify used to die with a TypeError. PostgreSQL's bytea
    columns cannot hold text, so this is a SQLite case."""
    db = str(tmp_path / "text.db")
    with Service.create_empty(db, origin=ORIGIN) as svc:
        engine = svc.ledger.engine
        with engine.begin() as conn:
            log_events(conn, [_entry(commitment_for(conn, f"P-{i}"), i) for i in range(4)])
        _sql(engine, f"UPDATE tlog_leaves SET {column} = CAST({column} AS TEXT) WHERE idx = 2")
        with engine.connect() as conn:
            kind = conn.execute(text(f"SELECT typeof({column}) FROM tlog_leaves "
                                     "WHERE idx = 2")).scalar_one()
        assert kind == "text"
        code, output = _verify(db, None)
        assert code == 2, output
        assert f"leaf 2: its {column} column holds text, not" in output
        assert "Traceback" not in output
        report = verify_log(engine)
        assert report.bad_leaves() == [2]


def test_a_checkpoint_root_holding_text_is_named(tmp_path: Path) -> None:
    db = str(tmp_path / "text.db")
    with Service.create_empty(db, origin=ORIGIN) as svc:
        engine = svc.ledger.engine
        with engine.begin() as conn:
            log_events(conn, [_entry(commitment_for(conn, "P-1"), 1)])
        _sql(engine, "UPDATE tlog_checkpoints SET root = 'forged' WHERE id = 1")
        code, output = _verify(db, None)
        assert code == 2
        assert "checkpoint #1: stored size/root" in output
