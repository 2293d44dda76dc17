"""RFC 6962 / 9162 Merkle hashing and proofs against published vectors and by property."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcredit.transparency import merkle

# The leaves and roots of the RFC 6962 test tree used by certificate-transparency-go
# and transparency-dev/merkle (testonly/constants.go, proof/verify_test.go).
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [  # by tree size 0..8
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index, tree size, proof) — 0-based indexes.
INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (0, 1, []),
]  # fmt: skip
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
    (6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
]  # fmt: skip

HASHES = [merkle.leaf_hash(d) for d in LEAVES]


def _from_list(hashes: list[bytes]) -> merkle.SubtreeHash:
    return lambda s, e: merkle.reference_mth(hashes[s:e])


def test_hash_primitives() -> None:
    assert merkle.EMPTY_ROOT.hex() == ROOTS[0]
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert (
        merkle.node_hash(b"a" * 32, b"b" * 32)
        == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    )
    assert [merkle.split_point(n) for n in (2, 3, 4, 5, 8, 9)] == [1, 2, 2, 4, 4, 8]


@pytest.mark.parametrize("size", range(9))
def test_roots_match_published_vectors(size: int) -> None:
    assert merkle.reference_mth(HASHES[:size]).hex() == ROOTS[size]
    blocks = merkle.root_blocks(size)
    by_block = {
        (lvl, i): merkle.reference_mth(HASHES[i << lvl : (i + 1) << lvl]) for lvl, i in blocks
    }
    assert merkle.fold_blocks([by_block[b] for b in blocks]).hex() == ROOTS[size]
    cr = merkle.CompactRange()
    for h in HASHES[:size]:
        cr.append(h)
    assert cr.root().hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), INCLUSION)
def test_inclusion_vectors(index: int, size: int, proof: list[str]) -> None:
    want = [bytes.fromhex(p) for p in proof]
    assert merkle.reference_path(index, HASHES[:size]) == want
    assert merkle.inclusion_proof(index, size, _from_list(HASHES)) == want
    root = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(index, size, HASHES[index], want, root)
    # the corruptions transparency-dev checks
    assert not merkle.verify_inclusion(index, size * 2, HASHES[index], want, root)
    if size // 2 > index:
        assert not merkle.verify_inclusion(index, size // 2, HASHES[index], want, root)
    assert not merkle.verify_inclusion(index + 1, size, HASHES[index], want, root)
    assert not merkle.verify_inclusion(index, size, merkle.leaf_hash(b"wrong"), want, root)
    assert not merkle.verify_inclusion(index, size, HASHES[index], want, merkle.EMPTY_ROOT)
    assert not merkle.verify_inclusion(index, size, HASHES[index], [*want, root], root)
    assert not merkle.verify_inclusion(index, size, HASHES[index], [root, *want], root)


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_vectors(first: int, second: int, proof: list[str]) -> None:
    want = [bytes.fromhex(p) for p in proof]
    assert merkle.reference_proof(first, HASHES[:second]) == want
    assert merkle.consistency_proof(first, second, _from_list(HASHES)) == want
    r1, r2 = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert merkle.verify_consistency(first, second, r1, r2, want)
    if want:
        assert not merkle.verify_consistency(first, second, r2, r1, want)
        assert not merkle.verify_consistency(first, second, r1, r2, want[:-1])
        assert not merkle.verify_consistency(first, second, r1, r2, [*want, r1])
        assert not merkle.verify_consistency(first, second * 2, r1, r2, want)


def test_consistency_edge_cases() -> None:
    r = bytes.fromhex(ROOTS[3])
    assert merkle.verify_consistency(0, 0, merkle.EMPTY_ROOT, merkle.EMPTY_ROOT, [])
    assert merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, r, [])
    assert not merkle.verify_consistency(0, 3, merkle.EMPTY_ROOT, r, [r])
    assert merkle.verify_consistency(3, 3, r, r, [])
    assert not merkle.verify_consistency(3, 3, r, merkle.EMPTY_ROOT, [])
    assert not merkle.verify_consistency(3, 3, r, r, [r])
    assert not merkle.verify_consistency(4, 3, r, r, [])  # a log never shrinks
    assert not merkle.verify_consistency(1, 2, r, r, [])  # empty proof
    assert not merkle.verify_inclusion(0, 0, HASHES[0], [], merkle.EMPTY_ROOT)
    assert not merkle.verify_inclusion(0, 1, b"short", [], b"short")


def test_subtree_blocks_refuse_unaligned_ranges() -> None:
    assert merkle.subtree_blocks(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError):
        merkle.subtree_blocks(3, 7)


# ------------------------------------------------------------------------- properties

trees = st.lists(st.binary(max_size=12), min_size=1, max_size=70, unique=True)


def _flip(proof: list[bytes], i: int, byte: int) -> list[bytes]:
    p = list(proof)
    h = bytearray(p[i])
    h[byte % 32] ^= 0x01
    p[i] = bytes(h)
    return p


@settings(max_examples=150, deadline=None)
@given(trees, st.data())
def test_every_inclusion_proof_verifies_and_tampering_fails(
    data: list[bytes], draw: st.DataObject
) -> None:
    hashes = [merkle.leaf_hash(d) for d in data]
    n = len(hashes)
    root = merkle.reference_mth(hashes)
    src = _from_list(hashes)
    for i in range(n):
        proof = merkle.inclusion_proof(i, n, src)
        assert proof == merkle.reference_path(i, hashes)
        assert merkle.verify_inclusion(i, n, hashes[i], proof, root)
    i = draw.draw(st.integers(0, n - 1))
    proof = merkle.inclusion_proof(i, n, src)
    if proof:
        k = draw.draw(st.integers(0, len(proof) - 1))
        byte = draw.draw(st.integers(0, 31))
        assert not merkle.verify_inclusion(i, n, hashes[i], _flip(proof, k, byte), root)
        assert not merkle.verify_inclusion(i, n, hashes[i], proof[:k] + proof[k + 1 :], root)
    extra = draw.draw(st.binary(min_size=32, max_size=32))
    pos = draw.draw(st.integers(0, len(proof)))
    assert not merkle.verify_inclusion(i, n, hashes[i], [*proof[:pos], extra, *proof[pos:]], root)
    for j in range(n):  # every other index
        if j != i:
            assert not merkle.verify_inclusion(j, n, hashes[i], proof, root)
    for m in range(1, 2 * n + 2):  # every other size whose path has another length
        if m != n and i < m and len(merkle.inclusion_ranges(i, m)) != len(proof):
            assert not merkle.verify_inclusion(i, m, hashes[i], proof, root)
    assert not merkle.verify_inclusion(i, n, hashes[(i + 1) % n], proof, root) or n == 1


@settings(max_examples=150, deadline=None)
@given(trees, st.data())
def test_every_consistency_proof_verifies_and_tampering_fails(
    data: list[bytes], draw: st.DataObject
) -> None:
    hashes = [merkle.leaf_hash(d) for d in data]
    n = len(hashes)
    src = _from_list(hashes)
    roots = [merkle.reference_mth(hashes[:k]) for k in range(n + 1)]
    for m in range(1, n + 1):
        proof = merkle.consistency_proof(m, n, src)
        assert proof == merkle.reference_proof(m, hashes)
        assert merkle.verify_consistency(m, n, roots[m], roots[n], proof)
    m = draw.draw(st.integers(1, n))
    second = draw.draw(st.integers(m, n))
    proof = merkle.consistency_proof(m, second, src)
    r1, r2 = roots[m], roots[second]
    assert merkle.verify_consistency(m, second, r1, r2, proof)
    if not proof:
        return
    k = draw.draw(st.integers(0, len(proof) - 1))
    byte = draw.draw(st.integers(0, 31))
    assert not merkle.verify_consistency(m, second, r1, r2, _flip(proof, k, byte))
    assert not merkle.verify_consistency(m, second, r1, r2, proof[:k] + proof[k + 1 :])
    extra = draw.draw(st.binary(min_size=32, max_size=32))
    pos = draw.draw(st.integers(0, len(proof)))
    assert not merkle.verify_consistency(m, second, r1, r2, [*proof[:pos], extra, *proof[pos:]])
    assert not merkle.verify_consistency(m, second, r2, r1, proof)
    other = draw.draw(st.integers(0, len(hashes) - 1))
    wrong = bytearray(r1)
    wrong[other % 32] ^= 0x80
    assert not merkle.verify_consistency(m, second, bytes(wrong), r2, proof)
    for m2 in range(1, second):  # every other first size
        if m2 != m:
            assert not merkle.verify_consistency(m2, second, r1, r2, proof)
