"""Correcting a published flight record: never an edit, always a new log entry and version.

The issue: "Entries are never edited or deleted: a correction is a new entry that names the
one it corrects." :func:`correct_flight` changes a staff-editable public field of a flight
(today its purpose, the one free-text field of the record written by staff) and, in the
caller's transaction:

1. checks that the flight is public, has a published record and that the
   ``disclosure_published`` entry of that record's latest version is in the log (the entry
   a correction names must exist: one still waiting in the outbox is a :class:`Conflict`);
2. updates the field and builds the record it now makes (it must differ from the latest);
3. records a ``correction`` entry (:func:`api.ledger.record`) whose ``corrects`` is that
   entry's index, with ``data``: the flight, the reason, the role that corrected it, the
   record version it makes and that record's SHA-256, and for each field the SHA-256 of its
   old and new value (of the canonical JSON of the value as the records hold it);
4. publishes the new version (:func:`api.work.disclosing.publish_disclosure`), whose own
   ``disclosure_published`` entry follows the correction in the log.

The log holds hashes of the values, not the values: a purpose can hold what should never
have been written, and the log is permanent. The values stay readable in the published
versions, and :func:`flight_corrections` pairs each hash with the value whose hash it is.
The reason is written to the log as given, so one with an e-mail address or a phone number
is refused.

Like every work function it adds and flushes rows and never commits.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from sqlalchemy import select

from api.storage.models import Disclosure, Flight, LedgerEntry
from api.work.errors import Conflict, Invalid, Missing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.settings import Settings
    from api.storage.models import User

__all__ = [
    "CORRECTABLE",
    "MAX_REASON",
    "MIN_REASON",
    "Correction",
    "CorrectionMade",
    "FieldChange",
    "correct_flight",
    "flight_corrections",
    "logged_disclosure_index",
    "made_entries",
    "value_sha256",
]

MIN_REASON = 5
MAX_REASON = 500
#: The record fields a correction may change, and the longest text each may be.
CORRECTABLE = {"purpose": 200}
# Characters that reorder or hide text (bidirectional overrides and isolates).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def one_line(value: Any, field: str, minimum: int, maximum: int) -> str:
    """``value`` stripped, when it is ``minimum``..``maximum`` characters of printable text on
    one line; else :class:`Invalid` naming the field."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text, not {type(value).__name__}")
    text = value.strip()
    if not minimum <= len(text) <= maximum:
        raise Invalid(
            f"{field} has {len(text)} characters; write {minimum} to {maximum} characters"
        )
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp") or char in _BIDI:
            raise Invalid(
                f"{field} has a control, line-breaking or unassigned character "
                f"U+{ord(char):04X}; write one line of printable text"
            )
    return text


def value_sha256(value: Any) -> str:
    """The SHA-256 (hex) of a record field's value: of its canonical JSON (RFC 8785), so a
    text ``"Bridge"`` is hashed with its quotes, as ``"Bridge"``."""
    from api.ledger import document_sha256

    return document_sha256(value)


class FieldChange(BaseModel):
    """A corrected field: the hashes the log holds, and the values of the two published
    versions when they match those hashes (None otherwise)."""

    field: str
    old_sha256: str
    new_sha256: str
    old: Any = None
    new: Any = None


class Correction(BaseModel):
    """A ``correction`` entry about a flight, as the public reads it."""

    index: int
    time: datetime
    reason: str
    corrects: int
    corrected_by_role: str | None
    version: int | None  # the record version it made
    record_sha256: str | None
    changes: list[FieldChange]


class CorrectionMade(BaseModel):
    """What :func:`correct_flight` did: the new record version and the correction's entry
    (``entry_index`` None while it waits in the outbox; the service appends it on commit)."""

    flight_id: int
    version: int
    record_sha256: str
    corrects: int
    reason: str
    changes: list[FieldChange]
    entry_index: int | None = None
    disclosure_entry_index: int | None = None


def _latest(session: Session, flight_id: int) -> Disclosure | None:
    from api.work.disclosing import latest_disclosure

    return latest_disclosure(session, flight_id)


def _entries(session: Session, flight_id: int, kind: str) -> list[tuple[int, dict[str, Any]]]:
    """The log's entries of ``kind`` about flight ``flight_id``: (index, entry), oldest first."""
    rows = session.execute(
        select(LedgerEntry.idx, LedgerEntry.entry)
        .where(LedgerEntry.subject == f"flight:{flight_id}", LedgerEntry.kind == kind)
        .order_by(LedgerEntry.idx)
    )
    found = []
    for idx, text in rows:
        try:
            entry = json.loads(text)
        except ValueError:  # a rewritten row: the audit names it; it is not the one sought
            continue
        if isinstance(entry, dict) and isinstance(entry.get("data"), dict):
            found.append((int(idx), entry))
    return found


def logged_disclosure_index(session: Session, disclosure: Disclosure) -> int | None:
    """The index of the ``disclosure_published`` entry of ``disclosure`` (its flight, version
    and record hash) in the log; None while it is not there (still in the outbox)."""
    for index, entry in _entries(session, disclosure.flight_id, "disclosure_published"):
        data = entry["data"]
        if (
            data.get("version") == disclosure.version
            and data.get("record_sha256") == disclosure.record_sha256
        ):
            return index
    return None


def correct_flight(
    session: Session,
    settings: Settings,
    flight_id: int,
    user: User,
    *,
    reason: str,
    purpose: str | None = None,
) -> CorrectionMade:
    """Correct flight ``flight_id``'s published record (see the module notes).

    Parameters
    ----------
    user:
        Who corrects it (a crew member or an admin; the routes decide); the log gets the
        role only.
    reason:
        Why, 5..500 characters on one line, without contact details: it is public and
        permanent.
    purpose:
        The corrected purpose (1..200 characters on one line).

    Raises :class:`Missing` (no such flight), :class:`Invalid` (a bad reason or value, or
    nothing that would change) and :class:`Conflict` (no public record, or its latest
    version not in the log yet).
    """
    from api.ledger import record
    from api.work.disclosing import build_record, publish_disclosure
    from compliance.disclosure import record_sha256
    from compliance.masking import mask_contacts

    reason = one_line(reason, "reason", MIN_REASON, MAX_REASON)
    if mask_contacts(reason)[1]:
        raise Invalid(
            "reason holds an e-mail address or a phone number; the log is public and "
            "permanent: leave contact details out"
        )
    values = {"purpose": purpose}
    given = {
        name: one_line(value, name, 1, CORRECTABLE[name])
        for name, value in values.items()
        if value is not None
    }
    if not given:
        raise Invalid(f"nothing to correct: give at least one of {', '.join(CORRECTABLE)}")
    flight = session.get(Flight, flight_id, with_for_update=True)  # PostgreSQL: one at a time
    if flight is None:
        raise Missing("flight", flight_id)
    if not flight.public:
        raise Conflict(f"flight {flight_id} is not public: it has no public record to correct")
    for name, value in given.items():
        setattr(flight, name, value)
    session.flush()  # SQLite: the write lock, before the latest version is read
    previous = _latest(session, flight_id)
    if previous is None:
        raise Conflict(f"flight {flight_id} has no published record to correct yet")
    corrects = logged_disclosure_index(session, previous)
    if corrects is None:
        raise Conflict(
            f"flight {flight_id}'s record version {previous.version} is not in the log yet "
            "(its entry waits to be appended); try again in a moment"
        )
    doc = build_record(session, settings, flight, previous).to_json()
    digest = record_sha256(doc)
    changes = [
        FieldChange(
            field=name,
            old_sha256=value_sha256(previous.record.get(name)),
            new_sha256=value_sha256(doc.get(name)),
            old=previous.record.get(name),
            new=doc.get(name),
        )
        for name in given
        if previous.record.get(name) != doc.get(name)
    ]
    if not changes or digest == previous.record_sha256:
        shown = ", ".join(f"{k} {v!r:.60}" for k, v in given.items())
        raise Invalid(f"{shown} is what flight {flight_id}'s record says already")
    version = previous.version + 1
    record(
        session,
        "correction",
        f"flight:{flight_id}",
        {
            "flight_id": flight_id,
            "reason": reason,
            "corrected_by_role": user.role,
            "version": version,
            "record_sha256": digest,
            "fields": {
                c.field: {"old_sha256": c.old_sha256, "new_sha256": c.new_sha256} for c in changes
            },
        },
        corrects=corrects,
    )
    row = publish_disclosure(session, settings, flight_id)
    if row is None or row.version != version or row.record_sha256 != digest:
        # the record changed under us (another writer): the caller's transaction rolls back
        raise Conflict(f"flight {flight_id}'s record changed while it was corrected; try again")
    return CorrectionMade(
        flight_id=flight_id,
        version=version,
        record_sha256=digest,
        corrects=corrects,
        reason=reason,
        changes=changes,
    )


def made_entries(session: Session, made: CorrectionMade) -> CorrectionMade:
    """``made`` with the indices of its correction and ``disclosure_published`` entries once
    they are in the log (read after the commit that appends them)."""
    found = made.model_copy()
    for index, entry in _entries(session, made.flight_id, "correction"):
        data = entry["data"]
        if data.get("version") == made.version and data.get("record_sha256") == made.record_sha256:
            found.entry_index = index
    for index, entry in _entries(session, made.flight_id, "disclosure_published"):
        data = entry["data"]
        if data.get("version") == made.version and data.get("record_sha256") == made.record_sha256:
            found.disclosure_entry_index = index
    return found


def flight_corrections(session: Session, flight_id: int) -> list[Correction]:
    """The ``correction`` entries about flight ``flight_id`` in the log, oldest first, each
    with the values of the fields it changed (from the published versions whose hashes the
    entry names)."""
    entries = _entries(session, flight_id, "correction")
    if not entries:
        return []
    records = {
        v: r
        for v, r in session.execute(
            select(Disclosure.version, Disclosure.record).where(Disclosure.flight_id == flight_id)
        )
    }
    published = {
        index: entry["data"].get("version")
        for index, entry in _entries(session, flight_id, "disclosure_published")
    }
    found = []
    for index, entry in entries:
        data = entry["data"]
        corrects = entry.get("corrects")
        try:
            time = datetime.fromisoformat(str(entry.get("time")).replace("Z", "+00:00"))
        except ValueError:  # a rewritten row: the audit names it
            continue
        version = data.get("version")
        old_version = published.get(corrects) if isinstance(corrects, int) else None
        old = (records.get(old_version) or {}) if isinstance(old_version, int) else {}
        new = (records.get(version) or {}) if isinstance(version, int) else {}
        changes = []
        fields = data.get("fields")
        for name, hashes in (fields if isinstance(fields, dict) else {}).items():
            if not isinstance(hashes, dict):
                continue
            change = FieldChange(
                field=str(name),
                old_sha256=str(hashes.get("old_sha256")),
                new_sha256=str(hashes.get("new_sha256")),
            )
            if name in old and value_sha256(old[name]) == change.old_sha256:
                change.old = old[name]
            if name in new and value_sha256(new[name]) == change.new_sha256:
                change.new = new[name]
            changes.append(change)
        found.append(
            Correction(
                index=index,
                time=time,
                reason=str(data.get("reason")),
                corrects=int(corrects) if isinstance(corrects, int) else -1,
                corrected_by_role=data.get("corrected_by_role"),
                version=version if isinstance(version, int) else None,
                record_sha256=data.get("record_sha256"),
                changes=changes,
            )
        )
    return found
