"""The transparency log as the service keeps it: recorded with its records, appended after
commit, signed at every append.

An entry is written in two steps (the *outbox* pattern):

1. :func:`record` runs inside the business transaction that makes a record (a check, an
   approval, a flight ...). It validates the entry at once (so a bad entry fails that
   transaction) and adds a ``ledger_outbox`` row: the record and its entry-to-be commit
   together, or neither does.
2. :meth:`LedgerStore.flush`, called after the commit (an ``after_commit`` listener, see
   :meth:`LedgerStore.flush_after_commit`) and at every start, drains the outbox in id order
   into ``ledger_entries`` inside ONE write transaction that serialises appenders (SQLite:
   ``BEGIN IMMEDIATE``; PostgreSQL: ``pg_advisory_xact_lock``): it gives each entry its
   index, time and ``prev_root``, stores its canonical JSON and leaf hash, deletes the
   outbox rows and signs a checkpoint for the new size. A process killed anywhere leaves
   either the outbox rows or the appended entries with their checkpoint, never half of one.

Each process keeps a :class:`~compliance.ledger.merkle.MerkleTree` of the leaf hashes and
brings it up to date from ``ledger_entries`` (the rows past its size) before every read and
append, so several worker processes serve the same log. Before it appends, a store checks
the stored log against the latest checkpoint (its size and root) and refuses, in one line,
to extend a log that lost or changed entries: the entries wait in the outbox and
``skyledger ledger audit`` names what changed.

The signing key is an Ed25519 private key in PEM (PKCS#8), made on first start by
:func:`load_or_create_key`, readable by its owner only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from api.storage.models import LedgerCheckpoint, LedgerEntry, LedgerOutbox
from compliance.errors import LedgerError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from api.storage.db import Database
    from compliance.ledger.audit import AuditResult
    from compliance.ledger.checkpoint import Checkpoint
    from compliance.ledger.merkle import MerkleTree

__all__ = [
    "PENDING",
    "LedgerStore",
    "document_sha256",
    "entry_time",
    "load_key",
    "load_or_create_key",
    "record",
]

log = logging.getLogger("skyledger.ledger")

#: The ``session.info`` key :func:`record` sets: the session has entries waiting to append.
PENDING = "ledger_pending"
#: The PostgreSQL advisory lock (any fixed 64-bit number) held by the appending transaction.
PG_LOCK = 0x736B_796C_6564_6772  # "skyledgr"
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: Outbox rows deleted per statement (SQLite allows at most 32766 bound parameters).
_DELETE_CHUNK = 500


def entry_time(when: datetime | None) -> str | None:
    """A time as entries write it: UTC, milliseconds, ``Z`` (``2026-12-07T07:13:17.123Z``);
    None stays None."""
    from compliance.ledger.entries import format_time

    return None if when is None else format_time(when)


def document_sha256(document: Any) -> str:
    """The SHA-256 (hex) of a JSON document's canonical form (RFC 8785), as entries name
    reports and records."""
    import hashlib

    from compliance.ledger.canonical import canonical_json

    return hashlib.sha256(canonical_json(document)).hexdigest()


def record(
    session: Session,
    kind: str,
    subject: str,
    data: dict[str, Any],
    corrects: int | None = None,
) -> None:
    """Record an entry in ``session``'s transaction; it is appended once the session commits.

    The entry is validated now (:func:`compliance.ledger.entries.make_entry`), so a bad one
    (unknown kind, missing field, personal data) raises :class:`LedgerError` and fails the
    transaction that made the record.
    """
    from compliance.ledger.entries import validate_record

    validate_record(kind, subject, data, corrects)
    session.add(LedgerOutbox(kind=kind, subject=subject, data=data, corrects=corrects))
    session.info[PENDING] = True


# --- the key ----------------------------------------------------------------------------------


def load_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key at ``path``; a one-line :class:`LedgerError` when the file is
    missing, readable by group or others, or not an unencrypted PEM Ed25519 key."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except FileNotFoundError:
        raise LedgerError(f"no ledger key at {str(path)!r}") from None
    except OSError as exc:
        raise LedgerError(f"cannot read the ledger key {str(path)!r}: {exc.strerror}") from None
    if mode & 0o077:
        raise LedgerError(
            f"the ledger key {str(path)!r} is readable by group or others (mode "
            f"{mode & 0o777:o}): make it the owner's only (chmod 600)"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise LedgerError(
            f"the ledger key {str(path)!r} is not an unencrypted PEM (PKCS#8) private key"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerError(
            f"the ledger key {str(path)!r} is a {type(key).__name__}, not an Ed25519 key"
        )
    return key


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The key at ``path``, made first when there is none.

    A new key is written to a temporary file (mode 0600) and linked into place, which fails
    when the file exists: of two processes starting at once, the loser reads the winner's
    key. Refuses (:class:`LedgerError`, one line) a key readable by group or others or one
    that is malformed.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        temp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another process made it first
                os.link(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    return load_key(path)


# --- the store --------------------------------------------------------------------------------


class LedgerStore:
    """The log in the database: append (:meth:`flush`), read, prove and audit.

    ``private_key`` signs the checkpoints; a store without one (the command line's audit)
    only reads, and ``public_key_hex`` then names the published key to audit against.
    Safe to share between the threads of a process.
    """

    def __init__(
        self,
        db: Database,
        private_key: Ed25519PrivateKey | None = None,
        *,
        public_key_hex: str | None = None,
    ) -> None:
        self.db = db
        self._key = private_key
        if private_key is not None:
            from compliance.ledger.checkpoint import public_key_hex as public_hex

            public_key_hex = public_hex(private_key)
        self.public_key_hex = public_key_hex
        self._tree: MerkleTree | None = None
        self._lock = threading.Lock()

    # -- appending ---------------------------------------------------------------------------

    def flush_after_commit(self, sessions: sessionmaker[Session]) -> None:
        """Call :meth:`flush` after every commit of a session from ``sessions`` that recorded
        entries. A failed flush is logged, never raised into the committed request: its
        rows stay in the outbox for the next flush (or the next start)."""
        from sqlalchemy import event

        def after_commit(session: Session) -> None:
            if session.info.pop(PENDING, False):
                try:
                    self.flush()
                except Exception:
                    log.exception("the ledger outbox could not be appended (kept for later)")

        event.listen(sessions, "after_commit", after_commit)

    def flush(self) -> int:
        """Append the outbox's entries and sign a checkpoint for the new size (also for an
        empty log that has none); return how many entries were appended."""
        if self._key is None:
            raise LedgerError("this ledger store has no signing key: it can only read")
        with self._lock:
            before = None if self._tree is None else self._tree.size
            try:
                if self._nothing_to_do():
                    return 0
                with self.db.engine.connect() as conn:
                    self._begin_append(conn)
                    appended = self._append(conn)
                    conn.commit()
                    return appended
            except BaseException:
                if self._tree is not None and self._tree.size != before:
                    self._tree = None  # it holds leaves that were rolled back: reload
                raise

    def _nothing_to_do(self) -> bool:
        """No outbox row and a checkpoint for the known size (read without the write lock)."""
        if self._tree is None:
            return False
        with self.db.engine.connect() as conn:
            waiting = conn.scalar(select(LedgerOutbox.id).limit(1))
            latest = conn.scalar(select(func.max(LedgerCheckpoint.id)))
            signed = conn.scalar(
                select(LedgerCheckpoint.tree_size).where(LedgerCheckpoint.id == latest)
            )
            stored = conn.scalar(select(func.max(LedgerEntry.idx)))
        size = 0 if stored is None else int(stored) + 1
        return waiting is None and signed is not None and signed == size == self._tree.size

    def _begin_append(self, conn: Connection) -> None:
        """Start the one appending transaction: others wait until it commits."""
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_LOCK})")
        else:  # pragma: no cover - the service runs on SQLite and PostgreSQL only
            raise LedgerError(f"database {conn.dialect.name!r}: use SQLite or PostgreSQL")

    def _append(self, conn: Connection) -> int:
        from compliance.ledger.checkpoint import sign_checkpoint
        from compliance.ledger.entries import entry_bytes, format_time, make_entry
        from compliance.ledger.merkle import leaf_hash

        assert self._key is not None
        tree = self._refresh(conn)
        latest = conn.execute(
            select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1)
        ).first()
        if latest is not None and latest.public_key != self.public_key_hex:
            raise LedgerError(
                f"checkpoint {latest.id} was signed with key {latest.public_key}, not with this "
                f"service's key {self.public_key_hex}: restore the ledger key it was signed with"
            )
        if latest is not None and latest.tree_size > tree.size:
            raise LedgerError(
                f"checkpoint {latest.id} covers {latest.tree_size} entries but the stored log "
                f"holds {tree.size}: entries were removed; run 'skyledger ledger audit'"
            )
        if latest is not None and tree.root(latest.tree_size).hex() != latest.root_hash:
            raise LedgerError(
                f"the stored log's root at size {latest.tree_size} is not checkpoint "
                f"{latest.id}'s: entries were changed; run 'skyledger ledger audit'"
            )
        waiting = conn.execute(select(LedgerOutbox).order_by(LedgerOutbox.id)).all()
        if not waiting and latest is not None and latest.tree_size == tree.size:
            return 0
        now = datetime.now(UTC)
        stamp = format_time(now)
        rows: list[dict[str, Any]] = []
        done: list[int] = []
        for item in waiting:
            index = tree.size
            try:
                entry = make_entry(
                    index, item.kind, item.subject, stamp, tree.root().hex(), item.data,
                    item.corrects,
                )  # fmt: skip
            except LedgerError as exc:  # cannot happen for a row record() made: keep it
                log.error("ledger outbox row %s is kept, not appended: %s", item.id, exc)
                continue
            data = entry_bytes(entry)
            leaf = leaf_hash(data)
            tree.append(leaf)
            rows.append(
                {
                    "idx": index,
                    "kind": item.kind,
                    "subject": item.subject,
                    "entry": data.decode("utf-8"),
                    "leaf_hash": leaf.hex(),
                    "logged_at": now,
                }
            )
            done.append(item.id)
        if rows:
            conn.execute(insert(LedgerEntry), rows)
        for start in range(0, len(done), _DELETE_CHUNK):
            chunk = done[start : start + _DELETE_CHUNK]
            conn.execute(delete(LedgerOutbox).where(LedgerOutbox.id.in_(chunk)))
        if not rows and latest is not None and latest.tree_size == tree.size:
            return 0
        stamp_ms = int(now.timestamp() * 1000)
        if latest is not None:
            stamp_ms = max(stamp_ms, int(latest.timestamp_ms))  # never backwards
        checkpoint = sign_checkpoint(self._key, tree.size, tree.root(), stamp_ms)
        conn.execute(
            insert(LedgerCheckpoint).values(
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root_hash,
                timestamp_ms=checkpoint.timestamp,
                signature=checkpoint.signature,
                public_key=checkpoint.public_key,
            )
        )
        return len(rows)

    # -- the tree ----------------------------------------------------------------------------

    def _refresh(self, conn: Connection) -> MerkleTree:
        """The in-memory tree with every stored entry past its size added (lock held).

        The last stored index is read first (an index lookup whatever the table's
        statistics say), so a tree already up to date costs one cheap query and new rows
        are read as a bounded range of the primary key.
        """
        from compliance.ledger.merkle import MerkleTree

        tree = self._tree if self._tree is not None else MerkleTree()
        self._tree = tree
        last = conn.scalar(select(func.max(LedgerEntry.idx)))
        stored = 0 if last is None else int(last) + 1
        if stored < tree.size:
            self._tree = None
            raise LedgerError(
                f"the stored log ends before entry {stored}, but {tree.size} entries were "
                "read from it: entries were removed; run 'skyledger ledger audit'"
            )
        if stored == tree.size:
            return tree
        rows = conn.execute(
            select(LedgerEntry.idx, LedgerEntry.leaf_hash)
            .where(LedgerEntry.idx >= tree.size, LedgerEntry.idx < stored)
            .order_by(LedgerEntry.idx)
        )
        try:
            for idx, leaf in rows:
                if idx != tree.size:
                    raise LedgerError(
                        f"the stored log has no entry {tree.size} (the next is {idx}): "
                        "run 'skyledger ledger audit'"
                    )
                tree.append(bytes.fromhex(leaf))
        except ValueError as exc:
            self._tree = None
            if isinstance(exc, LedgerError):
                raise
            raise LedgerError(
                f"the stored leaf hash of entry {tree.size} is not hex: "
                "run 'skyledger ledger audit'"
            ) from None
        if tree.size != stored:
            self._tree = None
            raise LedgerError(
                f"the stored log has no entry {tree.size} (its last is {stored - 1}): "
                "run 'skyledger ledger audit'"
            )
        return tree

    @contextlib.contextmanager
    def _reading(self) -> Iterator[tuple[Connection, MerkleTree]]:
        with self._lock, self.db.engine.connect() as conn:
            yield conn, self._refresh(conn)

    # -- reading -----------------------------------------------------------------------------

    def size(self) -> int:
        """How many entries the log holds."""
        with self._reading() as (_conn, tree):
            return tree.size

    def latest_checkpoint(self) -> tuple[int, Checkpoint] | None:
        """The newest signed checkpoint and its number (None before the first flush)."""
        with self.db.engine.connect() as conn:
            row = conn.execute(
                select(LedgerCheckpoint).order_by(LedgerCheckpoint.id.desc()).limit(1)
            ).first()
        return None if row is None else (int(row.id), _checkpoint(row))

    def checkpoints(
        self, offset: int = 0, limit: int = 50
    ) -> tuple[int, list[tuple[int, Checkpoint]]]:
        """How many checkpoints there are, and ``limit`` of them from ``offset`` (oldest first)."""
        with self.db.engine.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(LedgerCheckpoint)) or 0
            rows = conn.execute(
                select(LedgerCheckpoint).order_by(LedgerCheckpoint.id).offset(offset).limit(limit)
            ).all()
        return int(total), [(int(row.id), _checkpoint(row)) for row in rows]

    def checkpoint_containing(self, index: int) -> int | None:
        """The number of the first checkpoint whose tree holds entry ``index`` (None yet)."""
        with self.db.engine.connect() as conn:
            found = conn.scalar(
                select(func.min(LedgerCheckpoint.id)).where(LedgerCheckpoint.tree_size > index)
            )
        return None if found is None else int(found)

    def entry(self, index: int) -> tuple[dict[str, Any], str] | None:
        """Entry ``index`` (the JSON object whose canonical form is the leaf's bytes) and its
        leaf hash; None when the log has no such entry."""
        with self.db.engine.connect() as conn:
            row = conn.execute(
                select(LedgerEntry.entry, LedgerEntry.leaf_hash).where(LedgerEntry.idx == index)
            ).first()
        return None if row is None else (json.loads(row.entry), str(row.leaf_hash))

    def entries(self, start: int, limit: int) -> list[tuple[int, dict[str, Any], str]]:
        """Up to ``limit`` entries from index ``start``: (index, entry, leaf hash)."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(LedgerEntry.idx, LedgerEntry.entry, LedgerEntry.leaf_hash)
                .where(LedgerEntry.idx >= start)
                .order_by(LedgerEntry.idx)
                .limit(limit)
            ).all()
        return [(int(r.idx), json.loads(r.entry), str(r.leaf_hash)) for r in rows]

    def entries_for(self, subject: str) -> list[tuple[int, str, dict[str, Any]]]:
        """The entries about ``subject`` (``"flight:12"``): (index, kind, entry), oldest first."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(LedgerEntry.idx, LedgerEntry.kind, LedgerEntry.entry)
                .where(LedgerEntry.subject == subject)
                .order_by(LedgerEntry.idx)
            ).all()
        return [(int(r.idx), str(r.kind), json.loads(r.entry)) for r in rows]

    def inclusion_proof(self, index: int, tree_size: int) -> list[str]:
        """The audit path (hex) of entry ``index`` in the tree of ``tree_size`` entries."""
        with self._reading() as (_conn, tree):
            _sizes(tree.size, tree_size)
            if not 0 <= index < tree_size:
                raise LedgerError(f"index {index} is not below tree_size {tree_size}")
            return [h.hex() for h in tree.inclusion_proof(index, tree_size)]

    def consistency_proof(self, first: int, second: int) -> list[str]:
        """The proof (hex) that the tree of ``second`` entries extends the one of ``first``."""
        with self._reading() as (_conn, tree):
            _sizes(tree.size, second, "second")
            if not 0 <= first <= second:
                raise LedgerError(f"first {first} is not within 0..{second} (second {second})")
            return [h.hex() for h in tree.consistency_proof(first, second)]

    def root(self, tree_size: int | None = None) -> str:
        """The root hash (hex) of the tree of ``tree_size`` entries (all by default)."""
        with self._reading() as (_conn, tree):
            size = tree.size if tree_size is None else _sizes(tree.size, tree_size)
            return tree.root(size).hex()

    def pending(self) -> int:
        """How many entries wait in the outbox."""
        with self.db.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(LedgerOutbox)) or 0)

    def audit(self, public_key_hex: str | None = None) -> AuditResult:
        """Recompute every leaf and node from the stored entries and check every checkpoint
        (:func:`compliance.ledger.audit.audit`) against ``public_key_hex`` (this store's
        key by default)."""
        from compliance.ledger.audit import audit

        key = public_key_hex or self.public_key_hex
        if not key:
            raise LedgerError("auditing needs the log's published public key")
        with self.db.engine.connect() as conn:
            # checkpoints first: entries only grow, so every checkpoint read is covered
            checkpoints = [
                (int(row.id), _checkpoint(row))
                for row in conn.execute(select(LedgerCheckpoint).order_by(LedgerCheckpoint.id))
            ]
            rows = conn.execution_options(yield_per=2000).execute(
                select(LedgerEntry.idx, LedgerEntry.entry, LedgerEntry.leaf_hash).order_by(
                    LedgerEntry.idx
                )
            )
            return audit(
                ((int(r.idx), str(r.entry), str(r.leaf_hash)) for r in rows), checkpoints, key
            )


def _sizes(size: int, tree_size: int, name: str = "tree_size") -> int:
    if not 0 <= tree_size <= size:
        raise LedgerError(f"{name} {tree_size} is not within 0..{size} (the log's size)")
    return tree_size


def _checkpoint(row: Any) -> Checkpoint:
    """The checkpoint of a stored row. A row too malformed to be one (a hash that is not
    hex ...) becomes one whose signature cannot verify, so the audit names it."""
    from compliance.ledger.checkpoint import Checkpoint

    try:
        return Checkpoint(
            tree_size=int(row.tree_size),
            root_hash=str(row.root_hash),
            timestamp=int(row.timestamp_ms),
            signature=str(row.signature),
            public_key=str(row.public_key),
        )
    except LedgerError:
        log.error("ledger checkpoint %s is malformed", row.id)
        return Checkpoint(
            tree_size=min(max(int(row.tree_size), 0), 2**53 - 1),
            root_hash="0" * 64,
            timestamp=0,
            signature="0" * 128,
            public_key=str(row.public_key) if _HEX64.fullmatch(str(row.public_key)) else "0" * 64,
        )
