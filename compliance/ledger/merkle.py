"""The Merkle tree of the ledger, as RFC 9162 §2.1 defines it.

- ``leaf_hash(d) = SHA-256(0x00 || d)``, ``node_hash(l, r) = SHA-256(0x01 || l || r)``, the
  empty tree's root is ``SHA-256()`` (:data:`EMPTY_ROOT`).
- The root of ``n > 1`` leaves is ``node_hash(MTH(D[0:k]), MTH(D[k:n]))`` with ``k`` the
  largest power of two below ``n``; so a tree of any size is a run of *perfect* subtrees
  (one per set bit of ``n``, largest first), folded together from the right.

:class:`MerkleTree` keeps, for every level, the hashes of the complete aligned subtrees at
that level (level 0 the leaf hashes), so an append costs one hash plus one per subtree it
completes (amortised two), and any subtree a root or proof of any size ``<= size`` needs is
either stored or one of at most ``log2(n)`` perfect pieces: roots and proofs are O(log n).

The verifiers here walk a proof's tree shape top down (the split points of §2.1.1) and fold
the hashes bottom up; :mod:`compliance.ledger.verify` implements §2.1.3.2 and §2.1.4.2 as
the RFC writes them, so the tests compare two independent computations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from compliance.errors import LedgerError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleTree",
    "leaf_hash",
    "node_hash",
    "reference_root",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
#: The root hash of the empty tree: SHA-256 of nothing.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """The leaf hash of an entry's bytes: SHA-256(0x00 || data)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256(0x01 || left || right)."""
    return _sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def reference_root(leaves: Sequence[bytes]) -> bytes:
    """MTH of §2.1.1 computed the plain recursive way, from *leaf hashes* (for tests)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


class MerkleTree:
    """An append-only Merkle tree of leaf hashes, in memory.

    >>> tree = MerkleTree()
    >>> tree.extend(leaf_hash(bytes([i])) for i in range(5))
    >>> tree.size, tree.root() == reference_root([tree.leaf(i) for i in range(5)])
    (5, True)
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        # _levels[h][j]: hash of the perfect subtree of 2**h leaves starting at leaf j * 2**h.
        self._levels: list[list[bytes]] = [[]]
        self.extend(leaves)

    @property
    def size(self) -> int:
        """The number of leaves."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return len(self._levels[0])

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        self._check_index(index, self.size)
        return self._levels[0][index]

    def append(self, leaf: bytes) -> int:
        """Append one leaf hash; returns its index."""
        if len(leaf) != HASH_SIZE or not isinstance(leaf, bytes):
            raise LedgerError(f"leaf hash {leaf!r} is not {HASH_SIZE} bytes")
        levels = self._levels
        index = len(levels[0])
        levels[0].append(leaf)
        height, row = 0, levels[0]
        while len(row) % 2 == 0:
            parent = node_hash(row[-2], row[-1])
            height += 1
            if height == len(levels):
                levels.append([])
            row = levels[height]
            row.append(parent)
        return index

    def extend(self, leaves: Iterable[bytes]) -> None:
        """Append several leaf hashes."""
        for leaf in leaves:
            self.append(leaf)

    # -- roots -----------------------------------------------------------------------------

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the first ``size`` leaves (all by default)."""
        size = self.size if size is None else self._check_size(size)
        return self._range(0, size) if size else EMPTY_ROOT

    def _range(self, start: int, end: int) -> bytes:
        """MTH of leaves ``[start, end)``: ``start`` aligned to a power of two >= the range.

        Every range a root or proof asks for is like that: the perfect pieces of the binary
        decomposition of ``end - start``, each stored, folded from the right.
        """
        pieces: list[bytes] = []
        levels = self._levels
        n = end - start
        while n:
            height = n.bit_length() - 1
            width = 1 << height
            pieces.append(levels[height][start >> height])
            start += width
            n -= width
        result = pieces[-1]
        for piece in reversed(pieces[:-1]):
            result = node_hash(piece, result)
        return result

    # -- proofs ----------------------------------------------------------------------------

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of §2.1.3.1: sibling hashes from the leaf up."""
        size = self.size if size is None else self._check_size(size)
        self._check_index(index, size)
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                path.append(self._range(start + k, end))
                end = start + k
            else:
                path.append(self._range(start, start + k))
                start += k
        path.reverse()
        return path

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        """PROOF(first, D[0:second]) of §2.1.4.1 (empty when ``first`` is 0 or ``second``)."""
        second = self.size if second is None else self._check_size(second)
        if not 0 <= first <= second:
            raise LedgerError(f"first size {first} is not within 0..{second}")
        if first in (0, second):
            return []
        proof: list[bytes] = []
        start, end, whole = 0, second, True
        # Walk down to the subtree whose leaves are exactly the old tree's remainder.
        while end - start != first - start:
            k = _split(end - start)
            if first - start <= k:
                proof.append(self._range(start + k, end))
                end = start + k
            else:
                proof.append(self._range(start, start + k))
                start += k
                whole = False
        if not whole:
            proof.append(self._range(start, end))
        proof.reverse()
        return proof

    # -- checks ----------------------------------------------------------------------------

    def _check_size(self, size: int) -> int:
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= self.size:
            raise LedgerError(f"tree size {size!r} is not within 0..{self.size}")
        return size

    @staticmethod
    def _check_index(index: int, size: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
            raise LedgerError(
                f"leaf index {index!r} is not within 0..{size - 1} (tree size {size})"
            )


def _valid_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _valid_proof(proof: Sequence[bytes]) -> bool:
    return isinstance(proof, Sequence) and all(_valid_hash(p) for p in proof)


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree with ``root``."""
    if not (_valid_hash(leaf) and _valid_hash(root) and _valid_proof(proof)):
        return False
    if not 0 <= index < tree_size:
        return False
    # Top down: at each split, is the sibling on the right (True) or the left (False)?
    sides: list[bool] = []
    start, end = 0, tree_size
    while end - start > 1:
        k = _split(end - start)
        if index < start + k:
            sides.append(True)
            end = start + k
        else:
            sides.append(False)
            start += k
    if len(sides) != len(proof):
        return False
    result = leaf
    for sibling_right, sibling in zip(reversed(sides), proof, strict=True):
        result = node_hash(result, sibling) if sibling_right else node_hash(sibling, result)
    return result == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree of size ``second`` extends the one of size ``first``.

    Sizes ``0`` and ``first == second`` take an empty proof (and, for ``first == second``,
    equal roots; for ``first == 0``, the empty tree's root as ``first_root``).
    """
    if not (_valid_hash(first_root) and _valid_hash(second_root) and _valid_proof(proof)):
        return False
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    # Top down, as PROOF builds it: True where the old tree lies wholly in the left half
    # (the sibling is new-only), False where the left half is shared by both trees.
    steps: list[bool] = []
    start, end, whole = 0, second, True
    while end - start != first - start:
        k = _split(end - start)
        if first - start <= k:
            steps.append(True)
            end = start + k
        else:
            steps.append(False)
            start += k
            whole = False
    hashes = list(proof)
    if whole:
        seed = first_root  # the old tree is itself a subtree of the new one
    elif hashes:
        seed = hashes.pop(0)
    else:
        return False
    if len(hashes) != len(steps):
        return False
    old = new = seed
    for new_only, sibling in zip(reversed(steps), hashes, strict=True):
        if new_only:
            new = node_hash(new, sibling)
        else:
            old = node_hash(sibling, old)
            new = node_hash(sibling, new)
    return old == first_root and new == second_root
