"""The public API of published flight records: lists and filters, one flight with its proof
(checked again with the standalone verifier), the GeoJSON and CSV exports, the statistics."""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sitekit import add_flight, add_question

from api.routes.public import CSV_COLUMNS


@pytest.fixture
def flights(client: TestClient) -> dict[str, int]:
    """Three public flights in two months (one of another asset, one deviating) and one that
    is not public."""
    app: Any = client.app
    return {
        "oct": add_flight(
            app, purpose="Tower survey", started_at=datetime(2026, 10, 3, 9, tzinfo=UTC)
        ),
        "nov": add_flight(
            app,
            purpose="Bridge deck check",
            conforms=False,
            started_at=datetime(2026, 11, 20, 23, 30, tzinfo=UTC),
            defects={"crack": 2, "rust": 1},
            asset_name="bridge",
        ),
        "dec": add_flight(
            app, purpose="=Tower survey", started_at=datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
        ),
        "hidden": add_flight(app, purpose="Police search", public=False),
    }


def test_the_list_filters_and_pages(client: TestClient, flights: dict[str, int]) -> None:
    page = client.get("/api/public/flights").json()
    assert page["total"] == 3
    assert [i["flight_id"] for i in page["items"]] == [
        flights["dec"],
        flights["nov"],
        flights["oct"],
    ]
    first = page["items"][0]
    assert set(first) == {"flight_id", "version", "published_at", "record_sha256", "record"}
    assert "route" not in first["record"]
    assert first["record"]["purpose"] == "=Tower survey"

    def ids(query: str) -> list[int]:
        answer = client.get(f"/api/public/flights?{query}")
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "public, max-age=2"
        return [i["flight_id"] for i in answer.json()["items"]]

    assert ids("from=2026-11-01") == [flights["dec"], flights["nov"]]
    assert ids("to=2026-11-20") == [flights["nov"], flights["oct"]]  # the whole day is in
    assert ids("from=2026-11-21&to=2026-11-30") == [flights["dec"]]
    assert ids("purpose=tower") == [flights["dec"], flights["oct"]]
    assert ids("purpose=100%25") == []
    assert ids("limit=1&offset=1") == [flights["nov"]]
    bridge = client.get(f"/api/public/flights/{flights['nov']}").json()["record"]["asset"]["id"]
    assert ids(f"asset_id={bridge}") == [flights["nov"]]
    bad = client.get("/api/public/flights?from=2026-13-01")
    assert bad.status_code == 422
    assert "from" in bad.json()["detail"]


def test_one_flight_with_its_proof(client: TestClient, flights: dict[str, int]) -> None:
    from compliance.ledger import verify as verifier

    flight_id = flights["oct"]
    answer = client.get(f"/api/public/flights/{flight_id}")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {
        "flight_id",
        "version",
        "published_at",
        "record",
        "record_sha256",
        "versions",
        "ledger",
        "proof",
        "corrections",
    }
    assert body["version"] == 1 and len(body["versions"]) == 1 and body["corrections"] == []
    proof = body["proof"]
    assert proof["state"] == "verified", proof
    assert proof["record_matches"] is True
    (ref,) = body["ledger"]
    assert ref["kind"] == "disclosure_published" and ref["index"] == proof["entry_index"]
    # the second computation: the standalone verifier with the log's own public answers
    entry = client.get(f"/api/public/ledger/entries/{ref['index']}").json()
    checkpoint = client.get("/api/public/ledger/checkpoint").json()
    assert checkpoint["tree_size"] == proof["tree_size"]
    leaf = verifier.leaf_hash(verifier.canonical_json(entry["entry"]))
    assert leaf.hex() == ref["leaf_hash"] == entry["leaf_hash"]
    assert verifier.verify_inclusion(
        leaf,
        ref["index"],
        proof["tree_size"],
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(proof["root_hash"]),
    )
    record_hash = verifier.hashlib.sha256(verifier.canonical_json(body["record"])).hexdigest()
    assert record_hash == body["record_sha256"] == entry["entry"]["data"]["record_sha256"]

    for missing in (flights["hidden"], 99_999):
        gone = client.get(f"/api/public/flights/{missing}")
        assert gone.status_code == 404
        assert gone.json()["detail"] == f"published flight record {missing} does not exist"


def test_geojson_export_round_trips(client: TestClient, flights: dict[str, int]) -> None:
    answer = client.get("/api/public/flights.geojson")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    doc = json.loads(answer.content)
    assert doc["type"] == "FeatureCollection" and doc["schema"] == 1
    assert [f["id"] for f in doc["features"]] == [flights["dec"], flights["nov"], flights["oct"]]
    for feature in doc["features"]:
        full = client.get(f"/api/public/flights/{feature['id']}").json()
        assert feature["type"] == "Feature"
        assert feature["geometry"] == full["record"]["route"]
        assert feature["properties"]["record_sha256"] == full["record_sha256"]
        assert {k: v for k, v in feature["properties"].items() if k in full["record"]} == {
            k: v for k, v in full["record"].items() if k != "route"
        }
    only = json.loads(client.get("/api/public/flights.geojson?purpose=bridge").content)
    assert [f["id"] for f in only["features"]] == [flights["nov"]]


def test_csv_export_round_trips(client: TestClient, flights: dict[str, int]) -> None:
    answer = client.get("/api/public/flights.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [int(r["flight_id"]) for r in rows] == [flights["dec"], flights["nov"], flights["oct"]]
    by_id = {int(r["flight_id"]): r for r in rows}
    nov = by_id[flights["nov"]]
    record = client.get(f"/api/public/flights/{flights['nov']}").json()["record"]
    assert nov["date"] == record["date"] == "2026-11-20"
    assert nov["defects"] == "crack=2;rust=1"
    assert nov["conforms"] == "False" and nov["deviations"] == "1"
    assert nov["verdict"] == "APPROVED" and nov["authorisations"] == "SKY-AD1"
    points = [
        tuple(float(v) for v in pair.split())
        for pair in nov["route_wkt"].removeprefix("LINESTRING (").removesuffix(")").split(", ")
    ]
    assert all(
        math.isclose(a, b, abs_tol=1e-9)
        for p, q in zip(points, record["route"]["coordinates"], strict=True)
        for a, b in zip(p, q, strict=True)
    )
    # text a spreadsheet would run as a formula is written so that it is not
    assert by_id[flights["dec"]]["purpose"] == "'=Tower survey"


def test_statistics(client: TestClient, flights: dict[str, int]) -> None:
    app: Any = client.app
    asked = datetime(2026, 12, 1, 9, tzinfo=UTC)
    add_question(
        app,
        flights["oct"],
        "Why so early in the morning?",
        answer="Wind.",
        asked_at=asked,
        answered_after=timedelta(hours=2),
    )
    add_question(
        app,
        flights["oct"],
        "How long is the video kept?",
        answer="90 days.",
        asked_at=asked,
        answered_after=timedelta(hours=6),
    )
    add_question(app, flights["nov"], "Was my garden filmed?", asked_at=asked)
    add_question(app, flights["nov"], "Not published", state="pending", asked_at=asked)
    add_question(app, flights["nov"], "Rejected one", state="rejected", asked_at=asked)
    from api.ledger import record

    with app.state.db.session() as session:  # the hidden flight's flight_flown entry
        record(
            session,
            "flight_flown",
            f"flight:{flights['hidden']}",
            {
                "flight_id": flights["hidden"],
                "plan_id": None,
                "source": "builtin",
                "track_sha256": "a" * 64,
                "log_sha256": None,
                "started_at": "2026-12-07T07:00:00.000Z",
                "ended_at": "2026-12-07T07:10:00.000Z",
                "conforms": None,
                "deviations": 0,
            },
        )
    app.state.public_stats = None  # forget the kept copy
    stats = client.get("/api/public/stats").json()
    assert stats["schema"] == 1
    assert stats["flights"] == 3
    assert stats["per_month"] == [
        {"month": "2026-10", "flights": 1},
        {"month": "2026-11", "flights": 2},
    ]
    assert stats["approved_as_planned"] == {"flights": 2, "share": pytest.approx(2 / 3)}
    assert stats["questions"] == {
        "asked": 5,
        "published": 3,
        "answered": 2,
        "answered_share": pytest.approx(2 / 3),
        "median_answer_s": 4 * 3600,
    }
    assert stats["undisclosed_flight_entries"] == 1
