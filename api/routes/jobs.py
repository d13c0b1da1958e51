"""Routes: background jobs, their state and how far they got (staff only).

``GET /api/jobs/{id}`` is what a client polls after a ``202`` answer that started one;
``GET /api/jobs`` lists them, newest first, optionally by ``state`` and ``kind``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from api.deps import ReaderDep, SessionDep
from api.routes.common import IdPath, Page, PagingDep, fetch_page, get_or_404
from api.storage.models import Job

__all__ = ["JobPublic", "router"]

router = APIRouter(tags=["jobs"])

JobState = Literal["queued", "running", "succeeded", "failed"]


class JobPublic(BaseModel):
    """A job: what it is, its state, percent done, and its result or error."""

    id: int
    kind: str
    state: str
    percent: float
    message: str
    params: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_by: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobPublic:
        return cls(
            id=job.id,
            kind=job.kind,
            state=job.state,
            percent=job.percent,
            message=job.message,
            params=job.params or {},
            result=job.result,
            error=job.error,
            created_by=job.created_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


@router.get("/jobs/{job_id}", response_model=JobPublic, summary="A job's state and progress")
def get_job(job_id: IdPath, session: SessionDep, user: ReaderDep) -> JobPublic:
    return JobPublic.of(get_or_404(session, Job, job_id, "job"))


@router.get("/jobs", response_model=Page[JobPublic], summary="Jobs, newest first")
def list_jobs(
    session: SessionDep,
    user: ReaderDep,
    paging: PagingDep,
    state: Annotated[JobState | None, Query(description="only jobs in this state")] = None,
    kind: Annotated[
        str | None,
        Query(max_length=32, pattern=r"^[A-Za-z0-9_.-]*$", description="only jobs of this kind"),
    ] = None,
) -> Page[JobPublic]:
    statement = select(Job).order_by(Job.id.desc())
    if state is not None:
        statement = statement.where(Job.state == state)
    if kind is not None:
        statement = statement.where(Job.kind == kind)
    return fetch_page(session, statement, paging, JobPublic.of)
