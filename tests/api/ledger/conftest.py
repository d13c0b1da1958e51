"""Fixtures of the ledger storage tests: a migrated database (SQLite, and PostgreSQL where it
can run) with a :class:`api.ledger.LedgerStore` that appends after every commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.ledger import LedgerStore, load_or_create_key
from api.storage import migrate
from api.storage.db import Database


@pytest.fixture
def ledger_url(tmp_path: Path, db_url: str | None) -> str:
    """A migrated database: the ``db_url`` fixture's PostgreSQL one, or a SQLite file."""
    url = db_url or f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def db(ledger_url: str) -> Iterator[Database]:
    database = Database(ledger_url)
    yield database
    database.close()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger" / "ed25519.key"


@pytest.fixture
def store(db: Database, key_path: Path) -> LedgerStore:
    """A store as the service makes one: key made, leftovers flushed, flushing on commit."""
    ledger = LedgerStore(db, load_or_create_key(key_path))
    ledger.flush()
    ledger.flush_after_commit(db.sessions)
    return ledger
