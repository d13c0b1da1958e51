"""The transparency ledger: an RFC 9162 Merkle log of canonical JSON entries, signed
checkpoints, inclusion and consistency proofs, and the audit that recomputes it all.

Pure values in and out: no files, database or network. See docs/ledger.md.
"""

from compliance.errors import LedgerError
from compliance.ledger.canonical import canonical_json
from compliance.ledger.checkpoint import (
    Checkpoint,
    public_key_hex,
    sign_checkpoint,
    signed_message,
    verify_checkpoint,
)
from compliance.ledger.entries import (
    ENTRY_KINDS,
    PERSONAL_WORDS,
    entry_bytes,
    format_time,
    make_entry,
    validate_entry,
    validate_record,
)
from compliance.ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    reference_root,
    verify_consistency,
    verify_inclusion,
)

__all__ = [
    "EMPTY_ROOT",
    "ENTRY_KINDS",
    "PERSONAL_WORDS",
    "Checkpoint",
    "LedgerError",
    "MerkleTree",
    "canonical_json",
    "entry_bytes",
    "format_time",
    "leaf_hash",
    "make_entry",
    "node_hash",
    "public_key_hex",
    "reference_root",
    "sign_checkpoint",
    "signed_message",
    "validate_entry",
    "validate_record",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]
