"""The whole chain through the service: a plan checked, approved and flown by a job, footage
inspected; its record is published by the work itself and its page proves it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from seeding import seed
from sitekit import check_page


def test_a_flown_flight_is_disclosed_and_proved(
    client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    ids = seed(client, headers)
    flight_id = ids["flight_id"]
    body = client.get(f"/api/public/flights/{flight_id}").json()
    record = body["record"]
    assert record["state"] == "flown" and record["source"] == "builtin"
    assert record["purpose"] == "seeded"
    assert record["asset"]["kind"] == "structure"
    assert record["verdict"] == "APPROVED"
    assert record["route"]["type"] == "LineString" and len(record["route"]["coordinates"]) >= 2
    assert record["data_collected"]["track"] is True
    assert body["proof"]["state"] == "verified", body["proof"]
    kinds = [ref["kind"] for ref in body["ledger"]]
    assert "flight_flown" in kinds and "disclosure_published" in kinds
    # the flown plan's check and approval, as the log names them, come before the flight
    assert kinds.index("plan_checked") < kinds.index("flight_approved") < kinds.index(
        "flight_flown"
    )
    assert [ref["index"] for ref in body["ledger"]] == sorted(r["index"] for r in body["ledger"])
    words = check_page(client.get(f"/flights/{flight_id}").text, "en").words
    proof = body["proof"]
    assert (
        f"Entry {proof['entry_index']}, included in checkpoint {proof['checkpoint']}, verified."
        in words
    )
    app: Any = client.app
    listed = client.get("/api/public/flights").json()
    assert [i["flight_id"] for i in listed["items"]] == [flight_id]
    assert app.state.ledger.audit().ok
