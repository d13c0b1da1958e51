"""Schema migrations through Alembic, driven from code (no ``alembic.ini`` on disk).

>>> head()
'0001'

``upgrade(url)`` brings a database to the newest revision and returns it; running it again is
a no-op. ``current(url)`` is the database's revision (``None`` before the first upgrade). Both
also take an SQLAlchemy ``Engine``, so the application can migrate through the engine it has
already configured (SQLite pragmas, an in-memory database). The scripts live in
``api/storage/migrations``; its ``env.py`` takes the connection from ``Config.attributes`` and
never configures logging.

An upgrade is one transaction, all or nothing, on SQLite too: there it runs inside
``BEGIN IMMEDIATE`` (pysqlite would otherwise commit each DDL statement on its own) with
foreign keys off, as SQLite's table rebuilds need, and checked with ``PRAGMA
foreign_key_check`` before the commit. Two processes starting at once (two server workers)
do not race: SQLite's write lock or, on PostgreSQL, an advisory lock orders them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from api.storage.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection, Engine

__all__ = ["MIGRATIONS", "config", "current", "head", "upgrade"]

#: The Alembic script folder (env.py, script.py.mako, versions/).
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Key of the PostgreSQL advisory lock held while migrating ("skyl" in ASCII).
_PG_LOCK_KEY = 0x736B796C


def config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for our scripts, handing ``connection`` to ``env.py``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision of the migration scripts."""
    from alembic.script import ScriptDirectory

    revision = ScriptDirectory.from_config(config()).get_current_head()
    if revision is None:  # pragma: no cover - a broken installation
        raise StorageError(f"no migration scripts in {MIGRATIONS}")
    return revision


@contextmanager
def _engine(target: str | Engine) -> Iterator[Engine]:
    from sqlalchemy import create_engine, pool
    from sqlalchemy.engine import Engine

    if isinstance(target, Engine):
        yield target
        return
    engine = create_engine(target, poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade(target: str | Engine, revision: str = "head") -> str:
    """Migrate the database at ``target`` (a URL or an Engine) to ``revision``; return it."""
    from alembic import command
    from sqlalchemy import text

    with _engine(target) as engine:
        with engine.connect() as connection:
            if connection.dialect.name == "sqlite":
                _upgrade_sqlite(connection, revision)
            else:
                with connection.begin():
                    if connection.dialect.name == "postgresql":
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                        )
                    command.upgrade(config(connection), revision)
        now = current(engine)
    if now is None:  # pragma: no cover - alembic always stamps a version
        raise StorageError(f"the upgrade to {revision} left no revision in the database")
    return now


def _upgrade_sqlite(connection: Connection, revision: str) -> None:
    from alembic import command

    raw = connection.connection.driver_connection
    saved_isolation = raw.isolation_level  # type: ignore[union-attr]
    # pysqlite's own transaction handling never wraps DDL; take it over for the upgrade.
    raw.isolation_level = None  # type: ignore[union-attr]
    try:
        foreign_keys = bool(connection.exec_driver_sql("PRAGMA foreign_keys").scalar())
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # no effect inside a transaction
        connection.commit()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            command.upgrade(config(connection), revision)
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                table, rowid, parent = broken[0][:3]
                raise StorageError(
                    f"the upgrade to {revision} would leave {len(broken)} broken foreign keys "
                    f"(first: row {rowid} of {table} names a missing {parent}); rolled back"
                )
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
        if foreign_keys:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()
    finally:
        raw.isolation_level = saved_isolation  # type: ignore[union-attr]


def current(target: str | Engine) -> str | None:
    """The database's revision, or ``None`` when it was never migrated."""
    from alembic.migration import MigrationContext

    with _engine(target) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
