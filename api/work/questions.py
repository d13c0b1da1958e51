"""Citizens' questions about a flight: asked without an account, reviewed and answered by staff.

A question is asked about a flight that has a published disclosure (any other flight, public
or not, is "does not exist" to the public). The text is kept as asked for the staff, and a
copy with e-mail addresses and phone numbers masked (:func:`compliance.masking.mask_contacts`)
is what the public ever sees. A crew member or an admin reviews a pending question once:
published or rejected (with a note for the staff). A published question is answered once.

Each step is a transparency-log entry on the subject ``question:{id}``, committed with the
row (:func:`api.ledger.record`): ``question_asked`` (flight, question and the SHA-256 of the
masked text), ``question_reviewed`` (published or not) and ``answer_given`` (the SHA-256 of
the answer and the seconds from question to answer). The log holds hashes only: no text and
no person.

Like every work function these add and flush rows and never commit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from api.storage.models import Disclosure, Flight, Question
from api.work.errors import Conflict, Invalid, Missing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.storage.models import User

__all__ = [
    "MARKERS",
    "MAX_ANSWER",
    "MAX_NOTE",
    "MAX_TEXT",
    "MIN_TEXT",
    "answer",
    "ask",
    "check_disclosed",
    "check_question",
    "clean_text",
    "published_questions",
    "review",
]

MIN_TEXT = 10
MAX_TEXT = 2000
MAX_ANSWER = 4000
MAX_NOTE = 2000
#: What replaces an e-mail address and a phone number, in the language the question was asked.
MARKERS = {
    "en": ("[e-mail removed]", "[phone removed]"),
    "es": ("[correo eliminado]", "[teléfono eliminado]"),
}
_LANG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,4})?")
# Characters that reorder or hide text (bidirectional overrides and isolates).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(value: str, field: str, minimum: int, maximum: int) -> str:
    """``value`` stripped, with ``\\r\\n`` as ``\\n``, when it is ``minimum``..``maximum``
    characters of printable text (newlines and tabs allowed); else :class:`Invalid`."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text, not {type(value).__name__}")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not minimum <= len(text) <= maximum:
        raise Invalid(
            f"{field} has {len(text)} characters; write {minimum} to {maximum} characters"
        )
    for char in text:
        category = unicodedata.category(char)
        if (category == "Cc" and char not in "\n\t") or category in ("Cs", "Co", "Cn"):
            raise Invalid(f"{field} has a control or unassigned character U+{ord(char):04X}")
        if char in _BIDI:
            raise Invalid(
                f"{field} has a character that reorders text (U+{ord(char):04X}); remove it"
            )
    return text


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _question(session: Session, question_id: int) -> Question:
    question = session.get(Question, question_id)
    if question is None:
        raise Missing("question", question_id)
    return question


def check_disclosed(session: Session, flight_id: int) -> None:
    """:class:`Missing` unless flight ``flight_id`` is public and has a published disclosure
    (a flight the public may not see is as absent as one that never was)."""
    disclosed = session.scalar(
        select(Disclosure.id).where(Disclosure.flight_id == flight_id).limit(1)
    )
    flight = session.get(Flight, flight_id) if disclosed is not None else None
    if flight is None or not flight.public:
        raise Missing("flight", flight_id)


def check_question(session: Session, flight_id: int, text: str, lang: str = "en") -> str:
    """The question's text, stripped, when :func:`ask` would take it (without writing
    anything): :class:`Missing` for a flight without a published disclosure, :class:`Invalid`
    for a text or language that is not valid."""
    if not isinstance(lang, str) or not _LANG.fullmatch(lang):
        raise Invalid(f"lang {str(lang)[:20]!r} is not a language tag (e.g. 'en' or 'es')")
    check_disclosed(session, flight_id)
    return clean_text(text, "text", MIN_TEXT, MAX_TEXT)


def ask(
    session: Session, flight_id: int, text: str, lang: str = "en", now: datetime | None = None
) -> Question:
    """A citizen's question about flight ``flight_id``, waiting for review.

    Parameters
    ----------
    flight_id:
        A flight with a published disclosure (else :class:`Missing`, as for no flight).
    text:
        10..2000 characters of printable text once stripped (else :class:`Invalid`).
    lang:
        The language it was asked in (``en``, ``es`` ...; the masking markers follow it).
    """
    from api.ledger import record
    from compliance.masking import mask_contacts

    now = now or datetime.now(UTC)
    asked = check_question(session, flight_id, text, lang)
    email_marker, phone_marker = MARKERS.get(lang.split("-")[0], MARKERS["en"])
    masked, _ = mask_contacts(asked, email_marker, phone_marker)
    question = Question(
        flight_id=flight_id,
        text=asked,
        text_public=masked,
        lang=lang,
        state="pending",
        asked_at=now,
    )
    session.add(question)
    session.flush()
    record(
        session,
        "question_asked",
        f"question:{question.id}",
        {"flight_id": flight_id, "question_id": question.id, "text_sha256": _sha256(masked)},
    )
    return question


def review(
    session: Session,
    question_id: int,
    user: User,
    publish: bool,
    note: str = "",
    now: datetime | None = None,
) -> Question:
    """Publish or reject a pending question (once), recording who and when; ``note`` (up to
    2000 characters) is for the staff only."""
    from api.ledger import record

    now = now or datetime.now(UTC)
    question = _question(session, question_id)
    if question.state != "pending":
        when = question.reviewed_at.isoformat() if question.reviewed_at else "earlier"
        raise Conflict(f"question {question_id} was {question.state} already ({when})")
    note = clean_text(note, "note", 0, MAX_NOTE) if note else ""
    question.state = "published" if publish else "rejected"
    question.reviewed_at = now
    question.reviewed_by = user.id
    question.review_note = note
    session.flush()
    record(
        session,
        "question_reviewed",
        f"question:{question.id}",
        {"question_id": question.id, "published": bool(publish)},
    )
    return question


def answer(
    session: Session, question_id: int, user: User, text: str, now: datetime | None = None
) -> Question:
    """Answer a published question (once) with 1..4000 characters; the ledger keeps the
    answer's hash and how many seconds it took."""
    from api.ledger import record

    now = now or datetime.now(UTC)
    question = _question(session, question_id)
    if question.state != "published":
        hint = "review and publish it first" if question.state == "pending" else "it was rejected"
        raise Conflict(f"question {question_id} is {question.state}, not published: {hint}")
    if question.answer is not None:
        when = question.answered_at.isoformat() if question.answered_at else "earlier"
        raise Conflict(f"question {question_id} was answered already ({when})")
    given = clean_text(text, "text", 1, MAX_ANSWER)
    question.answer = given
    question.answered_at = now
    question.answered_by = user.id
    session.flush()
    after_s = max(0, int((now - question.asked_at).total_seconds()))
    record(
        session,
        "answer_given",
        f"question:{question.id}",
        {"question_id": question.id, "answer_sha256": _sha256(given), "answered_after_s": after_s},
    )
    return question


def published_questions(session: Session, flight_id: int) -> list[Question]:
    """The published questions about a flight, oldest first (what its public page shows)."""
    return list(
        session.scalars(
            select(Question)
            .where(Question.flight_id == flight_id, Question.state == "published")
            .order_by(Question.id)
        )
    )
