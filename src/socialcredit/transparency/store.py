"""The log in the database: leaves plus the hash of every complete aligned subtree.

Why store subtrees: a proof for a log of 10 million leaves needs about 24 MTH
values of leaf ranges. Each such range is the fold of at most ~24 complete aligned
subtrees (the tlog-tiles insight, RFC 9162 §2.1 ranges), so with every complete
subtree stored, an inclusion or consistency proof is one indexed read of O(log n)
rows and some hashing of at most a few dozen nodes: no rehashing of leaves, ever.
Appending n leaves writes n leaf rows and ~n node rows; a batch only needs the
right edge of the old tree (one hash per set bit of the old size).

Writes run in the caller's Connection and transaction, so the ledger logs an event
in the same transaction as the record that causes it: both commit or neither does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, bindparam, select, update

from socialcredit.transparency import merkle
from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.schema import create_tables, leaves, node_pos, nodes, state

__all__ = ["TransparencyLog", "create_tables"]

Bind = Engine | Connection


@contextmanager
def connect(bind: Bind) -> Iterator[Connection]:
    """Use a Connection as is, or open one on an Engine for the duration."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def lock_size(conn: Connection, grow_by: int = 0) -> int:
    """Take the log's write lock and return the size before growing it by `grow_by`.

    `UPDATE ... RETURNING` locks the state row on PostgreSQL (concurrent appenders
    queue behind it) and takes SQLite's write lock at once, so two appenders never
    both read the same size and race for the same leaf indexes.
    """
    row = conn.execute(_LOCK_SIZE, {"grow_by": grow_by}).first()
    if row is None:
        raise TransparencyError(
            "no transparency log in this database (tlog_state is empty)", code="log.missing"
        )
    return int(row[0]) - grow_by


class TransparencyLog:
    """An append-only RFC 9162 Merkle log stored through SQLAlchemy Core.

    `bind` (an Engine or a Connection) serves reads; every method also takes
    `conn=` to read inside a transaction the caller holds (e.g. right after an
    append that is not committed yet). Appends always take the caller's Connection.
    """

    def __init__(self, bind: Bind) -> None:
        self.bind = bind

    # ----------------------------------------------------------------- writing

    def append(self, conn: Connection, data: Sequence[bytes]) -> list[int]:
        """Append leaves in the caller's transaction; return their indexes.

        Locks the log for the rest of the transaction (see `lock_size`), so keep
        transactions that append short.
        """
        if not data:
            return []
        for i, d in enumerate(data):
            if not isinstance(d, bytes):
                raise TypeError(f"leaf {i} is {type(d).__name__}, not bytes")
        b = len(data)
        n = lock_size(conn, b)
        hashes = [merkle.leaf_hash(d) for d in data]
        insert_rows(conn, leaves, [(n + i, d, hashes[i]) for i, d in enumerate(data)])
        frontier = self._frontier(conn, n)
        cur, cur_start, level = hashes, n, 0
        rows: list[tuple[int, int, int, bytes]] = []
        while True:
            if cur_start & 1:  # the left sibling of our first node is an old one
                seq, seq_start = [frontier[level], *cur], cur_start - 1
            else:
                seq, seq_start = cur, cur_start
            parents = [merkle.node_hash(seq[j], seq[j + 1]) for j in range(0, len(seq) - 1, 2)]
            if not parents:
                break
            level += 1
            cur_start = seq_start >> 1
            rows.extend(
                (node_pos(level, cur_start + j), level, cur_start + j, h)
                for j, h in enumerate(parents)
            )
            cur = parents
        if rows:
            rows.sort()  # ascending pos: every insert lands at the end of the index
            insert_rows(conn, nodes, rows)
        return list(range(n, n + b))

    def _frontier(self, conn: Connection, n: int) -> dict[int, bytes]:
        """level -> hash of the complete subtree ending at leaf n-1, for each set bit of n."""
        want = [(lvl, (n >> lvl) - 1) for lvl in range(n.bit_length()) if (n >> lvl) & 1]
        got = self._fetch(conn, want)
        return {lvl: got[(lvl, i)] for lvl, i in want}

    # ----------------------------------------------------------------- reading

    def size(self, *, conn: Connection | None = None) -> int:
        """Number of leaves (committed, or as the given transaction sees them)."""
        with connect(conn or self.bind) as c:
            v = c.execute(_SELECT_SIZE).scalar()
        if v is None:
            raise TransparencyError("no transparency log in this database", code="log.missing")
        return int(v)

    def root(self, size: int | None = None, *, conn: Connection | None = None) -> bytes:
        """MTH of the first `size` leaves (default: all of them)."""
        with connect(conn or self.bind) as c:
            size = self._check_size(c, size)
            blocks = merkle.root_blocks(size)
            got = self._fetch(c, blocks)
        return merkle.fold_blocks([got[b] for b in blocks])

    def inclusion_proof(
        self, index: int, size: int | None = None, *, conn: Connection | None = None
    ) -> list[bytes]:
        """PATH(index, D[size]) (RFC 9162 §2.1.3.1) from stored subtrees."""
        with connect(conn or self.bind) as c:
            size = self._check_size(c, size)
            if not 0 <= index < size:
                raise TransparencyError(f"leaf {index} is not in a tree of size {size}")
            return self._proof(c, merkle.inclusion_ranges(index, size))

    def consistency_proof(
        self, first: int, second: int | None = None, *, conn: Connection | None = None
    ) -> list[bytes]:
        """PROOF(first, D[second]) (RFC 9162 §2.1.4.1); [] when first is 0 or equal."""
        with connect(conn or self.bind) as c:
            second = self._check_size(c, second)
            if not 0 <= first <= second:
                raise TransparencyError(f"no consistency proof from size {first} to size {second}")
            if first == 0:
                return []
            return self._proof(c, merkle.consistency_ranges(first, second))

    def leaf_hash(self, index: int, *, conn: Connection | None = None) -> bytes:
        with connect(conn or self.bind) as c:
            h = c.execute(select(leaves.c.leaf_hash).where(leaves.c.idx == index)).scalar()
        if h is None:
            raise TransparencyError(f"leaf {index} is not in the log")
        return bytes(h)

    def subtree_hashes(
        self, blocks: Sequence[merkle.Block], *, conn: Connection | None = None
    ) -> list[bytes]:
        """The stored hashes of complete aligned subtrees (level, index), in order (the
        rows of a tlog tile: see tiles.py)."""
        with connect(conn or self.bind) as c:
            got = self._fetch(c, blocks)
        return [got[b] for b in blocks]

    def leaves(
        self, start: int = 0, end: int | None = None, *, conn: Connection | None = None
    ) -> list[bytes]:
        """The data of leaves [start, end)."""
        return [d for _, d, _ in self.iter_leaves(start, end, conn=conn)]

    def iter_leaves(
        self,
        start: int = 0,
        end: int | None = None,
        *,
        conn: Connection | None = None,
        chunk: int = 10_000,
    ) -> Iterator[tuple[int, bytes, bytes]]:
        """(index, data, stored leaf hash) for [start, end), in index order, in chunks.

        Rows are yielded as stored: a missing or duplicated index is for the caller
        (the verifier) to notice.
        """
        with connect(conn or self.bind) as c:
            end = self._check_size(c, end)
            if start < 0 or start > end:
                raise TransparencyError(f"bad leaf range [{start}, {end})")
            pos = start
            while pos < end:
                rows = c.execute(
                    select(leaves.c.idx, leaves.c.data, leaves.c.leaf_hash)
                    .where(and_(leaves.c.idx >= pos, leaves.c.idx < end))
                    .order_by(leaves.c.idx)
                    .limit(chunk)
                ).all()
                if not rows:
                    return
                for r in rows:
                    yield int(r[0]), bytes(r[1]), bytes(r[2])
                pos = int(rows[-1][0]) + 1

    # ----------------------------------------------------------------- internals

    def _check_size(self, conn: Connection, size: int | None) -> int:
        current = self.size(conn=conn)
        if size is None:
            return current
        if not 0 <= size <= current:
            raise TransparencyError(f"tree size {size} is outside the log (size {current})")
        return size

    def _proof(self, conn: Connection, ranges: list[merkle.Range]) -> list[bytes]:
        per_range = [merkle.subtree_blocks(s, e) for s, e in ranges]
        got = self._fetch(conn, [b for bl in per_range for b in bl])
        return [merkle.fold_blocks([got[b] for b in bl]) for bl in per_range]

    @staticmethod
    def _fetch(conn: Connection, blocks: Sequence[merkle.Block]) -> dict[merkle.Block, bytes]:
        """Stored hashes of complete aligned subtrees, in at most two indexed reads."""
        out: dict[merkle.Block, bytes] = {}
        leaf_ids = sorted({i for lvl, i in blocks if lvl == 0})
        by_pos = {node_pos(lvl, i): (lvl, i) for lvl, i in blocks if lvl > 0}
        if leaf_ids:
            for idx, h in conn.execute(_SELECT_LEAF_HASHES, {"ids": leaf_ids}):
                out[(0, int(idx))] = bytes(h)
        if by_pos:
            for pos, h in conn.execute(_SELECT_NODES, {"pos": sorted(by_pos)}):
                out[by_pos[int(pos)]] = bytes(h)
        missing = [b for b in blocks if b not in out]
        if missing:
            lvl, i = missing[0]
            what = f"leaf {i}" if lvl == 0 else f"subtree (level {lvl}, index {i})"
            raise TransparencyError(
                f"{what} is missing from the stored log: verify the log to see what else is"
            )
        return out


# Built once: SQLAlchemy then reuses the compiled form, which keeps a proof's two
# reads at a few tens of microseconds of Python on top of the database's own work.
# (statements built once are also compiled once: an ingest appends and signs per batch)
_LOCK_SIZE = (update(state).where(state.c.id == 1)
              .values(size=state.c.size + bindparam("grow_by", type_=state.c.size.type))
              .returning(state.c.size))
_SELECT_SIZE = select(state.c.size).where(state.c.id == 1)
_SELECT_LEAF_HASHES = select(leaves.c.idx, leaves.c.leaf_hash).where(
    leaves.c.idx.in_(bindparam("ids", expanding=True))
)
_SELECT_NODES = select(nodes.c.pos, nodes.c.hash).where(
    nodes.c.pos.in_(bindparam("pos", expanding=True))
)
_INSERT_SQL: dict[tuple[str, str], str] = {}


def insert_rows(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert of full rows (tuples in column order), in the caller's transaction.

    The rows are only ints and bytes, which both drivers bind natively, so we skip
    SQLAlchemy's per-value bind processing (a third of the append time otherwise):
    on SQLite the tuples go straight to the driver's executemany; on PostgreSQL
    with psycopg they are streamed with COPY, several times faster than INSERTs.
    Other drivers get a plain Core insert.
    """
    if not rows:
        return
    cols = ", ".join(c.name for c in table.columns)
    if conn.dialect.name == "sqlite":
        key = (conn.dialect.name, table.name)
        sql = _INSERT_SQL.get(key)
        if sql is None:
            marks = ", ".join("?" for _ in table.columns)
            sql = _INSERT_SQL[key] = f"INSERT INTO {table.name} ({cols}) VALUES ({marks})"
        conn.exec_driver_sql(sql, rows)
    elif conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({cols}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(r)
    else:
        names = [c.name for c in table.columns]
        conn.execute(table.insert(), [dict(zip(names, r, strict=True)) for r in rows])
