"""Checks as the service keeps them: what the routes and the demo call.

:func:`check_plan` checks a plan against the sample city's zones under a preset rule set (as
``skyledger check`` and the demo do) and, with ``fix``, repairs a plan that is not approved
(:func:`compliance.remedy.fix`) and checks the repair. :func:`record_check` stores the report;
a repair that changed the plan becomes a new revision naming its parent (``source`` 'fix'),
with its own check. The report keeps the authorisations the check was given, and a repair's
remedies. Every stored check is recorded in the transparency log (``plan_checked``: the
plan's and the report's hashes, the verdict, the rules and the window).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from api.ledger import document_sha256, entry_time, record
from api.storage.models import Check
from api.storage.models import Plan as PlanRow
from api.work.planning import DEFAULT_RULES, store_plan

if TYPE_CHECKING:
    from api.checks import CheckRun
    from compliance.index import ZoneIndex
    from mission.plan import Plan

__all__ = ["CheckOutcome", "check_plan", "record_check"]


@functools.lru_cache(maxsize=1)
def _sample_zones() -> tuple[ZoneIndex, tuple[str, ...]]:
    from compliance.index import ZoneIndex
    from compliance.sources import SAMPLE_ZONES_FILE, read_zones, sample_zones_text

    found = read_zones(sample_zones_text(), SAMPLE_ZONES_FILE)
    names = (f"{SAMPLE_ZONES_FILE} ({found.format}, {len(found.zones)} zones)",)
    return ZoneIndex(found.zones), names


def check_plan(
    plan: Plan,
    window: tuple[datetime, datetime],
    rules: str = DEFAULT_RULES,
    authorisations: Sequence[str] = (),
    *,
    fix: bool = False,
    now: datetime | None = None,
    pilot: tuple[float, float] | None = None,
    gsd_tolerance: float = 0.1,
    verbose: bool = False,
) -> CheckRun:
    """Check ``plan`` against the sample city's zones under the preset ``rules`` (as
    ``skyledger check`` does); with ``fix``, repair a plan not approved and check the repair."""
    from api.checks import CheckRun
    from compliance.check import check
    from compliance.remedy import fix as repair
    from compliance.rules import preset
    from mission.analysis import analyse

    index, sources = _sample_zones()
    rule_set = preset(rules)
    options: dict[str, Any] = {
        "verbose": verbose,
        "now": now or datetime.now(UTC),
        "pilot": pilot,
        "sources": sources,
    }
    report = check(plan, index, rule_set, window, authorisations, analysis=analyse(plan), **options)
    if not fix or report.verdict == "APPROVED":
        return CheckRun(report)
    fixed = repair(
        plan,
        index,
        rule_set,
        window,
        authorisations,
        gsd_tolerance=gsd_tolerance,
        report=report,
        **options,
    )
    return CheckRun(report, fixed)


@dataclass(frozen=True)
class CheckOutcome:
    """A stored check; with a repair, the repaired plan and its own check."""

    check: Check
    fixed_plan: PlanRow | None = None
    fixed_check: Check | None = None


def _check_row(
    session: Session,
    plan_row: PlanRow,
    report: dict[str, Any],
    verdict: str,
    window: tuple[datetime, datetime],
    rules: str,
    user_id: int,
) -> Check:
    row = Check(
        plan_id=plan_row.id,
        verdict=verdict,
        report=report,
        window_start=window[0],
        window_end=window[1],
        rules=rules,
        created_by=user_id,
    )
    session.add(row)
    session.flush()
    _log_check(session, plan_row, row)
    return row


def _log_check(session: Session, plan_row: PlanRow, row: Check) -> None:
    """Record the check in the transparency log (``plan_checked``)."""
    record(
        session,
        "plan_checked",
        f"plan:{plan_row.id}",
        {
            "plan_id": plan_row.id,
            "check_id": row.id,
            "plan_sha256": plan_row.sha256,
            "report_sha256": document_sha256(row.report),
            "verdict": row.verdict,
            "rules": row.rules,
            "window_start": entry_time(row.window_start),
            "window_end": entry_time(row.window_end),
        },
    )


def record_check(
    session: Session,
    plan_row: PlanRow,
    run: CheckRun,
    rules: str,
    user_id: int,
    authorisations: Sequence[str] = (),
) -> CheckOutcome:
    """Store a check of ``plan_row``; a repair becomes a new revision with its own check."""
    report = run.report
    doc = {**report.to_dict(), "authorisations": list(authorisations)}
    fixed = run.fixed
    changed = fixed is not None and any(r.applied for r in fixed.remedies)
    if fixed is not None:
        doc["remedies"] = [r.to_dict() for r in fixed.remedies]
    check = _check_row(session, plan_row, doc, report.verdict, report.window, rules, user_id)
    if fixed is None or not changed:
        return CheckOutcome(check)
    new_plan = store_plan(
        session,
        fixed.plan,
        source="fix",
        user_id=user_id,
        params={**plan_row.params, "remedies": [r.action for r in fixed.remedies if r.applied]},
        parent=plan_row,
    )
    check.fixed_plan_id = new_plan.id
    fixed_doc = {**fixed.report.to_dict(), "authorisations": list(authorisations)}
    fixed_check = _check_row(
        session, new_plan, fixed_doc, fixed.report.verdict, fixed.report.window, rules, user_id
    )
    session.flush()
    return CheckOutcome(check, new_plan, fixed_check)
