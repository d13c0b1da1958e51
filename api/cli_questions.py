"""``skyledger questions ...``: the staff's side of citizens' questions, on the command line.

    skyledger questions list   [--state pending|published|rejected] [--flight ID]
                               [--unanswered] [--json] [--data-dir DIR | --db URL]
    skyledger questions review ID (--publish | --reject) --as NAME [--note TEXT] [...]
    skyledger questions answer ID --as NAME (--text TEXT | --file FILE) [...]

``list`` shows the questions as asked (the staff see the contacts the public copy masks);
``review`` publishes or rejects a pending question, ``answer`` answers a published one, both
as the crew or admin user ``--as NAME`` (recorded as who reviewed or answered). Each step is
entered in the transparency log: with the data folder's signing key the command appends the
entries itself, otherwise they wait in the outbox for the service (it appends them when it
starts). A question that cannot be reviewed or answered (already done, not published) or a
user who may not do it is one line and exit status 2. The same work as the HTTP routes
(:mod:`api.routes.questions`, :mod:`api.work.questions`).
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

__all__ = ["add_commands"]

STAFF_ROLES = ("crew", "admin")


def _id(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"{text!r:.40} is not a question id (1 or more)")
    return int(text)


def add_commands(sub: Any) -> None:
    """Add ``questions list|review|answer`` to the ``skyledger`` sub-command parsers."""
    from api.cli_service import _storage

    questions = sub.add_parser("questions", help="review and answer citizens' questions")
    cmds = questions.add_subparsers(dest="questions_command", required=True, metavar="COMMAND")

    p = cmds.add_parser("list", help="list the questions, as asked")
    p.add_argument("--state", choices=("pending", "published", "rejected"))
    p.add_argument("--flight", type=_id, metavar="ID", help="only about this flight")
    p.add_argument("--unanswered", action="store_true", help="only those without an answer")
    p.add_argument("--json", action="store_true", help="print JSON")
    _storage(p, exclusive=True)
    p.set_defaults(func=cmd_list)

    p = cmds.add_parser("review", help="publish or reject a pending question")
    p.add_argument("question", type=_id, metavar="ID")
    verdict = p.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--publish", action="store_true", help="publish it (contacts masked)")
    verdict.add_argument("--reject", action="store_true", help="keep it from the public")
    p.add_argument("--note", default="", help="a note for the staff (never published)")
    p.add_argument("--as", dest="user", required=True, metavar="NAME", help="a crew or admin")
    _storage(p, exclusive=True)
    p.set_defaults(func=cmd_review)

    p = cmds.add_parser("answer", help="answer a published question")
    p.add_argument("question", type=_id, metavar="ID")
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help="the answer (1 to 4000 characters)")
    text.add_argument("--file", metavar="FILE", help="read the answer from FILE ('-': stdin)")
    p.add_argument("--as", dest="user", required=True, metavar="NAME", help="a crew or admin")
    _storage(p, exclusive=True)
    p.set_defaults(func=cmd_answer)


def _settings(args: argparse.Namespace) -> Settings:
    from api.cli_service import existing, settings_from_args

    settings = settings_from_args(args)
    existing(settings)
    return settings


def _row(question: Any) -> dict[str, Any]:
    from api.routes.questions import QuestionFull

    return QuestionFull.of(question).model_dump(mode="json")


def cmd_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from api.cli_service import _database_call, _session
    from api.commands import table
    from api.storage.models import Question

    settings = _settings(args)

    def rows() -> list[dict[str, Any]]:
        statement = select(Question).order_by(Question.id)
        if args.state:
            statement = statement.where(Question.state == args.state)
        if args.flight:
            statement = statement.where(Question.flight_id == args.flight)
        if args.unanswered:
            statement = statement.where(Question.answered_at.is_(None))
        with _session(settings) as session:
            return [_row(q) for q in session.scalars(statement)]

    found = _database_call(settings.url, rows)
    if args.json:
        print(json.dumps(found, indent=2, ensure_ascii=False))
        return 0
    if not found:
        print("no questions")
        return 0
    lines = [
        (
            str(q["id"]),
            str(q["flight_id"]),
            q["state"] + (", answered" if q["answer"] is not None else ""),
            q["asked_at"][:16].replace("T", " "),
            " ".join(q["text"].split())[:70],
        )
        for q in found
    ]
    print(table(lines, ("id", "flight", "state", "asked (UTC)", "question (as asked)")))
    return 0


def _staff(session: Any, name: str) -> Any:
    from sqlalchemy import select

    from api.storage.models import User

    user = session.scalar(select(User).where(User.name == name))
    if user is None or user.disabled:
        raise CommandError(f"no active user {name!r} ('skyledger users list' shows them)")
    if user.role not in STAFF_ROLES:
        raise CommandError(
            f"user {name!r} is a {user.role}; reviewing and answering needs a crew or admin"
        )
    return user


def _change(args: argparse.Namespace, step: str, value: Any) -> int:
    """Review or answer, commit, append the log entries when the key is here; print the row."""
    from api.cli_service import _database_call
    from api.storage.db import Database
    from api.work import questions
    from api.work.errors import WorkError

    settings = _settings(args)
    db = Database(settings.url)
    try:

        def change() -> dict[str, Any]:
            with db.session() as session:
                user = _staff(session, args.user)
                try:
                    if step == "review":
                        row = questions.review(session, args.question, user, value, args.note)
                    else:
                        row = questions.answer(session, args.question, user, value)
                except WorkError as exc:
                    raise CommandError(" ".join(str(exc).split())) from None
                return _row(row)

        done = _database_call(settings.url, change)
        appended = _append(settings, db)
    finally:
        db.close()
    what = "answered" if step == "answer" else done["state"]
    print(f"question {done['id']} about flight {done['flight_id']}: {what}")
    if not appended:
        print(
            "its log entry waits in the outbox: the service appends it when it starts "
            "(no signing key in the data folder here)",
            file=sys.stderr,
        )
    return 0


def _append(settings: Settings, db: Any) -> bool:
    """Append the outbox with the data folder's key; False when there is no key here."""
    from api.ledger import LedgerStore, load_key

    path = Path(settings.ledger_key_path)
    if not path.is_file():
        return False
    LedgerStore(db, load_key(path)).flush()
    return True


def cmd_review(args: argparse.Namespace) -> int:
    return _change(args, "review", bool(args.publish))


def cmd_answer(args: argparse.Namespace) -> int:
    if args.file is not None:
        try:
            text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read the answer from {args.file!r}: {exc}") from None
    else:
        text = args.text
    return _change(args, "answer", text)
