"""The RFC 9162 Merkle tree: published vectors, every pair of sizes up to 64, two verifiers."""

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.errors import LedgerError
from compliance.ledger import merkle, verify
from compliance.ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    reference_root,
)

PROBES = json.loads(
    (Path(__file__).parents[1] / "data" / "ledger" / "transparency_dev_probes.json").read_text()
)

# The RFC 6962 example tree (Certificate Transparency's and transparency-dev's test data).
LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
ROOTS = [  # by tree size, 0..8
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
LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]
# (leaf index, tree size, audit path) and (first, second, proof) from the CT test data.
INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (5, 8, ["bc1a0643", "ca854ea1", "d37ee418"]),
    (2, 3, ["fac54203"]),
    (1, 5, ["6e340b9c", "5f083f0a", "bc1a0643"]),
]
CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d2", "5f083f0a", "6b47aaf2"]),
    (6, 8, ["0ebc5d34", "ca854ea1", "d37ee418"]),
    (2, 5, ["5f083f0a", "bc1a0643"]),
    (6, 7, ["0ebc5d34", "b08693ec", "d37ee418"]),
]


def example_tree() -> MerkleTree:
    return MerkleTree(leaf_hash(data) for data in LEAF_INPUTS)


def tree_of(size: int) -> MerkleTree:
    return MerkleTree(leaf_hash(i.to_bytes(4, "big")) for i in range(size))


def prefixes(proof):
    return [p.hex()[:8] for p in proof]


# -- the reference: PATH and PROOF of RFC 9162 §2.1.3.1 / §2.1.4.1, the plain recursion --------


def ref_path(m, leaves):
    if len(leaves) <= 1:
        return []
    k = merkle._split(len(leaves))
    if m < k:
        return [*ref_path(m, leaves[:k]), reference_root(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), reference_root(leaves[:k])]


def ref_subproof(m, leaves, whole):
    n = len(leaves)
    if m == n:
        return [] if whole else [reference_root(leaves)]
    k = merkle._split(n)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), reference_root(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), reference_root(leaves[:k])]


# -- published vectors -----------------------------------------------------------------------


def test_hashing_follows_rfc_6962():
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert [leaf_hash(d).hex() for d in LEAF_INPUTS] == LEAF_HASHES
    assert (
        node_hash(b"\x01" * 32, b"\x02" * 32)
        == hashlib.sha256(b"\x01" + b"\x01" * 32 + b"\x02" * 32).digest()
    )


def test_roots_of_the_example_tree():
    tree = example_tree()
    assert [tree.root(n).hex() for n in range(9)] == ROOTS
    leaves = [tree.leaf(i) for i in range(8)]
    assert [reference_root(leaves[:n]).hex() for n in range(9)] == ROOTS


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_of_the_example_tree(index, size, path):
    tree = example_tree()
    proof = tree.inclusion_proof(index, size)
    assert prefixes(proof) == path
    root = bytes.fromhex(ROOTS[size])
    assert merkle.verify_inclusion(tree.leaf(index), index, size, proof, root)
    assert verify.verify_inclusion(tree.leaf(index), index, size, proof, root)


@pytest.mark.parametrize(("first", "second", "path"), CONSISTENCY)
def test_consistency_proofs_of_the_example_tree(first, second, path):
    tree = example_tree()
    proof = tree.consistency_proof(first, second)
    assert prefixes(proof) == path
    old, new = bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second])
    assert merkle.verify_consistency(first, second, old, new, proof)
    assert verify.verify_consistency(first, second, old, new, proof)


def _b64(text):
    return base64.b64decode(text) if text else b""


# transparency-dev accepts equal roots of any length at equal sizes; both verifiers here
# require 32-byte hashes, so this one probe (roots of 12 bytes) is refused on purpose.
REFUSED_ON_PURPOSE = {"testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}


@pytest.mark.parametrize("probe", PROBES["inclusion"], ids=lambda p: p["file"][18:])
def test_transparency_dev_inclusion_probes(probe):
    args = (
        _b64(probe["leafHash"]),
        probe["leafIdx"],
        probe["treeSize"],
        [_b64(p) for p in probe["proof"] or []],
        _b64(probe["root"]),
    )
    assert merkle.verify_inclusion(*args) is not probe["wantErr"]
    assert verify.verify_inclusion(*args) is not probe["wantErr"]


@pytest.mark.parametrize("probe", PROBES["consistency"], ids=lambda p: p["file"][20:])
def test_transparency_dev_consistency_probes(probe):
    args = (
        probe["size1"],
        probe["size2"],
        _b64(probe["root1"]),
        _b64(probe["root2"]),
        [_b64(p) for p in probe["proof"] or []],
    )
    want = not probe["wantErr"] and probe["file"] not in REFUSED_ON_PURPOSE
    assert merkle.verify_consistency(*args) is want
    assert verify.verify_consistency(*args) is want


def test_the_probes_are_all_there():
    assert len(PROBES["inclusion"]) == 98
    assert len(PROBES["consistency"]) == 98
    happy = [p for p in PROBES["inclusion"] + PROBES["consistency"] if not p["wantErr"]]
    assert len(happy) == 12


# -- every pair of sizes up to 64 --------------------------------------------------------------

N = 64
TREE = tree_of(N)
LEAVES = [TREE.leaf(i) for i in range(N)]


def flipped(proof, at):
    bad = list(proof)
    bad[at] = bytes([bad[at][0] ^ 1]) + bad[at][1:]
    return bad


@pytest.mark.parametrize("size", range(N + 1))
def test_every_root_matches_the_reference(size):
    assert TREE.root(size) == reference_root(LEAVES[:size])
    assert tree_of(size).root() == TREE.root(size)


@pytest.mark.parametrize("size", range(1, N + 1))
def test_every_inclusion_proof_up_to_64(size):
    root = reference_root(LEAVES[:size])
    for index in range(size):
        proof = TREE.inclusion_proof(index, size)
        assert proof == ref_path(index, LEAVES[:size]), (index, size)
        leaf = LEAVES[index]
        assert merkle.verify_inclusion(leaf, index, size, proof, root)
        assert verify.verify_inclusion(leaf, index, size, proof, root)
        # Wrong index, leaf, root, or a changed, missing or extra hash: both refuse. (A
        # wrong size may still verify: the signed root, not the proof, binds the size.)
        wrong = [
            (leaf, index ^ 1, size, proof, root) if size > 1 else None,
            (LEAVES[(index + 1) % N], index, size, proof, root),
            (leaf, index, size, proof, EMPTY_ROOT),
            (leaf, index, size, proof[:-1], root) if proof else None,
            (leaf, index, size, [*proof, root], root),
            *((leaf, index, size, flipped(proof, at), root) for at in range(len(proof))),
        ]
        for args in filter(None, wrong):
            assert not merkle.verify_inclusion(*args), (index, size)
            assert not verify.verify_inclusion(*args), (index, size)


@pytest.mark.parametrize("second", range(N + 1))
def test_every_consistency_proof_up_to_64(second):
    new = reference_root(LEAVES[:second])
    for first in range(second + 1):
        old = reference_root(LEAVES[:first])
        proof = TREE.consistency_proof(first, second)
        if 0 < first < second:
            assert proof == ref_subproof(first, LEAVES[:second], True), (first, second)
        else:
            assert proof == []
        assert merkle.verify_consistency(first, second, old, new, proof)
        assert verify.verify_consistency(first, second, old, new, proof)
        other = reference_root(LEAVES[1 : first + 1]) if first else b"\x07" * 32
        wrong = [
            (first, second, other, new, proof),
            (first, second, old, b"\x07" * 32, proof) if first else None,
            (first, second, old, new, proof[:-1]) if proof else None,
            (first, second, old, new, [*proof, new]),
            *((first, second, old, new, flipped(proof, at)) for at in range(len(proof))),
        ]
        for args in filter(None, wrong):
            assert not merkle.verify_consistency(*args), (first, second, args)
            assert not verify.verify_consistency(*args), (first, second, args)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_larger_trees_agree_with_the_reference(data):
    size = data.draw(st.integers(min_value=1, max_value=700))
    tree = tree_of(size)
    leaves = [tree.leaf(i) for i in range(size)]
    second = data.draw(st.integers(min_value=1, max_value=size))
    first = data.draw(st.integers(min_value=1, max_value=second))
    index = data.draw(st.integers(min_value=0, max_value=second - 1))
    root = tree.root(second)
    assert root == reference_root(leaves[:second])
    path = tree.inclusion_proof(index, second)
    assert path == ref_path(index, leaves[:second])
    assert verify.verify_inclusion(leaves[index], index, second, path, root)
    proof = tree.consistency_proof(first, second)
    assert verify.verify_consistency(first, second, tree.root(first), root, proof)
    assert merkle.verify_consistency(first, second, tree.root(first), root, proof)


# -- the tree's own contract ---------------------------------------------------------------------


def test_append_returns_the_index_and_extend_appends_in_order():
    tree = MerkleTree()
    assert tree.size == 0 and len(tree) == 0 and tree.root() == EMPTY_ROOT
    assert [tree.append(leaf) for leaf in LEAVES[:5]] == [0, 1, 2, 3, 4]
    tree.extend(LEAVES[5:9])
    assert tree.size == 9 and tree.leaf(8) == LEAVES[8]
    assert tree.root() == reference_root(LEAVES[:9])


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (lambda t: t.append(b"short"), "32 bytes"),
        (lambda t: t.append("ab" * 32), "32 bytes"),
        (lambda t: t.leaf(5), "0..4"),
        (lambda t: t.leaf(-1), "0..4"),
        (lambda t: t.root(6), "0..5"),
        (lambda t: t.inclusion_proof(5, 5), "0..4"),
        (lambda t: t.inclusion_proof(0, 0), r"0..-1"),
        (lambda t: t.inclusion_proof(0, 9), "0..5"),
        (lambda t: t.consistency_proof(4, 3), "first size 4 is not within 0..3"),
        (lambda t: t.consistency_proof(1, 7), "0..5"),
        (lambda t: t.root(True), "0..5"),
    ],
)
def test_out_of_range_arguments_raise_one_line(call, pattern):
    with pytest.raises(LedgerError, match=pattern) as caught:
        call(tree_of(5))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("verifier", [merkle, verify])
def test_verifiers_say_false_for_malformed_input(verifier):
    leaf, root = LEAVES[0], TREE.root(1)
    assert verifier.verify_inclusion(leaf, 0, 1, [], root)
    assert not verifier.verify_inclusion(leaf[:31], 0, 1, [], root)
    assert not verifier.verify_inclusion(leaf, -1, 1, [], root)
    assert not verifier.verify_inclusion(leaf, 0, 0, [], EMPTY_ROOT)
    assert not verifier.verify_consistency(2, 1, root, root, [])
    assert not verifier.verify_consistency(0, 1, EMPTY_ROOT, root, [root])
    assert verifier.verify_consistency(0, 1, EMPTY_ROOT, root, [])
    assert not verifier.verify_consistency(0, 1, root, root, [])
