"""RFC 6962 / RFC 9162 Merkle trees: hashes, proofs and their verification.

Written by hand, on purpose. This module is the heart of the log's guarantee: a
subject, a journalist or a monitor must be able to check, with a few dozen lines
they can read, that an event is in the log and that the log was only ever
appended to. The Python Merkle libraries on PyPI use other conventions (no
0x00/0x01 domain separation, duplicated odd nodes as in Bitcoin, 1-based
indexes, their own proof encodings), and a mismatch there would silently break
interoperability with the Go verifiers of certificate transparency and
transparency-dev. So we follow RFC 9162 §2.1 literally and test against the
vectors those projects publish.

Conventions (RFC 9162 §2.1.1):
- leaf hash   = SHA-256(0x00 || data)
- node hash   = SHA-256(0x01 || left || right)
- MTH({})     = SHA-256() (the empty string)
- MTH(D[n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n.

Indexes are 0-based. Proofs are lists of 32-byte hashes, ordered from the leaf
(or the smaller tree) upwards, exactly as PATH and SUBPROOF emit them.

Proof *generation* is split in two steps so that a store can serve proofs
without rehashing: `inclusion_ranges` / `consistency_ranges` say which leaf
ranges [start, end) the proof needs the MTH of, and `subtree_blocks` says which
complete aligned subtrees (level, index) make up such a range. A store that
keeps the hash of every complete aligned subtree then answers any proof with
O(log n) reads. The literal recursive definitions (`reference_*`) are kept as
executable documentation and as the oracle for the tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

Range = tuple[int, int]
"""A half-open range [start, end) of leaf indexes."""

Block = tuple[int, int]
"""A complete aligned subtree (level, index): it covers leaves
[index * 2**level, (index + 1) * 2**level)."""


def leaf_hash(data: bytes) -> bytes:
    """SHA-256(0x00 || data): the prefix keeps leaves and nodes apart (RFC 9162 §2.1.1)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2): where MTH splits."""
    if n < 2:
        raise ValueError(f"split_point needs n >= 2, got {n}")
    return 1 << ((n - 1).bit_length() - 1)


# --------------------------------------------------------------------------------------
# Reference definitions: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1, word for word.


def reference_mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, by the recursive definition."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = split_point(n)
    return node_hash(reference_mth(leaf_hashes[:k]), reference_mth(leaf_hashes[k:]))


def reference_path(m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 9162 §2.1.3.1."""
    n = len(leaf_hashes)
    if not 0 <= m < n:
        raise ValueError(f"leaf index {m} outside a tree of size {n}")
    if n == 1:
        return []
    k = split_point(n)
    if m < k:
        return [*reference_path(m, leaf_hashes[:k]), reference_mth(leaf_hashes[k:])]
    return [*reference_path(m - k, leaf_hashes[k:]), reference_mth(leaf_hashes[:k])]


def reference_proof(m: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 9162 §2.1.4.1."""
    n = len(leaf_hashes)
    if not 0 < m <= n:
        raise ValueError(f"consistency proof needs 0 < m <= n, got m={m}, n={n}")
    return _reference_subproof(m, leaf_hashes, True)


def _reference_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [reference_mth(d)]
    k = split_point(n)
    if m <= k:
        return [*_reference_subproof(m, d[:k], b), reference_mth(d[k:])]
    return [*_reference_subproof(m - k, d[k:], False), reference_mth(d[:k])]


# --------------------------------------------------------------------------------------
# The same definitions as ranges, so that a store can answer from stored subtrees.


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The leaf ranges whose MTH form PATH(index, D[size]), in proof order."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} outside a tree of size {size}")
    out: list[Range] = []
    start, end, m = 0, size, index
    # Walk down from the root; PATH emits the deepest sibling first, so prepend.
    while end - start > 1:
        k = split_point(end - start)
        if m < k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m = start + k, m - k
    out.reverse()
    return out


def consistency_ranges(first: int, second: int) -> list[Range]:
    """The leaf ranges whose MTH form PROOF(first, D[second]), in proof order."""
    if not 0 < first <= second:
        raise ValueError(f"consistency proof needs 0 < first <= second, got {first}, {second}")
    out: list[Range] = []
    start, end, m, b = 0, second, first, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            out.append((start + k, end))
            end = start + k
        else:
            out.append((start, start + k))
            start, m, b = start + k, m - k, False
    if not b:
        out.append((start, end))
    out.reverse()
    return out


def subtree_blocks(start: int, end: int) -> list[Block]:
    """Complete aligned subtrees, left to right, whose right fold is MTH(D[start:end]).

    Valid for every range PATH and SUBPROOF ask for: those are nodes of the
    recursive split of D[0:n], whose start is a multiple of the smallest power of
    two >= their length, so MTH splits them at their highest set bit each time.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative range [{start}, {end})")
    blocks: list[Block] = []
    pos, length = start, end - start
    while length:
        level = length.bit_length() - 1
        size = 1 << level
        if pos % size:
            raise ValueError(f"range [{start}, {end}) is not a subtree of the log")
        blocks.append((level, pos >> level))
        pos += size
        length -= size
    return blocks


def fold_blocks(hashes: Sequence[bytes]) -> bytes:
    """Right fold of the block hashes: node(b1, node(b2, ... node(bk-1, bk)))."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def root_blocks(size: int) -> list[Block]:
    """The blocks whose fold is the root of a tree of `size` leaves."""
    return subtree_blocks(0, size) if size else []


SubtreeHash = Callable[[int, int], bytes]
"""MTH of a leaf range [start, end), supplied by whoever holds the tree."""


def inclusion_proof(index: int, size: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """PATH(index, D[size]) from any source of subtree hashes."""
    return [subtree_hash(s, e) for s, e in inclusion_ranges(index, size)]


def consistency_proof(first: int, second: int, subtree_hash: SubtreeHash) -> list[bytes]:
    """PROOF(first, D[second]) from any source of subtree hashes; [] when first == 0."""
    if first == 0:
        return []
    return [subtree_hash(s, e) for s, e in consistency_ranges(first, second)]


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, level by level (a batch's root in one call).

    Pairing neighbours and carrying an odd last node up unchanged gives the same tree
    as the recursive definition (`reference_mth`), without its recursion; tested equal.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    sha = hashlib.sha256
    level = list(leaf_hashes)
    while len(level) > 1:
        odd = level[-1] if len(level) & 1 else None
        # neighbours paired by one iterator zipped with itself (no indexing: a batch's
        # root is computed on every ingest); an odd last node is left over, carried up
        pairs = iter(level)
        level = [sha(b"\x01" + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        if odd is not None:
            level.append(odd)
    return level[0]


class CompactRange:
    """The right edge of a growing tree: one hash per set bit of its size.

    Lets a verifier stream millions of leaves and read the root at any size it
    passes (e.g. at every checkpoint) in O(log n) memory.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []  # complete subtrees, largest first

    def append(self, leaf: bytes) -> None:
        """Add one leaf *hash*."""
        h = leaf
        n = self.size
        while n & 1:  # merge with the equal-sized complete subtree on the left
            h = node_hash(self._stack.pop(), h)
            n >>= 1
        self._stack.append(h)
        self.size += 1

    def root(self) -> bytes:
        return fold_blocks(self._stack)


# --------------------------------------------------------------------------------------
# Verification: RFC 9162 §2.1.3.2 and §2.1.4.2.


def _is_hash(h: object) -> bool:
    return isinstance(h, bytes) and len(h) == HASH_SIZE


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """The root that `proof` implies for leaf hash `leaf` at `index`, or None if malformed."""
    if not 0 <= index < size or not _is_hash(leaf) or not all(_is_hash(p) for p in proof):
        return None
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        return None
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff `proof` shows leaf hash `leaf` at `index` in the tree of `size` with `root`."""
    got = root_from_inclusion_proof(index, size, leaf, proof)
    return got is not None and _is_hash(root) and got == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True iff `proof` shows the tree (first, first_root) is a prefix of (second, second_root).

    Edge cases as in the RFC and transparency-dev: equal sizes need an empty
    proof and equal roots; an empty first tree is a prefix of anything (empty
    proof); a shrinking log never verifies.
    """
    if not _is_hash(first_root) or not _is_hash(second_root):
        return False
    if not all(_is_hash(p) for p in proof):
        return False
    if first < 0 or second < first:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # first is an exact power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root
