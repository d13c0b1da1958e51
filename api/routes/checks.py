"""Checks: a plan checked against airspace and privacy zones and a rule set for a window.

``POST /api/plans/{id}/checks`` (crew) checks the plan against the sample city's zones, as
``skyledger check`` and the demo do, under ``eu-open`` (default) or ``us-part107``. With
``fix`` a plan not approved is repaired (``skyledger check --fix``): the repair is a new plan
naming its parent, checked in turn, and both checks are answered. Signed-in readers read
every check and its report (findings with their rule ids, and the evidence).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import CrewDep, ReaderDep, SessionDep
from api.routes.common import IdPath, Page, PagingDep, answering, fetch_page, get_or_404
from api.routes.plans import PlanFull
from api.storage.models import Check
from api.storage.models import Plan as PlanRow

__all__ = ["CheckCreate", "CheckFull", "CheckResult", "router"]

router = APIRouter(tags=["checks"])

#: Flight windows must lie within these years (the sun and the zones' schedules are computed).
YEARS = (2000, 2100)
#: The longest flight window, in minutes (a week).
MAX_WINDOW_MIN = 7 * 24 * 60


class Pilot(BaseModel):
    """Where the pilot stands (default: the plan's home)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class CheckCreate(BaseModel):
    """The flight window and rules to check a plan for (``skyledger check`` options)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    start: str = Field(
        max_length=64,
        description="start of the flight window, ISO 8601 with an offset (2026-12-01T09:00+11:00)",
        examples=["2026-12-01T09:00+11:00"],
    )
    duration_min: float = Field(gt=0, le=MAX_WINDOW_MIN, description="window length, minutes")
    rules: Literal["eu-open", "us-part107"] = "eu-open"
    authorisations: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="zone ids whose authority has authorised the flight",
    )
    fix: bool = Field(False, description="repair a plan that is not approved, and check it again")
    gsd_tolerance_pct: float = Field(
        10.0, ge=0, lt=100, description="how far a repair may move the GSD"
    )
    pilot: Pilot | None = None
    verbose: bool = Field(False, description="record why each nearby zone applied or not")


class CheckFull(BaseModel):
    """A stored check: verdict, window, rules and the full report."""

    id: int
    plan_id: int
    verdict: str
    rules: str
    window_start: datetime
    window_end: datetime
    fixed_plan_id: int | None
    report: dict[str, Any]
    created_by: int
    created_at: datetime

    @classmethod
    def of(cls, row: Check) -> CheckFull:
        return cls(
            id=row.id,
            plan_id=row.plan_id,
            verdict=row.verdict,
            rules=row.rules,
            window_start=row.window_start,
            window_end=row.window_end,
            fixed_plan_id=row.fixed_plan_id,
            report=row.report,
            created_by=row.created_by,
            created_at=row.created_at,
        )


class CheckResult(BaseModel):
    """A check; with a repair, the repaired plan and its own check."""

    check: CheckFull
    fixed_plan: PlanFull | None = None
    fixed_check: CheckFull | None = None


def window_of(start: str, duration_min: float) -> tuple[datetime, datetime]:
    """The window from ``start`` (ISO 8601 with an offset) and its length; 422 when not valid."""
    from api.checks import parse_time
    from api.commands import CommandError

    try:
        begin = parse_time(start, "start")
    except CommandError as exc:
        raise HTTPException(422, str(exc)) from None
    except OverflowError:
        raise HTTPException(422, f"start {start!r:.70} is out of range") from None
    if not YEARS[0] <= begin.year < YEARS[1]:
        raise HTTPException(
            422, f"start {start!r:.70} must be in the years {YEARS[0]}..{YEARS[1] - 1}"
        )
    return begin, begin + timedelta(minutes=duration_min)


@router.post("/plans/{plan_id}/checks", status_code=201, response_model=CheckResult)
def create_check(
    plan_id: IdPath, body: CheckCreate, session: SessionDep, user: CrewDep
) -> CheckResult:
    """Check a plan (crew, admin); with ``fix``, repair it and check the repair."""
    from api.work import checking, planning

    row = get_or_404(session, PlanRow, plan_id, "plan")
    window = window_of(body.start, body.duration_min)
    for zone in body.authorisations:
        if not zone or len(zone) > 100 or not zone.isprintable():
            raise HTTPException(
                422, f"authorisations: {zone!r:.40} is not a zone id (1..100 printable characters)"
            )
    pilot = None if body.pilot is None else (body.pilot.lon, body.pilot.lat)
    with answering():
        run = checking.check_plan(
            planning.load_plan(row),
            window,
            body.rules,
            body.authorisations,
            fix=body.fix,
            now=datetime.now(UTC),
            pilot=pilot,
            gsd_tolerance=body.gsd_tolerance_pct / 100.0,
            verbose=body.verbose,
        )
        outcome = checking.record_check(session, row, run, body.rules, user.id, body.authorisations)
    out = CheckResult(
        check=CheckFull.of(outcome.check),
        fixed_plan=None if outcome.fixed_plan is None else PlanFull.of(outcome.fixed_plan),
        fixed_check=None if outcome.fixed_check is None else CheckFull.of(outcome.fixed_check),
    )
    session.commit()
    return out


@router.get("/checks/{check_id}", response_model=CheckFull)
def get_check(check_id: IdPath, session: SessionDep, user: ReaderDep) -> CheckFull:
    """One check and its report (signed-in readers)."""
    return CheckFull.of(get_or_404(session, Check, check_id, "check"))


@router.get("/plans/{plan_id}/checks", response_model=Page[CheckFull])
def list_checks(
    plan_id: IdPath, session: SessionDep, user: ReaderDep, paging: PagingDep
) -> Page[CheckFull]:
    """A plan's checks, newest first (signed-in readers)."""
    get_or_404(session, PlanRow, plan_id, "plan")
    statement = select(Check).where(Check.plan_id == plan_id).order_by(Check.id.desc())
    return fetch_page(session, statement, paging, CheckFull.of)
