"""Signed checkpoints: a tree size and root hash at a time, signed with Ed25519.

The signature is Ed25519 over the UTF-8 bytes of the canonical JSON (RFC 8785) of
``{"root_hash": <hex>, "timestamp": <ms since the epoch>, "tree_size": <n>}``
(:func:`signed_message`). Hashes, keys and signatures are lowercase hex; the public key is
the raw 32-byte Ed25519 key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compliance.errors import LedgerError
from compliance.ledger.canonical import MAX_SAFE_INTEGER, canonical_json

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "CHECKPOINT_KEYS",
    "Checkpoint",
    "public_key_hex",
    "sign_checkpoint",
    "signed_message",
    "verify_checkpoint",
]

#: The keys of a checkpoint's JSON, exactly.
CHECKPOINT_KEYS = ("tree_size", "root_hash", "timestamp", "signature", "public_key")

_HEX = {32: re.compile(r"[0-9a-f]{64}"), 64: re.compile(r"[0-9a-f]{128}")}


def _check_hex(name: str, value: object, nbytes: int) -> str:
    if not isinstance(value, str) or not _HEX[nbytes].fullmatch(value):
        raise LedgerError(f"{name} {value!r} is not {nbytes} bytes as lowercase hex")
    return value


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SAFE_INTEGER:
        raise LedgerError(f"{name} {value!r} is not an integer within 0..{MAX_SAFE_INTEGER}")
    return value


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed tree head: hex lowercase, ``timestamp`` in ms since the Unix epoch."""

    tree_size: int
    root_hash: str
    timestamp: int
    signature: str
    public_key: str

    def __post_init__(self) -> None:
        _check_int("tree_size", self.tree_size)
        _check_hex("root_hash", self.root_hash, 32)
        _check_int("timestamp", self.timestamp)
        _check_hex("signature", self.signature, 64)
        _check_hex("public_key", self.public_key, 32)

    def to_json(self) -> dict[str, Any]:
        """The JSON object, with exactly the keys of :data:`CHECKPOINT_KEYS`."""
        return {key: getattr(self, key) for key in CHECKPOINT_KEYS}

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """Read the JSON object of :meth:`to_json` (one-line :class:`LedgerError` otherwise)."""
        if not isinstance(data, dict):
            raise LedgerError(f"checkpoint {data!r:.80} is not a JSON object")
        if set(data) != set(CHECKPOINT_KEYS):
            raise LedgerError(
                f"checkpoint keys {sorted(data)} are not exactly {sorted(CHECKPOINT_KEYS)}"
            )
        return cls(**{key: data[key] for key in CHECKPOINT_KEYS})

    def message(self) -> bytes:
        """The bytes the signature is over."""
        return signed_message(self.tree_size, self.root_hash, self.timestamp)


def signed_message(tree_size: int, root_hash_hex: str, timestamp_ms: int) -> bytes:
    """Canonical JSON of ``{"root_hash", "timestamp", "tree_size"}``: what is signed.

    >>> signed_message(3, "ab" * 32, 5)[-34:]
    b'abab","timestamp":5,"tree_size":3}'
    """
    return canonical_json(
        {
            "root_hash": _check_hex("root_hash", root_hash_hex, 32),
            "timestamp": _check_int("timestamp", timestamp_ms),
            "tree_size": _check_int("tree_size", tree_size),
        }
    )


def public_key_hex(private_key: Ed25519PrivateKey) -> str:
    """The raw 32-byte public key of ``private_key`` as lowercase hex."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def sign_checkpoint(
    private_key: Ed25519PrivateKey, tree_size: int, root: bytes, timestamp_ms: int
) -> Checkpoint:
    """Sign the tree head ``(tree_size, root, timestamp_ms)``."""
    if not isinstance(root, bytes) or len(root) != 32:
        raise LedgerError(f"root {root!r} is not a 32-byte hash")
    message = signed_message(tree_size, root.hex(), timestamp_ms)
    return Checkpoint(
        tree_size=tree_size,
        root_hash=root.hex(),
        timestamp=timestamp_ms,
        signature=private_key.sign(message).hex(),
        public_key=public_key_hex(private_key),
    )


def verify_checkpoint(checkpoint: Checkpoint, public_key_hex: str | None = None) -> bool:
    """Whether ``checkpoint``'s signature is valid for its key (and that key is the given one).

    Returns False, never raises, for a malformed key or signature.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if public_key_hex is not None and public_key_hex.lower() != checkpoint.public_key:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.public_key))
        key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError, LedgerError):
        return False
    return True
