"""The log's HTTP face in the C2SP tlog-tiles layout, checked against the spec by a client
that knows only the spec: it reads the signed checkpoint, recomputes the tree root from
tiles, rebuilds inclusion proofs from tiles and checks entry bundles against level-0
tiles — for tree sizes around tile boundaries, powers of two and not.

The spec (c2sp.org/tlog-tiles): tile `<L>/<N>` holds the 256 hashes
MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L]); the rightmost tile of a tree of
size s at level L is partial, with floor(s / 256**L) mod 256 hashes, at `<N>.p/<W>`;
`<N>` is written in 3-digit groups, all but the last prefixed `x`.
"""

from __future__ import annotations

import hashlib
import struct

import pytest
from fastapi.testclient import TestClient

from socialcredit.transparency.checkpoint import (
    Verifier,
    checkpoint,
    verify_checkpoint_note,
)
from socialcredit.transparency.merkle import verify_inclusion
from socialcredit.transparency.store import TransparencyLog
from socialcredit.transparency.tiles import Tile, TileNotFound, encode_index, parse_tile_path
from tests.api.conftest import World

PREFIX = "/api/v1/log/"


def sha(b: bytes) -> bytes:
    return hashlib.sha256(b).digest()


def node(left: bytes, right: bytes) -> bytes:
    return sha(b"\x01" + left + right)


def split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class TileClient:
    """A tlog-tiles client for one signed tree size, from the spec alone."""

    def __init__(self, http: TestClient, size: int) -> None:
        self.http, self.size = http, size
        self.tiles: dict[tuple[int, int], list[bytes]] = {}
        self.fetched: set[str] = set()

    def path(self, level: int | str, n: int, width: int) -> str:
        # the spec's example, written out: 1234067 -> x001/x234/067
        groups = []
        while True:
            groups.append(f"{n % 1000:03d}")
            n //= 1000
            if not n:
                break
        index = "/".join(["x" + g for g in reversed(groups[1:])] + [groups[0]])
        return f"tile/{level}/{index}" + ("" if width == 256 else f".p/{width}")

    def width(self, level: int, n: int) -> int:
        hashes_at_level = self.size // 256**level
        return 256 if n < hashes_at_level // 256 else hashes_at_level % 256

    def tile(self, level: int, n: int) -> list[bytes]:
        if (level, n) not in self.tiles:
            w = self.width(level, n)
            assert w > 0, "a client never asks for an empty tile"
            path = self.path(level, n, w)
            r = self.http.get(PREFIX + path)
            assert r.status_code == 200, (path, r.text)
            assert r.headers["content-type"] == "application/octet-stream"
            assert "immutable" in r.headers["cache-control"]
            assert len(r.content) == 32 * w
            self.fetched.add(path)
            self.tiles[level, n] = [r.content[i:i + 32] for i in range(0, 32 * w, 32)]
        return self.tiles[level, n]

    def hash_at(self, level: int, i: int) -> bytes:
        """MTH(D[i * 256**level : (i + 1) * 256**level])."""
        return self.tile(level, i // 256)[i % 256]

    def subtree(self, start: int, length: int) -> bytes:
        """MTH of a complete aligned subtree of `length` (a power of two) leaves: from the
        tile level at or below its height, hashing the levels in between."""
        height = length.bit_length() - 1
        level, rest = divmod(height, 8)
        first = (start >> (8 * level))
        layer = [self.hash_at(level, first + j) for j in range(1 << rest)]
        while len(layer) > 1:
            layer = [node(layer[j], layer[j + 1]) for j in range(0, len(layer), 2)]
        return layer[0]

    def mth(self, a: int, b: int) -> bytes:
        """MTH(D[a:b]) (RFC 9162 §2.1.1) for the ranges PATH asks for."""
        n = b - a
        if n & (n - 1) == 0 and a % n == 0:
            return self.subtree(a, n)
        k = split(n)
        return node(self.mth(a, a + k), self.mth(a + k, b))

    def root(self) -> bytes:
        return self.mth(0, self.size)

    def inclusion_proof(self, m: int, a: int = 0, b: int | None = None) -> list[bytes]:
        """PATH(m, D[a:b]) (RFC 9162 §2.1.3.1), every hash from tiles."""
        b = self.size if b is None else b
        n = b - a
        if n == 1:
            return []
        k = split(n)
        if m < k:
            return [*self.inclusion_proof(m, a, a + k), self.mth(a + k, b)]
        return [*self.inclusion_proof(m - k, a + k, b), self.mth(a, a + k)]

    def entries(self, n: int) -> list[bytes]:
        w = self.width(0, n)
        path = self.path("entries", n, w)
        r = self.http.get(PREFIX + path, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, (path, r.text)
        assert r.headers.get("content-encoding") == "gzip"  # httpx decoded it for us
        out, pos, data = [], 0, r.content
        while pos < len(data):
            (length,) = struct.unpack(">H", data[pos:pos + 2])
            out.append(data[pos + 2:pos + 2 + length])
            pos += 2 + length
        assert pos == len(data) and len(out) == w
        return out


def grow(world: World, to: int) -> None:
    """Append raw leaves until the log has `to`, then sign a checkpoint."""
    engine = world.svc.ledger.engine
    log = TransparencyLog(engine)
    with engine.begin() as conn:
        have = log.size(conn=conn)
        # varied lengths, one longer than 255 bytes (its uint16 length has two bytes)
        data = [(f"leaf {i} " * (1 + i % 7 if i % 1000 else 40)).encode()
                for i in range(have, to)]
        log.append(conn, data)
        checkpoint(conn)


def signed_head(world: World, verifier: Verifier) -> tuple[int, bytes]:
    r = world.client.get(PREFIX + "checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "max-age=2" in r.headers["cache-control"]
    _, size, root = verify_checkpoint_note(r.text, verifier)
    return size, root


def test_tile_paths_are_the_specs() -> None:
    assert encode_index(1234067) == "x001/x234/067"
    assert [encode_index(n) for n in (0, 7, 999, 1000, 256_000)] == \
        ["000", "007", "999", "x001/000", "x256/000"]
    assert parse_tile_path("tile/0/x001/x234/067") == Tile(0, 1234067)
    assert parse_tile_path("1/005.p/17") == Tile(1, 5, 17)
    assert parse_tile_path("entries/x001/000.p/255") == Tile(None, 1000, 255)
    assert Tile(2, 3, 9).path() == "tile/2/003.p/9"
    for bad in ("00/000", "64/000", "0/1", "0/0001", "0/x000/001", "0/000.p/0",
                "0/000.p/256", "0/000.p/010", "0/x1/000", "0/000/", "x/000", "0/000.p/"):
        with pytest.raises(TileNotFound):
            parse_tile_path(bad)


def test_tiles_recompute_the_signed_root_and_inclusion_proofs(world: World) -> None:
    c = world.client
    verifier = Verifier.parse(c.get(PREFIX + "pubkey").text)
    start = TransparencyLog(world.svc.ledger.engine).size()
    assert start < 255
    sizes = [start + 1, 255, 256, 257, 513, 1000, 65_536, 70_000]
    for target in sizes:
        grow(world, target)
        size, root = signed_head(world, verifier)
        assert size == target
        tiles = TileClient(c, size)
        assert tiles.root() == root, f"the root from tiles at size {size}"
        for m in sorted({0, 1, size // 2, size - 256, size - 2, size - 1} & set(range(size))):
            proof = tiles.inclusion_proof(m)
            leaf = tiles.hash_at(0, m)
            assert verify_inclusion(m, size, leaf, proof, root), (size, m)
            served = c.get(f"{PREFIX}proof/{m}", params={"size": size}).json()
            assert served["path"] == [h.hex() for h in proof]
        # each entry hashes to its level-0 tile hash (a full bundle and the partial one)
        for n in sorted({0, (size - 1) // 256}):
            assert [sha(b"\x00" + e) for e in tiles.entries(n)] == tiles.tile(0, n)
    # the spec's own example: a tree of 70,000 leaves has 273 full level-0 tiles, a partial
    # one of width 112, one full level-1 tile, a partial one of width 17 and a partial
    # level-2 tile of width 1
    assert {"tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1", "tile/1/000"} \
        <= tiles.fetched
    # a level-1 hash is the MTH of the full level-0 tile below it
    level0 = tiles.tile(0, 7)
    while len(level0) > 1:
        level0 = [node(level0[j], level0[j + 1]) for j in range(0, len(level0), 2)]
    assert tiles.hash_at(1, 7) == level0[0]


def test_tiles_that_do_not_exist_yet_and_malformed_paths_are_404(world: World) -> None:
    grow(world, 300)
    c = world.client
    full = c.get(PREFIX + "tile/0/000")
    assert full.status_code == 200 and len(full.content) == 8192
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert c.get(PREFIX + "tile/0/001.p/44").status_code == 200
    # a partial tile at a width the log has passed is the prefix of the full one
    assert c.get(PREFIX + "tile/0/000.p/10").content == full.content[:320]
    for missing in ("tile/0/001", "tile/0/001.p/45", "tile/1/000", "tile/0/002.p/1",
                    "tile/entries/001", "tile/1/000.p/2", "tile/0/x001/000",
                    "tile/00/000", "tile/0/0", "tile/64/000", "tile/0/000.p/256",
                    "tile/banana/000"):
        r = c.get(PREFIX + missing)
        assert r.status_code == 404, (missing, r.text)
        assert r.json()["code"] == "not_found"
        assert "immutable" not in r.headers.get("cache-control", "")
    # no token needed, and no personal data: leaves are the log's public events
    assert c.get(PREFIX + "tile/1/000.p/1").status_code == 200
