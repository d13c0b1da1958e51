"""``skyledger serve``, ``skyledger users ...`` and ``skyledger db ...``: run the service and
look after its database.

    skyledger serve [--host H] [--port P] [--data-dir DIR] [--db URL] [--workers N]
    skyledger users add NAME --role crew|regulator|admin [--data-dir DIR | --db URL]
    skyledger users list [--data-dir DIR | --db URL]
    skyledger db upgrade [--data-dir DIR | --db URL]
    skyledger db current [--data-dir DIR | --db URL]

The database is the SQLite file ``skyledger.db`` in the data folder (default
``./skyledger-data``) unless ``--db`` names another (``postgresql+psycopg://...``).
``serve`` and ``users add`` apply the migrations first; ``users add`` prints the new user's
API token once, alone on its last line (only a salted hash of it is stored). A bad database
URL, an unreachable server or a taken user name is one line and exit status 2.

With ``--workers`` above 1 uvicorn starts each worker process from an import string:
:func:`app_from_env` builds the app from ``SKYLEDGER_DATA_DIR`` and ``SKYLEDGER_DB``, which
``serve`` sets for them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from api.commands import CommandError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.settings import Settings

__all__ = ["DEFAULT_DATA_DIR", "add_commands", "app_from_env"]

DEFAULT_DATA_DIR = "skyledger-data"
ENV_DATA_DIR = "SKYLEDGER_DATA_DIR"
ENV_DB = "SKYLEDGER_DB"
ENV_MAX_UPLOAD = "SKYLEDGER_MAX_UPLOAD_BYTES"

T = TypeVar("T")


def app_from_env() -> FastAPI:
    """The app for ``SKYLEDGER_DATA_DIR`` (default ``./skyledger-data``) and ``SKYLEDGER_DB``.

    uvicorn's factory for worker processes: ``uvicorn --factory api.cli_service:app_from_env``.
    """
    from api.app import create_app
    from api.settings import Settings

    data_dir = os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR
    limit = os.environ.get(ENV_MAX_UPLOAD, "")
    settings = Settings(data_dir=Path(data_dir), db_url=os.environ.get(ENV_DB) or None)
    if limit.isdigit() and int(limit) > 0:
        settings = replace(settings, max_upload_bytes=int(limit))
    return create_app(settings)


# --- arguments --------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} must be within 1..65535")
    return port


def _megabytes(text: str) -> int:
    try:
        mb = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of megabytes") from None
    if not 0 < mb <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text} MB must be above 0 and at most 1000000")
    return int(mb * 1024 * 1024)


def _workers(text: str) -> int:
    try:
        workers = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= workers <= 64:
        raise argparse.ArgumentTypeError(f"{workers} workers: give 1 to 64")
    return workers


def _storage(p: argparse.ArgumentParser, exclusive: bool) -> None:
    target: Any = p.add_mutually_exclusive_group() if exclusive else p
    target.add_argument(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help=f"the data folder: database (SQLite) and files (default ./{DEFAULT_DATA_DIR})",
    )
    target.add_argument(
        "--db",
        metavar="URL",
        help="a database URL instead of the data folder's SQLite file "
        "(postgresql+psycopg://USER:PASSWORD@HOST/NAME)",
    )


def add_commands(sub: Any) -> None:
    """Add ``serve``, ``users`` and ``db`` to the ``skyledger`` sub-command parsers."""
    p = sub.add_parser("serve", help="run the web service (applies the migrations first)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port to listen on (default 8000)")
    _storage(p, exclusive=False)
    p.add_argument(
        "--workers", type=_workers, default=1, metavar="N", help="server processes (default 1)"
    )
    p.add_argument(
        "--max-upload-mb",
        type=_megabytes,
        metavar="MB",
        help="largest footage or log upload (default 2048)",
    )
    p.set_defaults(func=cmd_serve)

    users = sub.add_parser("users", help="add and list the service's users")
    cmds = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    p = cmds.add_parser("add", help="add a user and print its API token (shown only once)")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--role", required=True, choices=("crew", "regulator", "admin"))
    _storage(p, exclusive=True)
    p.set_defaults(func=cmd_users_add)
    p = cmds.add_parser("list", help="list the users")
    _storage(p, exclusive=True)
    p.set_defaults(func=cmd_users_list)

    db = sub.add_parser("db", help="the service's database schema")
    cmds = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    p = cmds.add_parser("upgrade", help="apply the migrations; print the revision")
    _storage(p, exclusive=True)
    p.set_defaults(func=cmd_db_upgrade)
    p = cmds.add_parser("current", help="print the database's revision")
    _storage(p, exclusive=True)
    p.set_defaults(func=cmd_db_current)


# --- the database -----------------------------------------------------------------------------


def settings_from_args(args: argparse.Namespace) -> Settings:
    from api.settings import Settings

    return Settings(data_dir=Path(args.data_dir), db_url=args.db or None)


def shown_url(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the --db URL"


def _database_call(url: str, action: Callable[[], T]) -> T:
    """Run ``action``; a URL SQLAlchemy cannot use or a server it cannot reach is one line."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    from api.storage.errors import StorageError

    try:
        return action()
    except NoSuchModuleError:
        raise CommandError(
            f"--db {shown_url(url)}: unknown database kind {url.split(':', 1)[0]!r} "
            "(use sqlite:///FILE or postgresql+psycopg://USER:PASSWORD@HOST/NAME)"
        ) from None
    except ArgumentError as exc:
        raise CommandError(
            f"--db {url!r} is not a database URL SQLAlchemy understands ({_first_line(exc)}; "
            "e.g. postgresql+psycopg://USER:PASSWORD@HOST/NAME)"
        ) from None
    except ModuleNotFoundError as exc:
        raise CommandError(
            f"--db {shown_url(url)}: its database driver {exc.name!r} is not installed "
            "(postgresql+psycopg:// uses the installed psycopg)"
        ) from None
    except DBAPIError as exc:
        raise CommandError(
            f"cannot use the database {shown_url(url)}: {_first_line(exc.orig or exc)}"
        ) from None
    except StorageError as exc:
        raise CommandError(str(exc)) from None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _sqlite_file(settings: Settings) -> Path | None:
    url = settings.url
    if not url.startswith("sqlite:///") or url == "sqlite:///:memory:":
        return None
    return Path(url.removeprefix("sqlite:///"))


def upgrade(settings: Settings) -> str:
    """Create the data folder (SQLite) and apply the migrations; the revision reached."""
    from api.storage import migrate

    sqlite = _sqlite_file(settings)
    if sqlite is not None:
        try:
            sqlite.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(
                f"cannot create the folder {str(sqlite.parent)!r}: {exc.strerror or exc}"
            ) from None
    revision = _database_call(settings.url, lambda: migrate.upgrade(settings.url))
    if sqlite is not None:
        _database_call(settings.url, lambda: _open_once(settings.url))
    return revision


def _open_once(url: str) -> None:
    """Connect once as the service does: a SQLite file is switched to WAL mode here, before
    any server process starts (workers switching it at the same moment lock each other out)."""
    from api.storage.db import Database

    db = Database(url)
    try:
        with db.engine.connect():
            pass
    finally:
        db.close()


def existing(settings: Settings, migrated: bool = True) -> str | None:
    """The revision of a database that exists (and, with ``migrated``, has our tables)."""
    from api.storage import migrate

    sqlite = _sqlite_file(settings)
    if sqlite is not None and not sqlite.is_file():
        raise CommandError(
            f"no database at {str(sqlite)!r}; 'skyledger db upgrade' or 'skyledger serve' "
            "creates it (or give --data-dir / --db)"
        )
    revision = _database_call(settings.url, lambda: migrate.current(settings.url))
    if revision is None and migrated:
        raise CommandError(
            f"the database {shown_url(settings.url)} has no skyledger tables; "
            "run 'skyledger db upgrade'"
        )
    return revision


@contextmanager
def _session(settings: Settings) -> Iterator[Any]:
    from api.storage.db import Database

    db = Database(settings.url)
    try:
        with db.session() as session:
            yield session
    finally:
        db.close()


# --- commands ---------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = settings_from_args(args)
    if args.max_upload_mb:
        settings = replace(settings, max_upload_bytes=args.max_upload_mb)
    revision = upgrade(settings)
    print(
        f"skyledger: serving http://{args.host}:{args.port}/ from {shown_url(settings.url)} "
        f"(schema {revision}), files in {settings.data_dir}",
        file=sys.stderr,
    )
    if args.workers == 1:
        from api.app import create_app

        uvicorn.run(create_app(settings), host=args.host, port=args.port)
        return 0
    os.environ[ENV_DATA_DIR] = str(Path(args.data_dir).resolve())
    if args.db:
        os.environ[ENV_DB] = args.db
    else:
        os.environ.pop(ENV_DB, None)
    os.environ[ENV_MAX_UPLOAD] = str(settings.max_upload_bytes)
    uvicorn.run(
        f"{__name__}:app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
    )
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    from api.auth import AuthError, add_user

    settings = settings_from_args(args)
    upgrade(settings)

    def add() -> tuple[int, str]:
        with _session(settings) as session:
            made = add_user(session, args.name, args.role)
            return made.user.id, made.token

    try:
        user_id, token = _database_call(settings.url, add)
    except AuthError as exc:
        raise CommandError(str(exc)) from None
    print(f"added {args.role} user {args.name!r} (id {user_id}); its API token, shown only once:")
    print(token)
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from api.commands import table
    from api.storage.models import User

    settings = settings_from_args(args)
    existing(settings)

    def rows() -> list[tuple[str, ...]]:
        with _session(settings) as session:
            return [
                (
                    str(u.id),
                    u.name,
                    u.role,
                    "disabled" if u.disabled else "active",
                    u.created_at.isoformat(timespec="seconds"),
                )
                for u in session.scalars(select(User).order_by(User.id))
            ]

    found = _database_call(settings.url, rows)
    if not found:
        print("no users yet; add one with 'skyledger users add NAME --role admin'")
        return 0
    print(table(found, ("id", "name", "role", "state", "created")))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    revision = upgrade(settings)
    print(f"database {shown_url(settings.url)} is at revision {revision}")
    return 0


def cmd_db_current(args: argparse.Namespace) -> int:
    from api.storage import migrate

    settings = settings_from_args(args)
    revision = existing(settings, migrated=False)
    head = migrate.head()
    if revision is None:
        state = f"none: never migrated; 'skyledger db upgrade' brings it to {head}"
    elif revision == head:
        state = f"{revision} (the newest)"
    else:
        state = f"{revision} ('skyledger db upgrade' brings it to {head})"
    print(f"database {shown_url(settings.url)} is at revision {state}")
    return 0
