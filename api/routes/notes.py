"""Notes: what a regulator (or an admin) writes on a record: a plan, check, approval, flight
or asset. Regulators write nothing else. Signed-in readers read the notes, by subject.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import select

from api.deps import ReaderDep, RegulatorDep, SessionDep
from api.routes.common import MAX_ID, IdField, Page, PagingDep, fetch_page, get_or_404, plain_text
from api.storage.models import Approval, Asset, Check, Flight, Note, Plan

__all__ = ["NoteCreate", "NoteFull", "router"]

router = APIRouter(tags=["notes"])

Subject = Literal["plan", "flight", "check", "approval", "asset"]
SUBJECTS: dict[str, type] = {
    "plan": Plan,
    "flight": Flight,
    "check": Check,
    "approval": Approval,
    "asset": Asset,
}


class NoteCreate(BaseModel):
    """A note on one record."""

    model_config = ConfigDict(extra="forbid")
    subject: Subject
    subject_id: IdField
    text: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=4000),
        AfterValidator(plain_text),
    ] = Field(description="1..4000 characters")


class NoteFull(BaseModel):
    """A note, its author and when it was written."""

    id: int
    subject: str
    subject_id: int
    author_id: int
    text: str
    created_at: datetime

    @classmethod
    def of(cls, row: Note) -> NoteFull:
        return cls(
            id=row.id,
            subject=row.subject,
            subject_id=row.subject_id,
            author_id=row.author_id,
            text=row.text,
            created_at=row.created_at,
        )


@router.post("/notes", status_code=201, response_model=NoteFull)
def create_note(body: NoteCreate, session: SessionDep, user: RegulatorDep) -> NoteFull:
    """Write a note on a record (regulator, admin); 404 when the record does not exist."""
    get_or_404(session, SUBJECTS[body.subject], body.subject_id, body.subject)
    note = Note(subject=body.subject, subject_id=body.subject_id, author_id=user.id, text=body.text)
    session.add(note)
    session.flush()
    out = NoteFull.of(note)
    session.commit()
    return out


@router.get("/notes", response_model=Page[NoteFull])
def list_notes(
    session: SessionDep,
    user: ReaderDep,
    paging: PagingDep,
    subject: Annotated[Subject | None, Query()] = None,
    subject_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[NoteFull]:
    """Notes, oldest first (signed-in readers); ``?subject=`` and ``?subject_id=`` filter."""
    statement = select(Note).order_by(Note.id)
    if subject is not None:
        statement = statement.where(Note.subject == subject)
    if subject_id is not None:
        statement = statement.where(Note.subject_id == subject_id)
    return fetch_page(session, statement, paging, NoteFull.of)
