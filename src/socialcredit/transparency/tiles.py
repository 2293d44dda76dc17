"""The log as C2SP tlog-tiles: Merkle tree tiles and entry bundles, from the stored log.

Why tiles: a monitor or a subject checking the log should not need this project's proof
endpoints (dynamic, one answer per question). With tiles (c2sp.org/tlog-tiles) the log is
a finite set of immutable resources — 256 consecutive Merkle tree hashes at one height
each — from which a client computes any inclusion or consistency proof itself, and which
caches and mirrors serve like static files. The Go tools of the transparency ecosystem
read this layout, with the checkpoints the log already signs (checkpoint.py).

The layout (all hashes RFC 9162, SHA-256):

- `tile/<L>/<N>`: the `N`-th tile at level `L`, the 256 hashes
  MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L]) for i in 0..255, concatenated
  (8,192 bytes); at level 0 the leaf hashes.
- `tile/<L>/<N>.p/<W>`: a partial tile, its first W (1..255) hashes: the rightmost tile
  of a tree whose size is not a multiple of 256**(L+1) has floor(size / 256**L) mod 256.
- `tile/entries/<N>[.p/<W>]`: the leaves themselves, each as a big-endian uint16 length
  then the leaf's bytes; entry i hashes (0x00 prefix) to hash i of tile `0/<N>`.
- `<N>` in 3-digit groups, all but the last prefixed `x`: 1234067 is `x001/x234/067`.

The store keeps the hash of every complete aligned subtree (store.py), and the hashes of
a tile at level L are exactly the subtrees of height 8L, so a tile is one indexed read.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from sqlalchemy import Connection

from socialcredit.transparency.errors import TransparencyError
from socialcredit.transparency.store import TransparencyLog

#: Tree levels per tile and hashes per full tile.
TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: The highest tile level the layout allows.
MAX_LEVEL = 63
#: The longest leaf an entry bundle can carry (its length is a uint16).
MAX_ENTRY = 0xFFFF

_LEVEL = re.compile(r"0|[1-9][0-9]?")
_WIDTH = re.compile(r"[1-9][0-9]{0,2}")


class TileNotFound(TransparencyError):
    """A tile path that names nothing: malformed, or beyond the log as it stands."""

    code = "not_found"


@dataclass(frozen=True)
class Tile:
    """A tile's coordinates: level (None for an entry bundle), index, width (256: full)."""

    level: int | None
    index: int
    width: int = TILE_WIDTH

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """`tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`."""
        head = "entries" if self.level is None else str(self.level)
        tail = "" if self.full else f".p/{self.width}"
        return f"tile/{head}/{encode_index(self.index)}{tail}"

    def leaves_needed(self) -> int:
        """The smallest tree size whose tiles include this one (at this width)."""
        return (self.index * TILE_WIDTH + self.width) << (TILE_HEIGHT * (self.level or 0))


def encode_index(n: int) -> str:
    """A tile index as zero-padded 3-digit path elements: 1234067 -> `x001/x234/067`."""
    if n < 0:
        raise ValueError(f"a tile index is not negative: {n}")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> Tile:
    """The tile a path names, `tile/` and any leading slash optional: `<L>/<N>[.p/<W>]`
    or `entries/<N>[.p/<W>]`. Only the canonical spelling is accepted (no leading zeros,
    no empty `x000` groups), so each tile has one URL and caches never hold two copies."""
    p = path.lstrip("/")
    p = p.removeprefix("tile/")
    head, _, rest = p.partition("/")
    level: int | None
    if head == "entries":
        level = None
    elif _LEVEL.fullmatch(head) and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise TileNotFound(f"not a tile level: {head!r} (0 to {MAX_LEVEL}, or entries)")
    width = TILE_WIDTH
    index_part, dot, w = rest.partition(".p/")
    if dot:
        if not _WIDTH.fullmatch(w) or int(w) >= TILE_WIDTH:
            raise TileNotFound(f"not a partial tile width: {w!r} (1 to {TILE_WIDTH - 1})")
        width = int(w)
    groups = index_part.split("/")
    if not all(re.fullmatch(r"x[0-9]{3}", g) for g in groups[:-1]) or \
            not re.fullmatch(r"[0-9]{3}", groups[-1]):
        raise TileNotFound(f"not a tile index: {index_part!r} (e.g. x001/x234/067)")
    index = int("".join(g.lstrip("x") for g in groups))
    if encode_index(index) != index_part:
        raise TileNotFound(f"not the canonical spelling of tile index {index}: "
                           f"{index_part!r} (it is {encode_index(index)!r})")
    return Tile(level, index, width)


def tile_hashes(log: TransparencyLog, tile: Tile, *, conn: Connection | None = None) -> bytes:
    """A Merkle tree tile: its `width` hashes concatenated (32 bytes each)."""
    if tile.level is None:
        raise ValueError("an entry bundle is not a hash tile")
    _check_exists(log, tile, conn)
    height = TILE_HEIGHT * tile.level
    first = tile.index * TILE_WIDTH
    return b"".join(log.subtree_hashes(
        [(height, first + i) for i in range(tile.width)], conn=conn))


def entry_bundle(log: TransparencyLog, tile: Tile, *, conn: Connection | None = None) -> bytes:
    """An entry bundle: each leaf of the tile's range as a big-endian uint16 length and
    its bytes."""
    if tile.level is not None:
        raise ValueError("a hash tile is not an entry bundle")
    _check_exists(log, tile, conn)
    first = tile.index * TILE_WIDTH
    out = bytearray()
    for index, data, _ in log.iter_leaves(first, first + tile.width, conn=conn):
        if len(data) > MAX_ENTRY:
            raise TransparencyError(f"leaf {index} has {len(data)} bytes; an entry bundle "
                                    f"carries at most {MAX_ENTRY}")
        out += struct.pack(">H", len(data)) + data
    return bytes(out)


def _check_exists(log: TransparencyLog, tile: Tile, conn: Connection | None) -> None:
    size = log.size(conn=conn)
    if tile.leaves_needed() > size:
        raise TileNotFound(f"{tile.path()} does not exist yet: the log has {size} leaves")


__all__ = ["MAX_LEVEL", "TILE_HEIGHT", "TILE_WIDTH", "Tile", "TileNotFound", "encode_index",
           "entry_bundle", "parse_tile_path", "tile_hashes"]
