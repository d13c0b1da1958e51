"""Approval to fly a plan: a crew asks with an approving check, an admin decides.

A request names a check of the plan whose verdict is ``APPROVED`` (a plan that needs an
authorisation is checked again with it, which turns the finding into an advisory) and whose
window has not ended. An admin approves or rejects it once; the decision records who and
when, and a decision's note is kept as a note on the approval. The decision goes into the
transparency log (``flight_approved``), naming the decider by role only. Flying
(:mod:`api.routes.flights`) needs an approval in state ``approved`` for the plan.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.ledger import record
from api.storage.models import Approval, Check, Note, User
from api.storage.models import Plan as PlanRow
from api.work.errors import Conflict, Missing

__all__ = ["FLYABLE", "decide", "request_approval"]

#: The verdicts that let a plan fly (see :class:`compliance.report.Report`).
FLYABLE = frozenset({"APPROVED"})


def _window_open(check: Check, now: datetime) -> None:
    if check.window_end <= now:
        raise Conflict(
            f"check {check.id}'s window ended at {check.window_end.isoformat()}: "
            "check the plan again for a window to come"
        )


def request_approval(
    session: Session,
    plan: PlanRow,
    check_id: int,
    user_id: int,
    note: str = "",
    now: datetime | None = None,
) -> Approval:
    """Ask to fly ``plan`` on the strength of check ``check_id``; a Conflict unless that check
    belongs to the plan, lets it fly, its window is still to come and no request waits."""
    now = now or datetime.now(UTC)
    check = session.get(Check, check_id)
    if check is None:
        raise Missing("check", check_id)
    if check.plan_id != plan.id:
        raise Conflict(
            f"check {check_id} is a check of plan {check.plan_id}, not of plan {plan.id}"
        )
    if check.verdict not in FLYABLE:
        hint = (
            f"use the check of the repaired plan {check.fixed_plan_id}"
            if check.fixed_plan_id
            else "repair the plan (fix: true) or check it with the authorisations it needs"
        )
        raise Conflict(
            f"check {check_id} of plan {plan.id} is {check.verdict}, not APPROVED: {hint}"
        )
    _window_open(check, now)
    waiting = session.scalar(
        select(Approval.id).where(Approval.plan_id == plan.id, Approval.state == "requested")
    )
    if waiting is not None:
        raise Conflict(
            f"plan {plan.id} already has approval request {waiting} waiting for a decision"
        )
    report = check.report if isinstance(check.report, dict) else {}
    authorisations = report.get("authorisations") or []
    approval = Approval(
        plan_id=plan.id,
        check_id=check.id,
        state="requested",
        requested_by=user_id,
        requested_at=now,
        note=note,
        authorisations=list(authorisations),
    )
    session.add(approval)
    session.flush()
    return approval


def decide(
    session: Session,
    approval: Approval,
    user_id: int,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> Approval:
    """Approve or reject a waiting request, recording who decided and when; a Conflict when it
    was decided already (or, to approve, when its check's window has ended)."""
    now = now or datetime.now(UTC)
    if approval.state != "requested":
        when = approval.decided_at.isoformat() if approval.decided_at else "earlier"
        raise Conflict(f"approval {approval.id} was {approval.state} already ({when})")
    if approve and approval.check_id is not None:
        check = session.get(Check, approval.check_id)
        if check is not None:
            _window_open(check, now)
    approval.state = "approved" if approve else "rejected"
    approval.decided_by = user_id
    approval.decided_at = now
    if note:
        session.add(Note(subject="approval", subject_id=approval.id, author_id=user_id, text=note))
    decider = session.get(User, user_id)
    record(
        session,
        "flight_approved",
        f"plan:{approval.plan_id}",
        {
            "plan_id": approval.plan_id,
            "approval_id": approval.id,
            "check_id": approval.check_id,
            "approved_by_role": decider.role if decider is not None else "unknown",
            "decision": approval.state,
            "authorisations": [str(a) for a in approval.authorisations or []],
        },
    )
    session.flush()
    return approval
