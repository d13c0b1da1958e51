"""Checks, approvals and notes through the service: asset → plan → check and fix → approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.demo import school_day

Headers = dict[str, dict[str, str]]


def _window() -> str:
    return school_day(datetime.now(UTC))[0].isoformat()


def _tower_plan(client: TestClient, headers: Headers) -> dict[str, Any]:
    """The water tower: its plan passes the hospital helipad, REJECTED until detoured."""
    assets = client.post("/api/assets/sample", headers=headers["crew"]).json()["items"]
    tower = next(a["id"] for a in assets if a["name"] == "water-tower")
    got = client.post("/api/plans", json={"asset_id": tower}, headers=headers["crew"])
    assert got.status_code == 201, got.text
    plan: dict[str, Any] = got.json()
    return plan


def _check(
    client: TestClient, headers: Headers, plan_id: int, **body: Any
) -> tuple[int, dict[str, Any]]:
    body = {"start": _window(), "duration_min": 180, **body}
    got = client.post(f"/api/plans/{plan_id}/checks", json=body, headers=headers["crew"])
    return got.status_code, got.json()


def test_plan_check_fix_request_and_approve(client: TestClient, headers: Headers) -> None:
    plan = _tower_plan(client, headers)
    status, plain = _check(client, headers, plan["id"])
    assert status == 201, plain
    assert plain["check"]["verdict"] == "REJECTED" and plain["fixed_plan"] is None
    assert plain["check"]["rules"] == "eu-open"
    assert {f["zone_id"] for f in plain["check"]["report"]["findings"]} >= {"SKY-HOSP-HELI"}

    # a REJECTED check cannot ask for approval
    refused = client.post(
        f"/api/plans/{plan['id']}/approval-requests",
        json={"check_id": plain["check"]["id"]},
        headers=headers["crew"],
    )
    assert refused.status_code == 409 and "REJECTED" in refused.json()["detail"]

    status, fixed = _check(client, headers, plan["id"], fix=True)
    assert status == 201, fixed
    check, new_plan, new_check = fixed["check"], fixed["fixed_plan"], fixed["fixed_check"]
    assert check["verdict"] == "REJECTED" and check["fixed_plan_id"] == new_plan["id"]
    assert any(r["applied"] for r in check["report"]["remedies"])
    assert new_plan["source"] == "fix" and new_plan["parent_id"] == plan["id"]
    assert new_plan["revision"] == 2 and new_plan["asset_id"] == plan["asset_id"]
    assert new_plan["sha256"] != plan["sha256"]
    assert new_check["verdict"] == "APPROVED" and new_check["plan_id"] == new_plan["id"]

    # the original plan's check points at the repair
    hint = client.post(
        f"/api/plans/{plan['id']}/approval-requests",
        json={"check_id": check["id"]},
        headers=headers["crew"],
    )
    assert hint.status_code == 409 and f"repaired plan {new_plan['id']}" in hint.json()["detail"]
    # a check of another plan does not count
    other = client.post(
        f"/api/plans/{plan['id']}/approval-requests",
        json={"check_id": new_check["id"]},
        headers=headers["crew"],
    )
    assert other.status_code == 409 and "not of plan" in other.json()["detail"]

    asked = client.post(
        f"/api/plans/{new_plan['id']}/approval-requests",
        json={"check_id": new_check["id"], "note": "tower inspection, detoured"},
        headers=headers["crew"],
    )
    assert asked.status_code == 201, asked.text
    approval = asked.json()
    assert approval["state"] == "requested" and approval["decided_by"] is None
    twice = client.post(
        f"/api/plans/{new_plan['id']}/approval-requests",
        json={"check_id": new_check["id"]},
        headers=headers["crew"],
    )
    assert twice.status_code == 409 and "waiting" in twice.json()["detail"]

    decision = {"approve": True, "note": "ok for Tuesday"}
    url = f"/api/approvals/{approval['id']}/decision"
    assert client.post(url, json=decision, headers=headers["crew"]).status_code == 403
    assert client.post(url, json=decision, headers=headers["regulator"]).status_code == 403
    before = datetime.now(UTC)
    decided = client.post(url, json=decision, headers=headers["admin"])
    assert decided.status_code == 200, decided.text
    done = decided.json()
    me = client.get("/api/me", headers=headers["admin"]).json()
    assert done["state"] == "approved" and done["decided_by"] == me["id"]
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(done["decided_at"])
    again = client.post(url, json={"approve": False}, headers=headers["admin"])
    assert again.status_code == 409 and "approved already" in again.json()["detail"]

    listed = client.get("/api/approvals?state=approved", headers=headers["regulator"]).json()
    assert [a["id"] for a in listed["items"]] == [approval["id"]]
    assert (
        client.get("/api/approvals?state=requested", headers=headers["crew"]).json()["total"] == 0
    )
    assert client.get(f"/api/approvals/{approval['id']}", headers=headers["crew"]).json() == done
    notes = client.get(
        f"/api/notes?subject=approval&subject_id={approval['id']}", headers=headers["crew"]
    ).json()
    assert [n["text"] for n in notes["items"]] == ["ok for Tuesday"]

    checks = client.get(f"/api/plans/{plan['id']}/checks", headers=headers["regulator"]).json()
    assert [c["id"] for c in checks["items"]] == [check["id"], plain["check"]["id"]]
    one = client.get(f"/api/checks/{new_check['id']}", headers=headers["regulator"]).json()
    assert one == new_check
    assert client.get(f"/api/checks/{new_check['id']}").status_code == 401


def test_rejected_request_and_an_ended_window(client: TestClient, headers: Headers) -> None:
    from api.storage.models import Approval, Check, User
    from api.storage.models import Plan as PlanRow
    from api.work import approving
    from api.work.errors import Conflict

    plan = _tower_plan(client, headers)
    _, fixed = _check(client, headers, plan["id"], fix=True, rules="us-part107")
    assert fixed["check"]["rules"] == fixed["fixed_check"]["rules"] == "us-part107"
    final = fixed["fixed_check"]
    assert final["verdict"] == "APPROVED"
    asked = client.post(
        f"/api/plans/{final['plan_id']}/approval-requests",
        json={"check_id": final["id"]},
        headers=headers["crew"],
    ).json()
    no = client.post(
        f"/api/approvals/{asked['id']}/decision",
        json={"approve": False, "note": "not this week"},
        headers=headers["admin"],
    ).json()
    assert no["state"] == "rejected" and no["decided_at"] is not None

    # last week's school-day window: repaired and approved, but over
    past = school_day(datetime.now(UTC) - timedelta(days=10))[0].isoformat()
    status, old = _check(client, headers, plan["id"], start=past, duration_min=60, fix=True)
    assert status == 201 and old["fixed_check"]["verdict"] == "APPROVED"
    ended = old["fixed_check"]
    got = client.post(
        f"/api/plans/{ended['plan_id']}/approval-requests",
        json={"check_id": ended["id"]},
        headers=headers["crew"],
    )
    assert got.status_code == 409 and "window ended" in got.json()["detail"]

    # asked in time, but the admin comes too late to approve (rejecting is still possible)
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        check = session.get(Check, ended["id"])
        crew = session.query(User).filter_by(role="crew").one()
        ended_plan = session.get(PlanRow, ended["plan_id"])
        early = check.window_start - timedelta(hours=1)
        request = approving.request_approval(session, ended_plan, check.id, crew.id, now=early)
        late = check.window_end + timedelta(minutes=1)
        with pytest.raises(Conflict, match="window ended"):
            approving.decide(session, request, crew.id, True, now=late)
        approving.decide(session, request, crew.id, False, now=late)
        assert session.get(Approval, request.id).state == "rejected"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"start": "2030-06-04T09:00"}, "start '2030-06-04T09:00' has no UTC offset"),
        ({"start": "tuesday"}, "not an ISO 8601"),
        ({"start": "9999-12-31T23:00+00:00"}, "years 2000..2099"),
        ({"start": "0001-01-01T00:00+05:00"}, "out of range"),
        ({"start": ""}, "start"),
        ({"duration_min": 0}, "duration_min"),
        ({"duration_min": 1e12}, "duration_min"),
        ({"rules": "mars"}, "rules"),
        ({"authorisations": [""]}, "authorisations"),
        ({"gsd_tolerance_pct": -1}, "gsd_tolerance_pct"),
        ({"pilot": {"lat": 0}}, "pilot.lon"),
    ],
)
def test_bad_check_requests(
    client: TestClient, headers: Headers, body: dict[str, Any], says: str
) -> None:
    plan = _tower_plan(client, headers)
    status, got = _check(client, headers, plan["id"], **body)
    assert status == 422, got
    assert says in got["detail"]


def test_missing_records(client: TestClient, headers: Headers) -> None:
    crew, admin = headers["crew"], headers["admin"]
    body = {"start": _window(), "duration_min": 30}
    got = client.post("/api/plans/7/checks", json=body, headers=crew)
    assert got.status_code == 404 and got.json()["detail"] == "plan 7 does not exist"
    assert client.get("/api/checks/3", headers=crew).status_code == 404
    assert client.get("/api/plans/3/checks", headers=crew).status_code == 404
    plan = _tower_plan(client, headers)
    got = client.post(
        f"/api/plans/{plan['id']}/approval-requests", json={"check_id": 99}, headers=crew
    )
    assert got.status_code == 404 and got.json()["detail"] == "check 99 does not exist"
    got = client.post("/api/approvals/5/decision", json={"approve": True}, headers=admin)
    assert got.status_code == 404 and got.json()["detail"] == "approval 5 does not exist"
    assert client.get("/api/approvals?state=maybe", headers=crew).status_code == 422


def test_notes(client: TestClient, headers: Headers) -> None:
    plan = _tower_plan(client, headers)
    body = {"subject": "plan", "subject_id": plan["id"], "text": "  Why so close to the helipad?  "}
    assert client.post("/api/notes", json=body, headers=headers["crew"]).status_code == 403
    assert client.post("/api/notes", json=body).status_code == 401
    made = client.post("/api/notes", json=body, headers=headers["regulator"])
    assert made.status_code == 201, made.text
    note = made.json()
    assert note["text"] == "Why so close to the helipad?"
    me = client.get("/api/me", headers=headers["regulator"]).json()
    assert note["author_id"] == me["id"]
    listed = client.get(f"/api/notes?subject=plan&subject_id={plan['id']}", headers=headers["crew"])
    assert listed.json()["items"] == [note]
    assert client.get("/api/notes").status_code == 401
    for bad, says in [
        ({**body, "subject_id": 12}, "plan 12 does not exist"),
        ({**body, "subject": "flight", "subject_id": 1}, "flight 1 does not exist"),
        ({**body, "subject": "user"}, "subject"),
        ({**body, "text": " "}, "text"),
        ({**body, "text": "x" * 4001}, "text"),
        ({**body, "text": "a\x00b"}, "control characters"),
    ]:
        got = client.post("/api/notes", json=bad, headers=headers["admin"])
        assert 400 <= got.status_code < 500 and says in got.json()["detail"], (bad, got.text)
