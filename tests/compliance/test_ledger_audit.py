"""The audit names the first changed, removed or reordered entry and the bad checkpoint."""

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compliance.ledger import (
    Checkpoint,
    MerkleTree,
    entry_bytes,
    leaf_hash,
    make_entry,
    public_key_hex,
    sign_checkpoint,
)
from compliance.ledger.audit import AuditResult, audit
from compliance.ledger.canonical import canonical_text

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = public_key_hex(KEY)
START = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def build(size=20, every=5, key=KEY, salt=0):
    """A stored log of ``size`` entries with a checkpoint each ``every`` entries (and at 0)."""
    tree = MerkleTree()
    rows: list[tuple[int, str, str]] = []
    checkpoints: list[tuple[int, Checkpoint]] = []

    def checkpoint():
        number = len(checkpoints) + 1
        signed = sign_checkpoint(key, tree.size, tree.root(), 1_765_000_000_000 + tree.size)
        checkpoints.append((number, signed))

    checkpoint()
    for i in range(size):
        data = {"flight_id": i, "version": 1, "record_sha256": f"{i + salt:064x}"}
        entry = make_entry(
            i,
            "disclosure_published",
            f"flight:{i}",
            START + timedelta(minutes=i),
            tree.root(),
            data,
        )
        raw = entry_bytes(entry)
        tree.append(leaf_hash(raw))
        rows.append((i, raw.decode(), leaf_hash(raw).hex()))
        if (i + 1) % every == 0:
            checkpoint()
    return rows, checkpoints


def rewrite(row, *, leaf=False, **data):
    """Row ``row`` with its entry's data changed (and its leaf hash recomputed if ``leaf``)."""
    index, text, stored = row
    entry = json.loads(text)
    entry["data"] |= data
    text = canonical_text(entry)
    return index, text, leaf_hash(text.encode()).hex() if leaf else stored


def run(rows, checkpoints, key=PUBLIC) -> AuditResult:
    return audit(iter(rows), checkpoints, key)


def test_a_clean_log_audits_clean():
    rows, checkpoints = build()
    result = run(rows, checkpoints)
    assert result.ok, result.message
    assert (result.entries, result.checkpoints, result.tree_size) == (20, 5, 20)
    assert result.root_hash == checkpoints[-1][1].root_hash
    assert result.first_bad_index is None and result.bad_checkpoint is None
    assert result.message == "log of 20 entries and 5 checkpoints verified"
    assert result.to_json() == {
        "schema": 1,
        "ok": True,
        "entries": 20,
        "checkpoints": 5,
        "tree_size": 20,
        "root_hash": result.root_hash,
        "first_bad_index": None,
        "bad_checkpoint": None,
        "message": result.message,
    }


def test_an_empty_log_with_its_first_checkpoint_audits_clean():
    rows, checkpoints = build(0)
    result = run(rows, checkpoints)
    assert result.ok and result.tree_size == 0 and len(checkpoints) == 1


@pytest.mark.parametrize("index", [0, 7, 19])
def test_a_changed_entry_is_named(index):
    rows, checkpoints = build()
    rows[index] = rewrite(rows[index], version=2)
    result = run(rows, checkpoints)
    assert not result.ok and result.first_bad_index == index
    assert "leaf hash" in result.message and str(index) in result.message


@pytest.mark.parametrize("index", [0, 7, 12, 18])
def test_a_changed_entry_and_leaf_hash_is_named_by_the_next_prev_root(index):
    rows, checkpoints = build()
    rows[index] = rewrite(rows[index], leaf=True, version=2)
    result = run(rows, checkpoints)
    assert not result.ok and result.first_bad_index == index, result.message
    assert f"entry {index} was rewritten" in result.message


def test_the_last_entry_changed_with_its_leaf_is_named_by_the_checkpoint():
    rows, checkpoints = build()
    rows[19] = rewrite(rows[19], leaf=True, version=2)
    result = run(rows, checkpoints)
    assert not result.ok and result.first_bad_index == 19
    assert result.bad_checkpoint == 5
    assert "checkpoint 5" in result.message


def test_a_rewritten_prev_root_is_told_from_a_rewritten_predecessor_by_a_checkpoint():
    rows, checkpoints = build()
    index, text, _ = rows[10]  # checkpoint 3 covers exactly entries 0..9
    entry = json.loads(text) | {"prev_root": "00" * 32}
    text = canonical_text(entry)
    rows[10] = (index, text, leaf_hash(text.encode()).hex())
    result = run(rows, checkpoints)
    assert result.first_bad_index == 10, result.message
    assert "entry 10 was rewritten" in result.message


@pytest.mark.parametrize("index", [0, 6, 13])
def test_a_removed_entry_is_named(index):
    rows, checkpoints = build()
    del rows[index]
    result = run(rows, checkpoints)
    assert not result.ok and result.first_bad_index == index
    assert f"entry {index} is missing" in result.message
    assert result.entries == 19


def test_removed_last_entries_are_named_from_the_checkpoint():
    rows, checkpoints = build()
    del rows[17:]
    result = run(rows, checkpoints)
    assert not result.ok and result.first_bad_index == 17
    assert result.bad_checkpoint == 5
    assert "entries from 17 missing" in result.message


def test_a_removed_row_renumbered_to_close_the_gap_is_named():
    rows, checkpoints = build()
    del rows[8]
    rows = [(i, text, leaf) for i, (_, text, leaf) in enumerate(rows)]
    result = run(rows, checkpoints)
    assert result.first_bad_index == 8
    assert "says index 9" in result.message


@pytest.mark.parametrize(("a", "b"), [(3, 5), (0, 19), (10, 11)])
def test_reordered_entries_are_named(a, b):
    rows, checkpoints = build()
    (ia, ta, la), (ib, tb, lb) = rows[a], rows[b]
    rows[a], rows[b] = (ia, tb, lb), (ib, ta, la)  # contents swapped, indices kept
    result = run(rows, checkpoints)
    assert not result.ok and result.first_bad_index == a
    assert "moved or reordered" in result.message


def test_a_checkpoint_signed_by_another_key_is_named():
    rows, checkpoints = build()
    other = Ed25519PrivateKey.generate()
    forged = sign_checkpoint(other, 10, bytes.fromhex(checkpoints[2][1].root_hash), 1)
    checkpoints[2] = (3, forged)
    result = run(rows, checkpoints)
    assert not result.ok and result.bad_checkpoint == 3
    assert result.first_bad_index is None
    assert "checkpoint 3 is signed by key" in result.message


def test_a_checkpoint_with_a_changed_root_fails_its_signature():
    rows, checkpoints = build()
    number, checkpoint = checkpoints[3]
    checkpoints[3] = (number, dataclasses.replace(checkpoint, root_hash="11" * 32))
    result = run(rows, checkpoints)
    assert result.bad_checkpoint == 4 and "signature does not verify" in result.message


def test_the_wrong_published_key_fails_every_checkpoint():
    rows, checkpoints = build()
    result = run(rows, checkpoints, key=public_key_hex(Ed25519PrivateKey.generate()))
    assert not result.ok and result.bad_checkpoint == 1


def test_a_consistently_rewritten_history_is_caught_by_the_first_checkpoint_over_it():
    rows, checkpoints = build()
    other_rows, _ = build(12, salt=100)  # entries 0..11 rewritten, prev_roots and all
    result = run([*other_rows, *rows[12:]], checkpoints)
    # Entry 12's prev_root shows 0..11 changed; checkpoint 2 (size 5) shows 0..4 did.
    assert not result.ok and result.first_bad_index == 4, result.message
    assert result.bad_checkpoint == 2
    assert "entries before 5 were changed" in result.message


def test_timestamps_and_sizes_must_not_go_backwards():
    rows, checkpoints = build()
    number, checkpoint = checkpoints[2]
    late = sign_checkpoint(KEY, 10, bytes.fromhex(checkpoint.root_hash), 1)
    result = run(rows, [*checkpoints[:2], (number, late), *checkpoints[3:]])
    assert result.bad_checkpoint == 3 and "before the previous" in result.message

    shrunk = sign_checkpoint(KEY, 5, bytes.fromhex(checkpoints[1][1].root_hash), 2**40)
    result = run(rows, [*checkpoints, (6, shrunk)])
    assert result.bad_checkpoint == 6 and "log shrank" in result.message


def test_a_non_canonical_or_broken_entry_is_named():
    rows, checkpoints = build()
    index, text, _ = rows[4]
    spaced = json.dumps(json.loads(text), indent=1)
    rows[4] = (index, spaced, leaf_hash(spaced.encode()).hex())
    result = run(rows, checkpoints)
    assert result.first_bad_index == 4 and "canonical" in result.message

    rows, checkpoints = build()
    rows[9] = (9, rows[9][1][:-1], rows[9][2])
    result = run(rows, checkpoints)
    assert result.first_bad_index == 9 and "not canonical JSON" in result.message


def test_an_entry_that_breaks_the_format_is_named():
    rows, checkpoints = build()
    rows[2] = rewrite(rows[2], leaf=True, pilot_name="someone")
    result = run(rows, checkpoints)
    assert result.first_bad_index == 2 and "personal data" in result.message


def test_the_first_problem_by_index_wins():
    rows, checkpoints = build()
    rows[15] = rewrite(rows[15], version=9)
    rows[3] = rewrite(rows[3], leaf=True, version=9)
    result = run(rows, checkpoints)
    assert result.first_bad_index == 3


def test_entries_are_streamed_once():
    rows, checkpoints = build()
    consumed = []

    def stream():
        for row in rows:
            consumed.append(row[0])
            yield row

    assert audit(stream(), checkpoints, PUBLIC).ok
    assert consumed == list(range(20))
