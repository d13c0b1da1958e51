"""Approvals: a crew asks to fly a checked plan, an admin approves or rejects it.

``POST /api/plans/{id}/approval-requests`` (crew) names a check of that plan whose verdict is
APPROVED; ``POST /api/approvals/{id}/decision`` (admin) decides once, recording who and when
(a decision's note is kept as a note on the approval: ``GET /api/notes?subject=approval``).
Signed-in readers list and read approvals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import AdminDep, CrewDep, ReaderDep, SessionDep
from api.routes.common import (
    MAX_ID,
    IdField,
    IdPath,
    Page,
    PagingDep,
    answering,
    fetch_page,
    get_or_404,
    plain_text,
)
from api.storage.models import Approval
from api.storage.models import Plan as PlanRow

__all__ = ["ApprovalCreate", "ApprovalFull", "Decision", "router"]

router = APIRouter(tags=["approvals"])

NoteText = Annotated[str, Field(max_length=2000), AfterValidator(plain_text)]


class ApprovalCreate(BaseModel):
    """The check that lets the plan fly, and a note for the admin."""

    model_config = ConfigDict(extra="forbid")
    check_id: IdField
    note: NoteText = ""


class Decision(BaseModel):
    """An admin's decision on a request."""

    model_config = ConfigDict(extra="forbid")
    approve: bool
    note: NoteText = ""


class ApprovalFull(BaseModel):
    """A request to fly a plan and its decision: who asked, who decided what, and when."""

    id: int
    plan_id: int
    check_id: int | None
    state: str
    requested_by: int
    requested_at: datetime
    decided_by: int | None
    decided_at: datetime | None
    note: str
    authorisations: list[Any]

    @classmethod
    def of(cls, row: Approval) -> ApprovalFull:
        return cls(
            id=row.id,
            plan_id=row.plan_id,
            check_id=row.check_id,
            state=row.state,
            requested_by=row.requested_by,
            requested_at=row.requested_at,
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            note=row.note,
            authorisations=list(row.authorisations or []),
        )


@router.post("/plans/{plan_id}/approval-requests", status_code=201, response_model=ApprovalFull)
def request_approval(
    plan_id: IdPath, body: ApprovalCreate, session: SessionDep, user: CrewDep
) -> ApprovalFull:
    """Ask an admin to approve flying the plan (crew, admin); 409 unless the check lets it fly."""
    from api.work import approving

    plan = get_or_404(session, PlanRow, plan_id, "plan")
    with answering():
        approval = approving.request_approval(session, plan, body.check_id, user.id, body.note)
    out = ApprovalFull.of(approval)
    session.commit()
    return out


@router.post("/approvals/{approval_id}/decision", response_model=ApprovalFull)
def decide(
    approval_id: IdPath, body: Decision, session: SessionDep, user: AdminDep
) -> ApprovalFull:
    """Approve or reject a waiting request (admin); 409 when it was decided already."""
    from api.work import approving

    approval = get_or_404(session, Approval, approval_id, "approval")
    with answering():
        approving.decide(session, approval, user.id, body.approve, body.note)
    out = ApprovalFull.of(approval)
    session.commit()
    return out


@router.get("/approvals", response_model=Page[ApprovalFull])
def list_approvals(
    session: SessionDep,
    user: ReaderDep,
    paging: PagingDep,
    state: Annotated[Literal["requested", "approved", "rejected"] | None, Query()] = None,
    plan_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Page[ApprovalFull]:
    """Approvals, newest first (signed-in readers); ``?state=`` and ``?plan_id=`` filter."""
    statement = select(Approval).order_by(Approval.id.desc())
    if state is not None:
        statement = statement.where(Approval.state == state)
    if plan_id is not None:
        statement = statement.where(Approval.plan_id == plan_id)
    return fetch_page(session, statement, paging, ApprovalFull.of)


@router.get("/approvals/{approval_id}", response_model=ApprovalFull)
def get_approval(approval_id: IdPath, session: SessionDep, user: ReaderDep) -> ApprovalFull:
    """One approval (signed-in readers)."""
    return ApprovalFull.of(get_or_404(session, Approval, approval_id, "approval"))
