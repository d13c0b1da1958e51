"""Citizens' questions about a flight, and their review and answer by staff.

The public (no account) asks about a disclosed flight and reads the published questions with
their answers; crews and admins review (publish or reject) and answer them; every signed-in
role reads them all, as asked. The public only ever sees :class:`QuestionPublic`: the text
with contacts masked, never the text as asked, the review note or who answered.

Asking is limited per client address (:data:`QUESTIONS_PER_HOUR`, a bucket of its own on
``app.state.question_limiter``, shared with the site's form in :mod:`api.site.questions`),
on top of the service's limit on the public's writes: past it the answer is a 429 with
``Retry-After``. Work: :mod:`api.work.questions`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import CrewDep, ReaderDep, SessionDep
from api.routes.common import MAX_ID, IdPath, Page, PagingDep, answering, fetch_page, get_or_404
from api.storage.models import Question

__all__ = [
    "QUESTIONS_PER_HOUR",
    "AnswerCreate",
    "QuestionAccepted",
    "QuestionCreate",
    "QuestionFull",
    "QuestionPublic",
    "ReviewCreate",
    "question_limit",
    "router",
]

router = APIRouter(tags=["questions"])

#: How many questions one client address may ask an hour (a burst of that many, then one
#: every 12 minutes).
QUESTIONS_PER_HOUR = 5
#: Bounds on what the body may carry at all; the work checks the real limits (one-line 422s).
_MAX_BODY_TEXT = 20_000


class QuestionCreate(BaseModel):
    """A citizen's question: 10..2000 characters, and the language it is written in."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=_MAX_BODY_TEXT, description="10..2000 characters")
    lang: str = Field("en", max_length=16, description="a language tag: en, es ...")


class QuestionAccepted(BaseModel):
    """A question taken for review: it is published once staff have read it."""

    id: int
    state: str


class ReviewCreate(BaseModel):
    """Publish or reject a pending question; the note is for the staff only."""

    model_config = ConfigDict(extra="forbid")
    publish: bool
    note: str = Field("", max_length=_MAX_BODY_TEXT, description="up to 2000 characters")


class AnswerCreate(BaseModel):
    """The answer to a published question."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=_MAX_BODY_TEXT, description="1..4000 characters")


def _after(row: Question) -> int | None:
    if row.answered_at is None:
        return None
    return max(0, int((row.answered_at - row.asked_at).total_seconds()))


class QuestionPublic(BaseModel):
    """A published question as the public sees it: contacts masked, the answer and how long
    it took (seconds from the question to the answer)."""

    id: int
    flight_id: int
    text: str
    lang: str
    asked_at: datetime
    answer: str | None
    answered_at: datetime | None
    answered_after_s: int | None

    @classmethod
    def of(cls, row: Question) -> QuestionPublic:
        return cls(
            id=row.id,
            flight_id=row.flight_id,
            text=row.text_public,
            lang=row.lang,
            asked_at=row.asked_at,
            answer=row.answer,
            answered_at=row.answered_at,
            answered_after_s=_after(row),
        )


class QuestionFull(BaseModel):
    """A question as the staff see it: as asked, masked, its review and its answer."""

    id: int
    flight_id: int
    text: str
    text_public: str
    lang: str
    state: str
    asked_at: datetime
    reviewed_at: datetime | None
    reviewed_by: int | None
    review_note: str
    answer: str | None
    answered_at: datetime | None
    answered_by: int | None
    answered_after_s: int | None

    @classmethod
    def of(cls, row: Question) -> QuestionFull:
        return cls(
            id=row.id,
            flight_id=row.flight_id,
            text=row.text,
            text_public=row.text_public,
            lang=row.lang,
            state=row.state,
            asked_at=row.asked_at,
            reviewed_at=row.reviewed_at,
            reviewed_by=row.reviewed_by,
            review_note=row.review_note,
            answer=row.answer,
            answered_at=row.answered_at,
            answered_by=row.answered_by,
            answered_after_s=_after(row),
        )


def question_limit(request: Request) -> None:
    """Count one question from the caller's address; a 429 with ``Retry-After`` past
    :data:`QUESTIONS_PER_HOUR`."""
    from api.security import MemoryRateLimiter

    state = request.app.state
    limiter: Any = getattr(state, "question_limiter", None)
    if limiter is None:
        limiter = MemoryRateLimiter(QUESTIONS_PER_HOUR)
        limiter.rate = QUESTIONS_PER_HOUR / 3600.0  # the bucket refills over an hour
        state.question_limiter = limiter
    key = request.client.host if request.client else "unknown"
    wait = limiter.hit(key)
    if wait is not None:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            429,
            f"too many questions from this address (at most {QUESTIONS_PER_HOUR} an hour); "
            f"retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )


@router.post(
    "/public/flights/{flight_id}/questions", status_code=202, response_model=QuestionAccepted
)
def ask_question(
    flight_id: IdPath, body: QuestionCreate, session: SessionDep, request: Request
) -> QuestionAccepted:
    """Ask about a disclosed flight (no account needed); it waits for review (202). 404 for
    a flight without a disclosure, 422 for a text out of bounds, 429 past the hourly limit."""
    from api.work import questions

    with answering():
        questions.check_question(session, flight_id, body.text, body.lang)
        question_limit(request)
        question = questions.ask(session, flight_id, body.text, body.lang)
    out = QuestionAccepted(id=question.id, state=question.state)
    session.commit()
    return out


@router.get("/public/flights/{flight_id}/questions", response_model=Page[QuestionPublic])
def public_questions(
    flight_id: IdPath, session: SessionDep, paging: PagingDep
) -> Page[QuestionPublic]:
    """The published questions about a disclosed flight, oldest first, with their answers."""
    from api.work import questions

    with answering():
        questions.check_disclosed(session, flight_id)
    statement = (
        select(Question)
        .where(Question.flight_id == flight_id, Question.state == "published")
        .order_by(Question.id)
    )
    return fetch_page(session, statement, paging, QuestionPublic.of)


@router.get("/questions", response_model=Page[QuestionFull])
def list_questions(
    session: SessionDep,
    user: ReaderDep,
    paging: PagingDep,
    state: Annotated[Literal["pending", "published", "rejected"] | None, Query()] = None,
    flight_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    answered: Annotated[bool | None, Query()] = None,
) -> Page[QuestionFull]:
    """Questions, oldest first (signed-in readers); ``?state=``, ``?flight_id=`` and
    ``?answered=`` filter (``?state=published&answered=false`` is the staff's to-do list)."""
    statement = select(Question).order_by(Question.id)
    if state is not None:
        statement = statement.where(Question.state == state)
    if flight_id is not None:
        statement = statement.where(Question.flight_id == flight_id)
    if answered is not None:
        statement = statement.where(
            Question.answered_at.is_not(None) if answered else Question.answered_at.is_(None)
        )
    return fetch_page(session, statement, paging, QuestionFull.of)


@router.get("/questions/{question_id}", response_model=QuestionFull)
def get_question(question_id: IdPath, session: SessionDep, user: ReaderDep) -> QuestionFull:
    """One question as asked, with its review and answer (signed-in readers)."""
    return QuestionFull.of(get_or_404(session, Question, question_id, "question"))


@router.post("/questions/{question_id}/review", response_model=QuestionFull)
def review_question(
    question_id: IdPath, body: ReviewCreate, session: SessionDep, user: CrewDep
) -> QuestionFull:
    """Publish or reject a pending question (crew, admin); 409 when it was reviewed already."""
    from api.work import questions

    with answering():
        question = questions.review(session, question_id, user, body.publish, body.note)
    out = QuestionFull.of(question)
    session.commit()
    return out


@router.post("/questions/{question_id}/answer", response_model=QuestionFull)
def answer_question(
    question_id: IdPath, body: AnswerCreate, session: SessionDep, user: CrewDep
) -> QuestionFull:
    """Answer a published question (crew, admin); 409 unless it is published and unanswered."""
    from api.work import questions

    with answering():
        question = questions.answer(session, question_id, user, body.text)
    out = QuestionFull.of(question)
    session.commit()
    return out
