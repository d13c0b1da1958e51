"""The regulator's audit export (``GET /api/audit/export``) and audit result
(``GET /api/audit/ledger``)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from questionkit import disclosed_flight, staff_user
from sqlalchemy import func, select, text

from api.storage import models as m

SECTIONS = {
    "users": m.User,
    "assets": m.Asset,
    "plans": m.Plan,
    "checks": m.Check,
    "approvals": m.Approval,
    "flights": m.Flight,
    "footage": m.Footage,
    "inspections": m.Inspection,
    "defects": m.Defect,
    "notes": m.Note,
    "questions": m.Question,
    "disclosures": m.Disclosure,
    "ledger_entries": m.LedgerEntry,
    "ledger_checkpoints": m.LedgerCheckpoint,
}


def _count(app: Any, model: Any) -> int:
    with app.state.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _questions(app: Any, flight_id: int, asked_at: datetime | None = None) -> tuple[int, int]:
    """A published and answered question and a rejected one about the flight."""
    from api.work import questions

    now = asked_at or datetime.now(UTC)
    with app.state.db.session() as session:
        crew = staff_user(session, "crew")
        kept = questions.ask(session, flight_id, "How long is the footage kept?", "en", now=now)
        questions.review(session, kept.id, crew, True, now=now)
        questions.answer(session, kept.id, crew, "90 days.", now=now + timedelta(minutes=5))
        spam = questions.ask(session, flight_id, "Cheap watches at 555 123 4567", "en", now=now)
        questions.review(session, spam.id, crew, False, "advertising", now=now)
        return kept.id, spam.id


@pytest.mark.slow
def test_export_holds_every_record(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    from seeding import seed

    seeded = seed(client, headers)
    app: Any = client.app
    flight_id = disclosed_flight(app)
    _, rejected = _questions(app, flight_id)
    answer = client.get("/api/audit/export", headers=headers["regulator"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-disposition"] == 'attachment; filename="skyledger-audit.json"'
    document = answer.json()
    assert (document["schema"], document["version"]) == ("skyledger.audit-export", 1)
    assert document["range"]["start"] is None
    for key, model in SECTIONS.items():
        assert len(document[key]) == document["counts"][key] == _count(app, model), key
        assert document[key], f"the seeded service has {key}"
    assert set(document["counts"]) == set(SECTIONS)

    ledger = app.state.ledger
    assert document["ledger"]["tree_size"] == ledger.size() == len(document["ledger_entries"])
    assert document["ledger"]["public_key"] == ledger.public_key_hex
    from compliance.ledger.canonical import canonical_json

    for position, row in enumerate(document["ledger_entries"]):
        assert row["idx"] == position == row["entry"]["index"]
        leaf = hashlib.sha256(b"\x00" + canonical_json(row["entry"])).hexdigest()
        assert row["leaf_hash"] == leaf
    kinds = {row["kind"] for row in document["ledger_entries"]}
    assert {"plan_checked", "flight_approved", "question_asked", "answer_given"} <= kinds

    spam = next(q for q in document["questions"] if q["id"] == rejected)
    assert (spam["state"], spam["review_note"]) == ("rejected", "advertising")
    assert spam["text"] == "Cheap watches at 555 123 4567"  # as asked: the regulator sees all
    asked = {q["flight_id"] for q in document["questions"]}
    assert asked == {flight_id, seeded["flight_id"]}  # seed() asks about its own flight
    assert all(
        set(u) == {"id", "name", "role", "disabled", "created_at"} for u in document["users"]
    )
    assert "token_hash" not in answer.text and "token_salt" not in answer.text
    approval = document["approvals"][0]
    assert approval["state"] == "approved" and approval["decided_by"] and approval["decided_at"]
    check = document["checks"][0]
    assert check["verdict"] and check["report"]["schema"]
    assert isinstance(document["plans"][0]["document"], dict)  # the plan's JSON, parsed
    assert document["flights"][0]["public"] in (True, False)


def test_range_and_csv(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    app: Any = client.app
    old = disclosed_flight(app, started_at=datetime(2021, 3, 1, 9, tzinfo=UTC), purpose="old")
    new = disclosed_flight(app, started_at=datetime(2031, 3, 1, 9, tzinfo=UTC), purpose="new")
    kept, rejected = _questions(app, old, asked_at=datetime(2021, 3, 2, 9, tzinfo=UTC))
    regulator = headers["regulator"]

    def export(**params: str) -> dict[str, Any]:
        answer = client.get("/api/audit/export", params=params, headers=regulator)
        assert answer.status_code == 200, answer.text
        document: dict[str, Any] = answer.json()
        return document

    in_2021 = export(start="2021-01-01", end="2022-01-01T00:00:00+00:00")
    assert in_2021["range"] == {"start": "2021-01-01T00:00:00Z", "end": "2022-01-01T00:00:00Z"}
    assert [f["id"] for f in in_2021["flights"]] == [old]
    assert sorted(q["id"] for q in in_2021["questions"]) == [kept, rejected]
    assert in_2021["ledger_entries"] == [] and in_2021["ledger_checkpoints"] == []
    assert in_2021["disclosures"] == []  # published today
    assert len(in_2021["users"]) == _count(app, m.User)  # every one, whatever the range

    # the end is excluded, the start included
    assert export(start="2031-03-01T09:00:00Z")["flights"][0]["id"] == new
    assert export(end="2031-03-01T09:00:00Z", start="2030-01-01")["flights"] == []
    # a time in another zone is the same instant
    assert export(start="2031-03-01T10:00:00+01:00")["flights"][0]["id"] == new

    everything = export()
    assert everything["range"] == {"start": None, "end": None}
    assert [f["id"] for f in everything["flights"]] == [old, new]
    now = export(end=datetime.now(UTC).isoformat())
    assert [f["id"] for f in now["flights"]] == [old]  # 2031 is still to come
    answer = client.get(
        "/api/audit/export",
        params={"format": "csv", "end": now["range"]["end"]},
        headers=regulator,
    )
    assert answer.headers["content-disposition"].startswith(
        'attachment; filename="skyledger-audit-to-'
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["record_type", "id", "time", "fields"]
    header = json.loads(rows[1][3])
    assert rows[1][0] == "export" and header["schema"] == "skyledger.audit-export"
    assert rows[-1][0] == "counts"
    assert json.loads(rows[-1][3]) == now["counts"]
    records = rows[2:-1]
    by_type: dict[str, list[dict[str, Any]]] = {}
    for record_type, ident, when, fields in records:
        parsed = json.loads(fields)
        key = "idx" if record_type == "ledger_entry" else "id"
        assert str(parsed[key]) == ident
        assert datetime.fromisoformat(when).tzinfo is not None
        by_type.setdefault(record_type, []).append(parsed)
    assert by_type["flight"] == now["flights"]
    assert by_type["question"] == now["questions"]
    assert by_type["ledger_entry"] == now["ledger_entries"]
    flight_time = next(r[2] for r in records if r[0] == "flight")
    assert flight_time == "2021-03-01T09:00:00Z"  # a flight's time is when it started


def test_export_errors_and_roles(client: TestClient, headers: dict[str, dict[str, str]]) -> None:
    url = "/api/audit/export"
    for path in (url, "/api/audit/ledger"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers=headers["crew"]).status_code == 403
        assert client.get(path, headers=headers["regulator"]).status_code == 200
        assert client.get(path, headers=headers["admin"]).status_code == 200

    def refused(**params: str) -> str:
        answer = client.get(url, params=params, headers=headers["admin"])
        assert answer.status_code == 422
        detail: str = answer.json()["detail"]
        assert "\n" not in detail
        return detail

    assert refused(start="2026-13-01") == (
        "start '2026-13-01' is not an ISO 8601 date or time (2026-12-07T07:00Z)"
    )
    assert refused(end="2026-01-01T00:00") == (
        "end '2026-01-01T00:00' has no UTC offset: add Z or one like +01:00"
    )
    assert refused(start="2030-01-01", end="2020-01-01") == (
        "start 2030-01-01T00:00:00Z must be before end 2020-01-01T00:00:00Z"
    )
    assert "format" in refused(format="xml")
    assert "is not an ISO 8601" in refused(start="0001-01-01T00:00:00+01:00")  # before year 1
    for start, end in (("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"), ("2026-01-01", None)):
        params = {"start": start} | ({"end": end} if end else {})
        answer = client.get(url, params=params, headers=headers["admin"])
        assert answer.status_code == 200, answer.text


def test_audit_result_names_a_changed_entry(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    app: Any = client.app
    _questions(app, disclosed_flight(app))
    size = app.state.ledger.size()
    assert size == 5  # asked, reviewed, answered; asked, reviewed
    result = client.get("/api/audit/ledger", headers=headers["regulator"]).json()
    assert result["ok"] is True and result["tree_size"] == size
    assert result["first_bad_index"] is None
    with app.state.db.engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_entries SET entry = replace(entry, 'true', 'false') WHERE idx = 1")
        )
    result = client.get("/api/audit/ledger", headers=headers["admin"]).json()
    assert result["ok"] is False
    assert result["first_bad_index"] == 1
    assert isinstance(result["message"], str) and "\n" not in result["message"]
