"""Tampering with the stored log, as someone with access to the database would: the audit
(``LedgerStore.audit`` and ``skyledger ledger audit``) names the entry or the checkpoint.

Also the other ``skyledger ledger`` commands."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from ledgerkit import disclosed
from sqlalchemy import Connection, delete, insert, select, update

from api.cli import main
from api.ledger import LedgerStore
from api.storage.db import Database
from api.storage.models import LedgerCheckpoint, LedgerEntry
from compliance.ledger.canonical import canonical_json
from compliance.ledger.checkpoint import sign_checkpoint

ENTRIES = 6  # appended one by one: checkpoints 1..7 of sizes 0..6


@pytest.fixture
def log(store: LedgerStore, db: Database) -> LedgerStore:
    for flight_id in range(1, ENTRIES + 1):
        disclosed(db, flight_id)
    assert store.audit().ok
    return store


def _text(conn: Connection, index: int) -> str:
    return str(conn.scalar(select(LedgerEntry.entry).where(LedgerEntry.idx == index)))


def _rewrite(conn: Connection, index: int, *, leaf_too: bool) -> None:
    """Change entry ``index``'s data, keeping it canonical (and its leaf hash matching)."""
    entry = json.loads(_text(conn, index))
    entry["data"]["version"] = 99
    text = canonical_json(entry)
    values: dict[str, str] = {"entry": text.decode()}
    if leaf_too:
        values["leaf_hash"] = hashlib.sha256(b"\x00" + text).hexdigest()
    conn.execute(update(LedgerEntry).where(LedgerEntry.idx == index).values(**values))


def _remove(conn: Connection, index: int) -> None:
    conn.execute(delete(LedgerEntry).where(LedgerEntry.idx == index))


def _swap(conn: Connection, a: int, b: int) -> None:
    rows = {
        r.idx: (r.entry, r.leaf_hash)
        for r in conn.execute(select(LedgerEntry).where(LedgerEntry.idx.in_((a, b))))
    }
    for mine, theirs in ((a, b), (b, a)):
        entry, leaf = rows[theirs]
        conn.execute(
            update(LedgerEntry)
            .where(LedgerEntry.idx == mine)
            .values(entry=entry, leaf_hash=leaf, subject=f"flight:{theirs + 1}")
        )


def _foreign_checkpoint(conn: Connection) -> None:
    """A checkpoint of the right size and root, validly signed, but by another key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    latest = conn.execute(
        select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1)
    ).one()
    forged = sign_checkpoint(
        Ed25519PrivateKey.generate(),
        latest.tree_size,
        bytes.fromhex(latest.root_hash),
        latest.timestamp_ms + 1,
    )
    conn.execute(
        insert(LedgerCheckpoint).values(
            tree_size=forged.tree_size,
            root_hash=forged.root_hash,
            timestamp_ms=forged.timestamp,
            signature=forged.signature,
            public_key=forged.public_key,
        )
    )


def _moved_root(conn: Connection) -> None:
    """Checkpoint 4 (size 3) made to claim another root, signature left as it was."""
    conn.execute(
        update(LedgerCheckpoint).where(LedgerCheckpoint.id == 4).values(root_hash="ab" * 32)
    )


Tamper = Callable[[Connection], None]
CASES: list[tuple[str, Tamper, int | None, int | None, str]] = [
    ("entry text changed", lambda c: _rewrite(c, 2, leaf_too=False), 2, None, "entry 2"),
    ("entry and its leaf hash changed", lambda c: _rewrite(c, 2, leaf_too=True), 2, None, "entry 2"),
    ("last entry and its leaf changed", lambda c: _rewrite(c, 5, leaf_too=True), 5, 7, "entry 5"),
    ("entry removed", lambda c: _remove(c, 3), 3, None, "entry 3 is missing"),
    ("last entry removed", lambda c: _remove(c, 5), 5, 7, "entries from 5 missing"),
    ("two entries swapped", lambda c: _swap(c, 1, 4), 1, None, "entry 1"),
    ("checkpoint signed by another key", _foreign_checkpoint, None, 8, "checkpoint 8 is signed by key"),
    ("checkpoint's root changed", _moved_root, None, 4, "checkpoint 4's signature does not verify"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("tamper", "index", "checkpoint", "says"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_audit_names_what_was_tampered_with(
    log: LedgerStore,
    db: Database,
    ledger_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: Tamper,
    index: int | None,
    checkpoint: int | None,
    says: str,
) -> None:
    with db.engine.begin() as conn:
        tamper(conn)
    result = log.audit()
    assert not result.ok
    assert result.first_bad_index == index, result.message
    assert says in result.message
    if checkpoint is not None:
        assert result.bad_checkpoint == checkpoint, result.message

    capsys.readouterr()
    status = main(["ledger", "audit", "--data-dir", str(tmp_path), "--db", ledger_url])
    out = capsys.readouterr().out.strip()
    assert status == 1 and out == f"ledger does not audit: {result.message}"
    status = main(["ledger", "audit", "--data-dir", str(tmp_path), "--db", ledger_url, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert status == 1 and doc["ok"] is False and doc["first_bad_index"] == index


def test_a_clean_log_audits_clean_from_the_command_line(
    log: LedgerStore, ledger_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data-dir", str(tmp_path), "--db", ledger_url]
    capsys.readouterr()
    assert main(["ledger", "audit", *base]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ledger audits clean: {ENTRIES} entries, 7 checkpoints")
    key = str(log.public_key_hex)
    assert main(["ledger", "audit", *base, "--key", key.upper(), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True and doc["tree_size"] == ENTRIES and doc["outbox"] == 0
    assert doc["root_hash"] == log.root()

    assert main(["ledger", "checkpoint", *base]) == 0
    latest = log.latest_checkpoint()
    assert latest is not None and json.loads(capsys.readouterr().out) == latest[1].to_json()
    assert main(["ledger", "key", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == log.public_key_hex

    other = "11" * 32  # audited against a key that is not the log's: every checkpoint is bad
    assert main(["ledger", "audit", *base, "--key", other]) == 1
    assert "checkpoint 1 is signed by key" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["ledger", "audit", "--key", "abc"], "is not an Ed25519 public key"),
        (["ledger", "audit"], "no ledger key at"),
        (["ledger", "key"], "no ledger key at"),
        (["ledger", "checkpoint"], "no database at"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    status = main([*args, "--data-dir", str(tmp_path / "nothing")])
    err = capsys.readouterr().err
    assert status == 2 and says in err and len(err.strip().splitlines()) == 1
