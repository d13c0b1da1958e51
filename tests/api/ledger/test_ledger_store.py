"""The ledger store: entries recorded with their records and appended after commit, reads,
proofs, checkpoints and the signing key, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from ledgerkit import disclosed
from sqlalchemy import func, select

from api.ledger import LedgerStore, load_key, load_or_create_key, record
from api.storage.db import Database
from api.storage.models import LedgerCheckpoint, LedgerEntry, LedgerOutbox, Note, User
from compliance.errors import LedgerError
from compliance.ledger.canonical import canonical_json
from compliance.ledger.checkpoint import public_key_hex, verify_checkpoint
from compliance.ledger.merkle import (
    EMPTY_ROOT,
    leaf_hash,
    reference_root,
    verify_consistency,
    verify_inclusion,
)


def _count(db: Database, table: type) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_an_empty_log_is_signed_at_size_zero(store: LedgerStore) -> None:
    latest = store.latest_checkpoint()
    assert latest is not None
    number, checkpoint = latest
    assert number == 1 and checkpoint.tree_size == 0
    assert checkpoint.root_hash == EMPTY_ROOT.hex()
    assert verify_checkpoint(checkpoint, store.public_key_hex)
    assert store.flush() == 0 and store.latest_checkpoint() == latest  # nothing new: no new one


def test_entries_are_appended_after_commit_in_the_order_recorded(
    store: LedgerStore, db: Database
) -> None:
    disclosed(db, 7, 8, 9)
    assert store.size() == 3 and store.pending() == 0
    leaves: list[bytes] = []
    for index, flight_id in enumerate((7, 8, 9)):
        found = store.entry(index)
        assert found is not None
        entry, leaf = found
        assert entry["index"] == index and entry["subject"] == f"flight:{flight_id}"
        assert entry["kind"] == "disclosure_published" and entry["schema"] == 1
        assert entry["prev_root"] == reference_root(leaves).hex()
        assert leaf == leaf_hash(canonical_json(entry)).hex()
        leaves.append(bytes.fromhex(leaf))
    latest = store.latest_checkpoint()
    assert latest is not None and latest[0] == 2  # one checkpoint for the whole transaction
    assert latest[1].tree_size == 3 and latest[1].root_hash == reference_root(leaves).hex()
    assert verify_checkpoint(latest[1], store.public_key_hex)
    assert store.entry(3) is None
    assert [i for i, _, _ in store.entries(1, 10)] == [1, 2]
    assert [(i, k) for i, k, _ in store.entries_for("flight:8")] == [(1, "disclosure_published")]
    assert store.checkpoint_containing(2) == 2 and store.checkpoint_containing(3) is None
    total, checkpoints = store.checkpoints(0, 10)
    assert total == 2 and [n for n, _ in checkpoints] == [1, 2]
    assert store.audit().ok


def test_proofs_verify_for_every_pair_of_sizes(store: LedgerStore, db: Database) -> None:
    for flight_id in range(1, 10):  # one transaction, one checkpoint each
        disclosed(db, flight_id)
    size = store.size()
    assert size == 9
    leaves = [bytes.fromhex(store.entry(i)[1]) for i in range(size)]  # type: ignore[index]
    for tree_size in range(1, size + 1):
        root = reference_root(leaves[:tree_size])
        assert store.root(tree_size) == root.hex()
        for index in range(tree_size):
            path = [bytes.fromhex(h) for h in store.inclusion_proof(index, tree_size)]
            assert verify_inclusion(leaves[index], index, tree_size, path, root)
        for first in range(0, tree_size + 1):
            proof = [bytes.fromhex(h) for h in store.consistency_proof(first, tree_size)]
            first_root = reference_root(leaves[:first])
            assert verify_consistency(first, tree_size, first_root, root, proof)
    _, checkpoints = store.checkpoints(0, 100)
    assert [cp.tree_size for _, cp in checkpoints] == list(range(10))
    for (_, old), (_, new) in itertools.pairwise(checkpoints):
        proof = [bytes.fromhex(h) for h in store.consistency_proof(old.tree_size, new.tree_size)]
        assert verify_consistency(
            old.tree_size,
            new.tree_size,
            bytes.fromhex(old.root_hash),
            bytes.fromhex(new.root_hash),
            proof,
        )
        assert new.timestamp >= old.timestamp


def test_proofs_for_sizes_the_log_does_not_have_are_one_line_errors(
    store: LedgerStore, db: Database
) -> None:
    disclosed(db, 1, 2, 3)
    with pytest.raises(LedgerError, match="index 3 is not below tree_size 3"):
        store.inclusion_proof(3, 3)
    with pytest.raises(LedgerError, match=r"tree_size 4 is not within 0\.\.3"):
        store.inclusion_proof(0, 4)
    with pytest.raises(LedgerError, match=r"first 3 is not within 0\.\.2"):
        store.consistency_proof(3, 2)
    with pytest.raises(LedgerError, match=r"second 9 is not within 0\.\.3"):
        store.consistency_proof(1, 9)


def test_a_rolled_back_record_leaves_no_entry(store: LedgerStore, db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        record(session, "question_reviewed", "question:1", {"question_id": 1, "published": True})
        raise RuntimeError("the business transaction fails")
    assert _count(db, LedgerOutbox) == 0 and store.size() == 0


def test_a_bad_entry_fails_the_transaction_that_records_it(
    store: LedgerStore, db: Database
) -> None:
    with pytest.raises(LedgerError, match="personal data"), db.session() as session:
        session.add(User(name="someone", role="crew", token_id="t", token_salt="s", token_hash="h"))
        record(
            session,
            "question_reviewed",
            "question:1",
            {"question_id": 1, "published": True, "reviewer_name": "Ann"},
        )
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
    assert _count(db, LedgerOutbox) == 0


def test_the_outbox_a_stop_left_is_appended_at_the_next_start(
    ledger_url: str, key_path: Path
) -> None:
    quiet = Database(ledger_url)  # no flush after commit: as if the process stopped there
    try:
        disclosed(quiet, 1, 2)
        assert _count(quiet, LedgerOutbox) == 2 and _count(quiet, LedgerEntry) == 0
        store = LedgerStore(quiet, load_or_create_key(key_path))
        assert store.flush() == 2
        assert _count(quiet, LedgerOutbox) == 0 and store.size() == 2
        assert store.audit().ok
    finally:
        quiet.close()


def test_two_stores_on_one_database_keep_one_log(
    ledger_url: str, key_path: Path, store: LedgerStore, db: Database
) -> None:
    """A second process's store: its tree catches up with what the first appended."""
    other_db = Database(ledger_url)
    try:
        other = LedgerStore(other_db, load_key(key_path))
        other.flush_after_commit(other_db.sessions)
        disclosed(db, 1)
        disclosed(other_db, 2, 3)
        disclosed(db, 4)
        assert store.size() == other.size() == 4
        assert store.root() == other.root()
        assert [store.entry(i)[0]["data"]["flight_id"] for i in range(4)] == [1, 2, 3, 4]  # type: ignore[index]
        assert other.audit().ok and store.audit().ok
    finally:
        other_db.close()


def test_a_store_with_another_key_refuses_to_sign(
    ledger_url: str, tmp_path: Path, store: LedgerStore, db: Database
) -> None:
    disclosed(db, 1)
    intruder = LedgerStore(db, load_or_create_key(tmp_path / "other.key"))
    with pytest.raises(LedgerError, match="restore the ledger key"):
        intruder.flush()
    reader = LedgerStore(db, public_key_hex=store.public_key_hex)
    with pytest.raises(LedgerError, match="can only read"):
        reader.flush()
    assert reader.audit().ok and reader.size() == 1


def test_the_checkpoints_and_entries_tables_agree(store: LedgerStore, db: Database) -> None:
    disclosed(db, 1, 2)
    with db.session() as session:
        session.add(User(name="crew", role="crew", token_id="t", token_salt="s", token_hash="h"))
        session.flush()
        session.add(Note(subject="plan", subject_id=1, author_id=1, text="no entry"))
    with db.session() as session:
        sizes = list(session.scalars(select(LedgerCheckpoint.tree_size)))
    assert sizes == [0, 2]  # a commit without entries signs nothing


# --- the key ----------------------------------------------------------------------------------


def test_the_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "ledger" / "ed25519.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public_key_hex(load_or_create_key(path)) == public_key_hex(key)
    assert [p.name for p in path.parent.iterdir()] == ["ed25519.key"]  # no temporary left


def test_a_key_others_can_read_or_a_malformed_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ed25519.key"
    load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(LedgerError, match=r"readable by group or others \(mode 644\)"):
        load_or_create_key(path)
    path.chmod(0o600)
    path.write_text("not a key\n")
    with pytest.raises(LedgerError, match="not an unencrypted PEM"):
        load_or_create_key(path)
    with pytest.raises(LedgerError, match="no ledger key at"):
        load_key(tmp_path / "missing.key")


def test_processes_starting_at_once_share_one_key(tmp_path: Path) -> None:
    path = tmp_path / "ledger" / "ed25519.key"
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from api.ledger import load_or_create_key\n"
        "from compliance.ledger.checkpoint import public_key_hex\n"
        "print(public_key_hex(load_or_create_key(Path(sys.argv[1]))))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(4)
    ]
    keys = {child.communicate(timeout=60)[0].strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert len(keys) == 1 and keys == {public_key_hex(load_key(path))}
    assert [p.name for p in path.parent.iterdir()] == ["ed25519.key"]


def test_a_store_refuses_a_log_that_shrank_under_it(store: LedgerStore, db: Database) -> None:
    from sqlalchemy import delete

    disclosed(db, 1, 2, 3)
    assert store.size() == 3
    with db.engine.begin() as conn:
        conn.execute(delete(LedgerEntry).where(LedgerEntry.idx == 2))
    with pytest.raises(LedgerError, match="entries were removed"):
        store.inclusion_proof(0, 2)
    disclosed(db, 4)  # its flush after the commit fails, and is only logged
    with pytest.raises(LedgerError, match="entries were removed"):
        store.flush()
    assert _count(db, LedgerOutbox) == 1  # kept for when the log is repaired


def test_a_store_refuses_to_extend_a_log_its_checkpoint_does_not_match(
    ledger_url: str, key_path: Path, store: LedgerStore, db: Database
) -> None:
    from sqlalchemy import update

    disclosed(db, 1, 2)
    with db.engine.begin() as conn:
        conn.execute(update(LedgerEntry).where(LedgerEntry.idx == 0).values(leaf_hash="ab" * 32))
    later = Database(ledger_url)  # a process started after the change
    try:
        restarted = LedgerStore(later, load_key(key_path))
        disclosed(later, 3)
        with pytest.raises(LedgerError, match="is not checkpoint 2's: entries were changed"):
            restarted.flush()
        assert restarted.pending() == 1 and _count(db, LedgerEntry) == 2
    finally:
        later.close()
