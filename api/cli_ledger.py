"""``skyledger ledger ...``: audit the transparency log, print its checkpoint and its key.

    skyledger ledger audit      [--data-dir DIR | --db URL] [--key HEX] [--json]
    skyledger ledger checkpoint [--data-dir DIR | --db URL]
    skyledger ledger key        [--data-dir DIR]

``audit`` recomputes every leaf and node from the stored entries, checks every checkpoint's
signature against the published key (``--key``, else the data folder's key file) and the
consistency between consecutive checkpoints, and names the first index (or checkpoint)
where anything differs. It only reads: entries still waiting in the outbox are counted, not
appended. Exit status 0 when the log audits clean, 1 when it does not (the line names the
index), 2 for bad input (no database, no key). ``checkpoint`` prints the latest signed
checkpoint as JSON (the file ``verify.py checkpoint`` reads); ``key`` prints the public key
(raw Ed25519, hex).
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from api.commands import CommandError

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["add_commands"]

_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")


def _key_arg(text: str) -> str:
    if not _HEX_KEY.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r:.80} is not an Ed25519 public key (64 hex digits)"
        )
    return text.lower()


def add_commands(sub: Any) -> None:
    """Add ``ledger audit|checkpoint|key`` to the ``skyledger`` sub-command parsers."""
    from api.cli_service import DEFAULT_DATA_DIR, _storage

    ledger = sub.add_parser("ledger", help="audit the transparency log; its checkpoint and key")
    cmds = ledger.add_subparsers(dest="ledger_command", required=True, metavar="COMMAND")
    p = cmds.add_parser(
        "audit", help="recompute the log and check every checkpoint; name the first bad index"
    )
    _storage(p, exclusive=False)
    p.add_argument(
        "--key",
        type=_key_arg,
        metavar="HEX",
        help="the published public key to audit against (default: the data folder's key)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_audit)
    p = cmds.add_parser("checkpoint", help="print the latest signed checkpoint as JSON")
    _storage(p, exclusive=False)
    p.set_defaults(func=cmd_checkpoint)
    p = cmds.add_parser("key", help="print the log's public key (hex)")
    p.add_argument(
        "--data-dir",
        default=DEFAULT_DATA_DIR,
        metavar="DIR",
        help=f"the service's data folder (default ./{DEFAULT_DATA_DIR})",
    )
    p.set_defaults(func=cmd_key, db=None)


def _settings(args: argparse.Namespace) -> Settings:
    from api.cli_service import settings_from_args

    return settings_from_args(args)


def _public_key(settings: Settings) -> str:
    from api.ledger import load_key
    from compliance.errors import LedgerError
    from compliance.ledger.checkpoint import public_key_hex

    path = settings.ledger_key_path
    if not Path(path).exists():
        raise CommandError(
            f"no ledger key at {str(path)!r}: give --data-dir of the service, or --key HEX "
            "(the published public key)"
        )
    try:
        return public_key_hex(load_key(path))
    except LedgerError as exc:
        raise CommandError(str(exc)) from None


def _store(settings: Settings, public_key: str | None) -> Any:
    from api.cli_service import existing
    from api.ledger import LedgerStore
    from api.storage.db import Database

    existing(settings)
    return LedgerStore(Database(settings.url), public_key_hex=public_key)


def cmd_audit(args: argparse.Namespace) -> int:
    from api.cli_service import _database_call

    settings = _settings(args)
    key = args.key or _public_key(settings)
    store = _store(settings, key)
    try:
        result = _database_call(settings.url, store.audit)
        waiting = _database_call(settings.url, store.pending)
    finally:
        store.db.close()
    if args.json:
        print(json.dumps(result.to_json() | {"outbox": waiting}, indent=2))
    elif result.ok:
        print(
            f"ledger audits clean: {result.entries} entries, {result.checkpoints} checkpoints, "
            f"tree size {result.tree_size}, root {result.root_hash}"
        )
    else:
        print(f"ledger does not audit: {result.message}")
    if waiting and not args.json:
        print(f"{waiting} entries wait in the outbox (the service appends them when it starts)")
    return 0 if result.ok else 1


def cmd_checkpoint(args: argparse.Namespace) -> int:
    from api.cli_service import _database_call

    settings = _settings(args)
    store = _store(settings, None)
    try:
        latest = _database_call(settings.url, store.latest_checkpoint)
    finally:
        store.db.close()
    if latest is None:
        raise CommandError("the log has no signed checkpoint yet ('skyledger serve' signs one)")
    print(json.dumps(latest[1].to_json(), indent=2))
    return 0


def cmd_key(args: argparse.Namespace) -> int:
    print(_public_key(_settings(args)))
    return 0
