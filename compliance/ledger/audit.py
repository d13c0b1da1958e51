"""The audit: recompute every leaf and node of the log and check every checkpoint.

Entries are streamed once, in stored order. For entry ``i`` (its stored index, text and
stored leaf hash) the audit checks, in this order: the stored index is ``i`` (a gap means
entry ``i`` is missing); the text is canonical JSON of a valid schema-1 entry whose
``index`` is ``i``; the stored leaf hash is SHA-256(0x00 || text); ``prev_root`` is the root
of the recomputed log of entries ``0..i-1``. A ``prev_root`` that differs means an earlier
entry was rewritten, leaf hash and all: the audit names entry ``i - 1`` (or ``i`` itself when
a valid checkpoint of size ``i`` shows ``0..i-1`` intact).

Then every checkpoint, in number order: its key is the published one, its signature is
valid, its size is within the log (else the entries from the log's size are missing), its
root is the recomputed root at its size (else entries it covers were changed: named as the
last, which is exact when one entry was, since ``prev_root`` pins the others), sizes and timestamps do not go backwards, and a
consistency proof between it and the previous good checkpoint verifies.

The result names the first problem by log index; ``bad_checkpoint`` the first checkpoint
with a problem.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from compliance.errors import LedgerError
from compliance.ledger.canonical import parse_canonical
from compliance.ledger.checkpoint import Checkpoint, verify_checkpoint
from compliance.ledger.entries import validate_entry
from compliance.ledger.merkle import MerkleTree, leaf_hash, verify_consistency

__all__ = ["AUDIT_SCHEMA", "AuditResult", "audit"]

AUDIT_SCHEMA = 1


@dataclass(frozen=True, slots=True)
class AuditResult:
    """What an audit found: ``ok`` and, when not, the first bad index and checkpoint."""

    ok: bool
    entries: int
    checkpoints: int
    tree_size: int
    root_hash: str
    first_bad_index: int | None
    bad_checkpoint: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON object (with ``schema``)."""
        return {"schema": AUDIT_SCHEMA, **asdict(self)}


Problem = tuple[int | None, str]


def _short(hex_text: str) -> str:
    return hex_text[:16] + "…"


def _check_entry(
    position: int,
    stored_index: int,
    text: str,
    leaf: bytes,
    stored_leaf: str,
    tree: MerkleTree,
    trusted: dict[int, Checkpoint],
) -> Problem | None:
    if stored_index != position:
        if stored_index > position:
            return (
                position,
                f"entry {position} is missing (the next stored index is {stored_index})",
            )
        return position, f"entry stored as index {stored_index} is out of order at {position}"
    try:
        entry = parse_canonical(text)
    except LedgerError as exc:
        return position, f"entry {position} is not canonical JSON: {exc}"
    if not isinstance(entry, dict) or entry.get("index") != position:
        said = entry.get("index") if isinstance(entry, dict) else None
        return position, f"entry {position} says index {said!r}: entries were moved or reordered"
    try:
        validate_entry(entry)
    except LedgerError as exc:
        return position, f"entry {position} is not a valid entry: {exc}"
    if stored_leaf != leaf.hex():
        return position, (
            f"entry {position}'s stored leaf hash {_short(stored_leaf)} is not the hash of its "
            f"text {_short(leaf.hex())}: the entry or its hash was changed"
        )
    root = tree.root()
    if entry["prev_root"] != root.hex():
        checkpoint = trusted.get(position)
        if checkpoint is not None and checkpoint.root_hash == root.hex():
            return position, (
                f"entry {position}'s prev_root is not the root of entries 0..{position - 1}, "
                f"which checkpoint of size {position} confirms: entry {position} was rewritten"
            )
        return position - 1, (
            f"entry {position - 1} differs from the log entry {position} was appended to "
            f"(entry {position}'s prev_root): entry {position - 1} was rewritten"
        )
    return None


def audit(
    entries: Iterable[tuple[int, str, str]],
    checkpoints: Sequence[tuple[int, Checkpoint]],
    public_key_hex: str,
) -> AuditResult:
    """Audit a stored log.

    Parameters
    ----------
    entries
        ``(stored_index, entry_text, leaf_hash_hex)`` in stored (index) order; streamed once.
    checkpoints
        ``(number, Checkpoint)`` in number order.
    public_key_hex
        The published Ed25519 public key (raw, hex).
    """
    public_key_hex = public_key_hex.lower()
    # Checkpoints of our key at each size, to tell which side of a broken prev_root changed.
    trusted = {cp.tree_size: cp for _, cp in checkpoints if cp.public_key == public_key_hex}
    tree = MerkleTree()
    entry_problem: Problem | None = None
    verified = 0  # entries 0..verified-1 passed every check
    position = 0
    for stored_index, text, stored_leaf in entries:
        try:
            leaf = leaf_hash(text.encode("utf-8"))
        except UnicodeEncodeError:
            leaf = leaf_hash(text.encode("utf-8", "surrogatepass"))
            if entry_problem is None:
                entry_problem = position, f"entry {position} is not well-formed Unicode"
        if entry_problem is None:
            entry_problem = _check_entry(
                position, stored_index, text, leaf, stored_leaf, tree, trusted
            )
            verified = position + 1 if entry_problem is None else entry_problem[0] or 0
        tree.append(leaf)
        position += 1
    log_size = position

    checkpoint_problem: Problem | None = None
    bad_checkpoint: int | None = None
    previous: Checkpoint | None = None
    for number, checkpoint in checkpoints:
        problem = _check_checkpoint(
            number, checkpoint, previous, public_key_hex, tree, log_size, verified
        )
        if problem is None:
            previous = checkpoint
        elif checkpoint_problem is None:
            checkpoint_problem, bad_checkpoint = problem, number

    problems = [p for p in (entry_problem, checkpoint_problem) if p is not None]
    indexed = [p for p in problems if p[0] is not None]
    first = (
        min(indexed, key=lambda p: p[0] or 0) if indexed else (problems[0] if problems else None)
    )
    ok = first is None
    if first is None:
        message = f"log of {log_size} entries and {len(checkpoints)} checkpoints verified"
    else:
        message = first[1]
    return AuditResult(
        ok=ok,
        entries=log_size,
        checkpoints=len(checkpoints),
        tree_size=log_size,
        root_hash=tree.root().hex(),
        first_bad_index=first[0] if first is not None else None,
        bad_checkpoint=bad_checkpoint,
        message=message,
    )


def _check_checkpoint(
    number: int,
    checkpoint: Checkpoint,
    previous: Checkpoint | None,
    public_key_hex: str,
    tree: MerkleTree,
    log_size: int,
    verified: int,
) -> Problem | None:
    size = checkpoint.tree_size
    if checkpoint.public_key != public_key_hex:
        return None, (
            f"checkpoint {number} is signed by key {_short(checkpoint.public_key)}, not the "
            f"published key {_short(public_key_hex)}"
        )
    if not verify_checkpoint(checkpoint):
        return None, f"checkpoint {number}'s signature does not verify"
    if size > log_size:
        return log_size, (
            f"entries from {log_size} missing: checkpoint {number} covers {size} entries, "
            f"the log holds {log_size}"
        )
    if size <= verified and tree.root(size).hex() != checkpoint.root_hash:
        if size == 0:
            return None, f"checkpoint {number} of size 0 has a root other than the empty tree's"
        return size - 1, (
            f"checkpoint {number}'s root for size {size} is not the recomputed root: entries "
            f"before {size} were changed (entry {size - 1}, the last it covers, if only one)"
        )
    if previous is None:
        return None
    if size < previous.tree_size:
        return None, (
            f"checkpoint {number}'s tree size {size} is below the previous one's "
            f"{previous.tree_size}: the log shrank"
        )
    if checkpoint.timestamp < previous.timestamp:
        return None, (
            f"checkpoint {number}'s timestamp {checkpoint.timestamp} is before the previous "
            f"one's {previous.timestamp}"
        )
    if size <= verified:
        proof = tree.consistency_proof(previous.tree_size, size)
        consistent = verify_consistency(
            previous.tree_size,
            size,
            bytes.fromhex(previous.root_hash),
            bytes.fromhex(checkpoint.root_hash),
            proof,
        )
        if not consistent:
            return None, (
                f"checkpoint {number} (size {size}) is not consistent with the previous "
                f"checkpoint (size {previous.tree_size})"
            )
    return None
