"""Storage: the content-addressed blob store and the Alembic migrations, the latter on SQLite
and on a real PostgreSQL server (Debian's package, started here; skipped when it cannot be)."""

from __future__ import annotations

import hashlib
import itertools
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from postgres import PostgresUnavailable, create_database, find_binaries

from api.storage import migrate
from api.storage.blobs import BlobStore, Stored
from api.storage.db import Database
from api.storage.errors import BlobNotFound, StorageError, UploadTooLarge
from api.storage.models import Base

# --- blobs -----------------------------------------------------------------------------------


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_bytes_stores_under_the_hash(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    data = b"a flight log"
    stored = store.put_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    assert stored == Stored(sha256=digest, size=len(data), path=tmp_path / digest[:2] / digest[2:])
    assert stored.path.read_bytes() == data
    assert not stored.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert store.exists(digest) and store.size(digest) == len(data)
    with store.open(digest) as handle:
        assert handle.read() == data
    assert _files(tmp_path) == [stored.path]  # no temporary file left


def test_put_stream_hashes_chunks_as_they_come(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    chunks = [os.urandom(1000) for _ in range(50)]
    stored = store.put_stream(iter(chunks), max_bytes=50_000, what="footage")  # exactly the limit
    whole = b"".join(chunks)
    assert stored.sha256 == hashlib.sha256(whole).hexdigest() and stored.size == len(whole)
    assert stored.path.read_bytes() == whole


def test_limit_exceeded_mid_stream_leaves_nothing_and_stops_reading(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    store.put_bytes(b"already here")
    before = _files(tmp_path)
    consumed = []

    def chunks() -> Iterator[bytes]:
        for i in itertools.count():
            consumed.append(i)
            yield b"x" * 1000

    with pytest.raises(
        UploadTooLarge, match=r"^footage\.mp4 is larger than the limit of 4500 bytes$"
    ):
        store.put_stream(chunks(), max_bytes=4500, what="footage.mp4")
    assert len(consumed) == 5  # the fifth chunk crossed the limit; nothing more was read
    assert _files(tmp_path) == before
    assert issubclass(UploadTooLarge, StorageError) and issubclass(StorageError, ValueError)


def test_a_truncated_stream_leaves_nothing(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)

    def chunks() -> Iterator[bytes]:
        yield b"first half"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        store.put_stream(chunks(), max_bytes=10**6)
    assert _files(tmp_path) == []


def test_writer_discards_unless_committed(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    with store.writer(max_bytes=100, what="track") as writer:
        writer.write(b"partial")
    assert _files(tmp_path) == []
    with store.writer(max_bytes=100, what="track") as writer:
        writer.write(b"whole")
        stored = writer.commit()
    assert stored.path.read_bytes() == b"whole" and _files(tmp_path) == [stored.path]
    with pytest.raises(StorageError, match="already committed"):
        writer.write(b"more")


def test_same_content_twice_is_one_file(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    first = store.put_bytes(b"same")
    second = store.put_stream([b"sa", b"me"])
    assert first == second
    assert _files(tmp_path) == [first.path]


def test_put_file_copies(tmp_path: Path) -> None:
    source = tmp_path / "track.csv"
    source.write_bytes(b"t,lon,lat\n" * 1000)
    store = BlobStore(tmp_path / "blobs")
    stored = store.put_file(source)
    assert stored.path.read_bytes() == source.read_bytes() and source.exists()
    with pytest.raises(UploadTooLarge, match=r"file track\.csv"):
        store.put_file(source, max_bytes=100)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../../etc/passwd",
        "A" * 64,  # upper case
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 62 + "/x",
        "tmp",
    ],
)
def test_bad_hash_names_are_refused(tmp_path: Path, name: str) -> None:
    store = BlobStore(tmp_path)
    for method in (store.path, store.exists, store.open, store.delete):
        with pytest.raises(StorageError, match="is not a sha256 hex digest") as info:
            method(name)
        assert repr(name)[:40] in str(info.value) and "\n" not in str(info.value)


def test_missing_blob_and_delete(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    stored = store.put_bytes(b"to be retired")
    with pytest.raises(BlobNotFound, match="0" * 64):
        store.open("0" * 64)
    assert store.delete(stored.sha256) is True
    assert store.delete(stored.sha256) is False
    assert not store.exists(stored.sha256)


def test_sweep_temp_removes_only_stale_uploads(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    assert store.sweep_temp() == 0  # no tmp folder yet
    stale = store.writer(what="crashed upload")
    stale.write(b"left by a crash")
    stale_path = next(store.tmp_dir.iterdir())
    old = time.time() - 7200
    os.utime(stale_path, (old, old))
    live = store.writer(what="upload in progress")
    live.write(b"still coming")
    other = store.tmp_dir / "notes.txt"
    other.write_text("not ours")
    assert store.sweep_temp(older_than_s=3600) == 1
    assert not stale_path.exists()
    stale.abort()  # what the crashed process never did: close its file
    assert live.commit().path.read_bytes() == b"still coming"
    assert other.exists()
    assert store.sweep_temp(older_than_s=0) == 0


# --- migrations ------------------------------------------------------------------------------


_counter = itertools.count()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a SQLite file, or a fresh database on the session's
    PostgreSQL server (``postgres_url`` from conftest.py, skipped when none can run)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'skyledger.db'}"
    server: str = request.getfixturevalue("postgres_url")
    return create_database(server, f"storage_{next(_counter)}")


def _differences(url: str, metadata: sa.MetaData) -> list[object]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_reaches_head_and_is_idempotent(empty_db: str) -> None:
    assert migrate.current(empty_db) is None
    assert migrate.upgrade(empty_db) == migrate.head() == "0004"
    assert migrate.upgrade(empty_db) == migrate.head()
    assert migrate.current(empty_db) == migrate.head()


def test_migrated_schema_matches_the_models(empty_db: str) -> None:
    migrate.upgrade(empty_db)
    assert _tables(empty_db) == set(Base.metadata.tables) | {"alembic_version"}
    assert _differences(empty_db, Base.metadata) == []
    # The comparison does see a difference when there is one.
    changed = sa.MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(changed)
    changed.tables["flights"].append_column(sa.Column("operator", sa.String(64)))
    assert [d[0] for d in _differences(empty_db, changed)] == ["add_column"]  # type: ignore[index]


def test_a_failed_upgrade_leaves_the_database_as_it_was(empty_db: str) -> None:
    engine = sa.create_engine(empty_db, poolclass=sa.pool.NullPool)
    with engine.begin() as connection:  # a table in the way of the last create_table
        connection.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(sa.exc.DatabaseError, match="notes"):
        migrate.upgrade(empty_db)
    assert migrate.current(empty_db) is None
    assert _tables(empty_db) == {"notes"}  # users ... defects were rolled back


def test_upgrade_through_the_application_engine(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'app.db'}")
    try:
        assert migrate.upgrade(database.engine) == migrate.head()
        with database.engine.connect() as connection:  # the pragmas survive the upgrade
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert migrate.current(database.engine) == migrate.head()
    finally:
        database.close()


def test_postgres_helper_names_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(PostgresUnavailable, match=r"^no PostgreSQL server binaries under") as info:
        find_binaries(tmp_path)
    assert "\n" not in str(info.value)
