"""``skyledger retention sweep``: delete the footage, tracks and logs whose retention ended.

    skyledger retention sweep [--data-dir DIR] [--db URL] [--dry-run] [--json]

The same sweep the service runs at start and once a day (:func:`api.work.retention.sweep`):
for every flight whose deletion date (its end plus ``retention_days``, as its disclosure
record publishes it) has come, the raw files are deleted, the flight's log entry
``data_deleted`` recorded and its record republished. The files live in the data folder
(``--data-dir``), also when the database is elsewhere (``--db``). With the data folder's
signing key the command appends the log entries itself; otherwise they wait in the outbox
for the service. ``--dry-run`` changes nothing and lists what a sweep would delete.

Exit status 0 when the sweep did its work (or had none), 1 when a flight could not be swept,
another sweep was running or the log entries could not be appended (the line says which),
2 for bad input (no database, an unreachable server).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.commands import CommandError

if TYPE_CHECKING:
    from api.settings import Settings
    from api.storage.db import Database
    from api.work.retention import SweepReport

__all__ = ["add_commands"]


def add_commands(sub: Any) -> None:
    """Add ``retention sweep`` to the ``skyledger`` sub-command parsers."""
    from api.cli_service import _storage

    retention = sub.add_parser(
        "retention", help="delete footage and tracks whose retention has ended"
    )
    cmds = retention.add_subparsers(dest="retention_command", required=True, metavar="COMMAND")
    p = cmds.add_parser(
        "sweep", help="delete the raw data of flights past their retention; log and republish"
    )
    _storage(p, exclusive=False)
    p.add_argument("--dry-run", action="store_true", help="change nothing; list what would go")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=cmd_sweep)


def _append(settings: Settings, db: Database) -> tuple[str, bool] | None:
    """Append the outbox with the data folder's key; None when done, else why not and
    whether that is a problem (the log refused) rather than a key kept elsewhere."""
    from api.ledger import LedgerStore, load_key
    from compliance.errors import LedgerError

    path = Path(settings.ledger_key_path)
    if not path.is_file():
        return "no signing key in the data folder here", False
    try:
        LedgerStore(db, load_key(path)).flush()
    except LedgerError as exc:
        return " ".join(str(exc).split()), True
    return None


def _lines(report: SweepReport) -> list[str]:
    lines = []
    for flight in report.flights:
        kept = f", {len(flight.kept)} kept (used elsewhere)" if flight.kept else ""
        record = (
            f", record version {flight.disclosure_version}"
            if flight.disclosure_version is not None
            else ""
        )
        lines.append(
            f"flight {flight.flight_id} (deletion date {flight.deletion_date.isoformat()}): "
            f"{len(flight.files)} files, {flight.bytes} bytes{kept}{record}"
        )
    return [*lines, report.summary()]


def cmd_sweep(args: argparse.Namespace) -> int:
    from api.cli_service import _database_call, existing, settings_from_args, shown_url
    from api.storage import migrate
    from api.storage.blobs import BlobStore
    from api.storage.db import Database
    from api.work.retention import sweep

    settings = settings_from_args(args)
    revision = existing(settings)
    if revision != (head := migrate.head()):
        raise CommandError(
            f"the database {shown_url(settings.url)} is at revision {revision}; the sweep needs "
            f"{head}: run 'skyledger db upgrade' (or start the service) first"
        )
    db = Database(settings.url)
    try:
        report = _database_call(
            settings.url,
            lambda: sweep(db, BlobStore(settings.blobs_dir), settings, dry_run=args.dry_run),
        )
        waiting = None
        if report.flights and not args.dry_run:
            waiting = _database_call(settings.url, lambda: _append(settings, db))
    finally:
        db.close()
    why = None if waiting is None else waiting[0]
    if args.json:
        print(json.dumps(report.to_json() | {"outbox": why}, indent=2))
    else:
        print("\n".join(_lines(report)))
    if why is not None:
        print(
            f"skyledger: the log entries wait in the outbox ({why}); "
            "the service appends them when it starts",
            file=sys.stderr,
        )
    refused = waiting is not None and waiting[1]
    return 1 if report.busy or report.errors or refused else 0
