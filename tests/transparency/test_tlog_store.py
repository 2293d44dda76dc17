"""The stored log answers exactly what the RFC definitions say, on SQLite and PostgreSQL."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from socialcredit.db import make_engine
from socialcredit.transparency import merkle
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.schema import create_tables, node_pos
from socialcredit.transparency.store import TransparencyLog


def _check_against_reference(log: TransparencyLog, hashes: list[bytes], rng: random.Random) -> None:
    n = len(hashes)
    assert log.size() == n
    for size in range(n + 1):
        assert log.root(size) == merkle.reference_mth(hashes[:size])
    for _ in range(40):
        size = rng.randint(1, n)
        i = rng.randrange(size)
        assert log.inclusion_proof(i, size) == merkle.reference_path(i, hashes[:size])
        m = rng.randint(1, size)
        assert log.consistency_proof(m, size) == merkle.reference_proof(m, hashes[:size])
    assert log.consistency_proof(0, n) == []


def test_batched_appends_match_the_reference(engine: Engine) -> None:
    create_tables(engine)
    log = TransparencyLog(engine)
    rng = random.Random(7)
    data: list[bytes] = []
    for batch in [1, 1, 2, 3, 5, 8, 13, 1, 64, 7, 31, 1]:
        new = [rng.randbytes(rng.randint(0, 40)) for _ in range(batch)]
        with engine.begin() as conn:
            got = log.append(conn, new)
        assert got == list(range(len(data), len(data) + batch))
        data.extend(new)
    assert log.leaves() == data
    assert log.leaves(5, 9) == data[5:9]
    _check_against_reference(log, [merkle.leaf_hash(d) for d in data], rng)


def test_reads_inside_the_appending_transaction(engine: Engine) -> None:
    create_tables(engine)
    log = TransparencyLog(engine)
    with engine.begin() as conn:
        log.append(conn, [b"a", b"b"])
        assert log.size(conn=conn) == 2
        assert log.root(conn=conn) == merkle.reference_mth(
            [merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")]
        )
        conn.rollback()
    assert log.size() == 0


def test_errors(engine: Engine) -> None:
    create_tables(engine)
    log = TransparencyLog(engine)
    with engine.begin() as conn:
        log.append(conn, [b"a", b"b", b"c"])
        with pytest.raises(TypeError):
            log.append(conn, ["text"])  # type: ignore[list-item]
    with pytest.raises(TransparencyError):
        log.inclusion_proof(3, 3)
    with pytest.raises(TransparencyError):
        log.root(4)
    with pytest.raises(TransparencyError):
        log.consistency_proof(3, 2)
    assert log.root(0) == merkle.EMPTY_ROOT


def test_node_positions_are_the_append_order() -> None:
    # replay appends and list the subtrees each leaf completes: positions must be
    # strictly increasing and skip exactly the level-0 slots
    seen: list[int] = []
    for j in range(300):
        level, k = 0, j + 1
        seen.append(node_pos(0, j))
        while not k & 1:
            level += 1
            k >>= 1
            seen.append(node_pos(level, ((j + 1) >> level) - 1))
    assert seen == list(range(len(seen)))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_any_batching_gives_the_same_tree(batches: list[int], rng: random.Random) -> None:
    engine = make_engine("sqlite://")
    create_tables(engine)
    log = TransparencyLog(engine)
    data = [rng.randbytes(8) for _ in range(sum(batches))]
    pos = 0
    for b in batches:
        with engine.begin() as conn:
            log.append(conn, data[pos : pos + b])
        pos += b
    _check_against_reference(log, [merkle.leaf_hash(d) for d in data], rng)
    engine.dispose()
