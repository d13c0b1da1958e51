"""Signed checkpoints: the signed bytes, Ed25519 (RFC 8032 vector), JSON shape, refusals."""

import dataclasses
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compliance.errors import LedgerError
from compliance.ledger import verify
from compliance.ledger.checkpoint import (
    CHECKPOINT_KEYS,
    Checkpoint,
    public_key_hex,
    sign_checkpoint,
    signed_message,
    verify_checkpoint,
)

# RFC 8032 §7.1, TEST 1.
RFC8032_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_EMPTY_SIGNATURE = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
    "1cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
ROOT_8 = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
#: The checkpoint of the RFC 6962 example tree signed with the RFC 8032 key (Ed25519 is
#: deterministic): a fixed vector for other implementations of the format.
GOLDEN: dict[str, Any] = {
    "tree_size": 8,
    "root_hash": ROOT_8,
    "timestamp": 1765091597123,
    "signature": (
        "13ffd47f0b85110f31635c9269d7ec68f5548f50289928b63292dfeb8d3de642aa9cbbd5401f1081d4143"
        "81bc84666b27990c072928a862c79d0d38eec127f0e"
    ),
    "public_key": RFC8032_PUBLIC,
}


@pytest.fixture(scope="module")
def rfc_key():
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_SECRET))


def test_the_rfc_8032_key_gives_its_public_key_and_signature(rfc_key):
    assert public_key_hex(rfc_key) == RFC8032_PUBLIC
    assert rfc_key.sign(b"").hex() == RFC8032_EMPTY_SIGNATURE


def test_the_signed_message_is_canonical_json_of_three_fields():
    assert signed_message(8, ROOT_8, 1765091597123) == (
        b'{"root_hash":"' + ROOT_8.encode() + b'","timestamp":1765091597123,"tree_size":8}'
    )


def test_signing_gives_the_golden_checkpoint(rfc_key):
    checkpoint = sign_checkpoint(rfc_key, 8, bytes.fromhex(ROOT_8), 1765091597123)
    assert checkpoint.to_json() == GOLDEN
    assert list(checkpoint.to_json()) == list(CHECKPOINT_KEYS)
    assert Checkpoint.from_json(GOLDEN) == checkpoint
    assert verify_checkpoint(checkpoint)
    assert verify_checkpoint(checkpoint, RFC8032_PUBLIC)
    assert verify_checkpoint(checkpoint, RFC8032_PUBLIC.upper())
    assert verify.verify_checkpoint(GOLDEN, RFC8032_PUBLIC)
    assert verify.verify_checkpoint(checkpoint)


@pytest.mark.parametrize(
    "change",
    [
        {"tree_size": 9},
        {"root_hash": "00" * 32},
        {"timestamp": 1765091597124},
        {"signature": "00" * 64},
        {"signature": GOLDEN["signature"][:-2] + "0f"},
        {"public_key": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"},
    ],
)
def test_any_change_breaks_the_signature(change):
    checkpoint = Checkpoint(**(GOLDEN | change))
    assert not verify_checkpoint(checkpoint)
    assert not verify.verify_checkpoint(GOLDEN | change)


def test_a_checkpoint_by_another_key_is_refused_when_the_key_is_given():
    other = Ed25519PrivateKey.generate()
    checkpoint = sign_checkpoint(other, 8, bytes.fromhex(ROOT_8), 5)
    assert verify_checkpoint(checkpoint)  # valid for its own key ...
    assert not verify_checkpoint(checkpoint, RFC8032_PUBLIC)  # ... not the published one
    assert not verify.verify_checkpoint(checkpoint.to_json(), RFC8032_PUBLIC)


def test_an_invalid_point_as_key_verifies_nothing():
    checkpoint = dataclasses.replace(Checkpoint(**GOLDEN), public_key="ff" * 32)
    assert not verify_checkpoint(checkpoint)
    assert not verify.verify_checkpoint(checkpoint.to_json())


@pytest.mark.parametrize(
    ("change", "pattern"),
    [
        ({"tree_size": -1}, "tree_size -1"),
        ({"tree_size": True}, "tree_size True"),
        ({"tree_size": 2**53}, "tree_size"),
        ({"timestamp": 1.5}, "timestamp 1.5"),
        ({"root_hash": "AB" * 32}, "root_hash 'ABAB"),
        ({"root_hash": "ab" * 31}, "32 bytes"),
        ({"signature": "ab" * 32}, "64 bytes"),
        ({"public_key": None}, "public_key None"),
    ],
)
def test_malformed_checkpoints_are_refused_in_one_line(change, pattern):
    with pytest.raises(LedgerError, match=pattern) as caught:
        Checkpoint(**(GOLDEN | change))
    assert "\n" not in str(caught.value)
    assert not verify.verify_checkpoint(GOLDEN | change)


def test_from_json_wants_exactly_the_five_keys():
    with pytest.raises(LedgerError, match="not exactly"):
        Checkpoint.from_json(GOLDEN | {"extra": 1})
    with pytest.raises(LedgerError, match="not exactly"):
        Checkpoint.from_json({k: v for k, v in GOLDEN.items() if k != "signature"})
    with pytest.raises(LedgerError, match="not a JSON object"):
        Checkpoint.from_json([1, 2])


def test_sign_refuses_a_root_that_is_not_a_hash(rfc_key):
    with pytest.raises(LedgerError, match="32-byte"):
        sign_checkpoint(rfc_key, 1, ROOT_8, 5)  # type: ignore[arg-type]
