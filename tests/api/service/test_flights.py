"""Flights: an approved plan flown on the built-in vehicle as a job, flight logs uploaded,
and who sees which flight and which fields."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from seeding import wait_for_job

from api.storage.models import Approval, Asset, Check, File, Flight, User
from api.storage.models import Plan as PlanRow

PUBLIC_KEYS = {
    "id", "source", "state", "purpose", "started_at", "ended_at", "asset_id", "conforms",
    "summary",
}  # fmt: skip


@pytest.fixture(scope="module")
def deck(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The bridge deck's plan JSON as the planner writes it, and one built-in flight of it
    (its track CSV and .tlog), made once for the module."""
    from api import cli, commands, demo, flights
    from mission import formats
    from mission.assets import sample_city

    out = tmp_path_factory.mktemp("deck")
    city = out / demo.CITY_FILE
    city.write_text(json.dumps(sample_city()))
    feature = next(f for f in sample_city()["features"] if f["properties"]["name"] == "bridge-deck")
    args = cli.parse_args(demo.command_line(feature, city, out, demo.DEFAULT_CAMERA))
    plan = commands.plan_from_args(args)
    document = formats.render(plan, ".json")[0]
    (out / "deck.json").write_text(document)
    flown = flights.fly(
        str(out / "deck.json"), "builtin", str(out / "deck.csv"), tlog_out=str(out / "deck.tlog")
    )
    assert flown.result.completed
    return {
        "document": document,
        "csv": (out / "deck.csv").read_bytes(),
        "tlog": (out / "deck.tlog").read_bytes(),
        "feature": feature,
    }


def user_id(client: TestClient, name: str) -> int:
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        user = session.query(User).filter_by(name=name).one()
        return int(user.id)


def add_plan(
    client: TestClient,
    deck: dict[str, Any],
    *,
    approval: str | None = "approved",
    window: tuple[datetime, datetime] | None = None,
    asset_public: bool = True,
) -> int:
    """A plan of the bridge deck (with its asset), and an approval in state ``approval``
    (with a check of ``window`` when given); returns the plan's id."""
    crew, admin = user_id(client, "crew-1"), user_id(client, "admin-1")
    document = deck["document"]
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        asset = Asset(
            name="bridge-deck", kind="area", geometry=deck["feature"]["geometry"],
            properties=deck["feature"]["properties"], public=asset_public, created_by=crew,
        )  # fmt: skip
        session.add(asset)
        session.flush()
        plan = PlanRow(
            asset_id=asset.id, name="bridge-deck", source="planner", params={},
            document=document, sha256=hashlib.sha256(document.encode()).hexdigest(),
            created_by=crew,
        )  # fmt: skip
        session.add(plan)
        session.flush()
        check_id = None
        if window is not None:
            check = Check(
                plan_id=plan.id, verdict="APPROVED", report={}, window_start=window[0],
                window_end=window[1], rules="eu-open", created_by=crew,
            )  # fmt: skip
            session.add(check)
            session.flush()
            check_id = check.id
        if approval is not None:
            session.add(
                Approval(
                    plan_id=plan.id,
                    check_id=check_id,
                    state=approval,
                    requested_by=crew,
                    decided_by=admin,
                    decided_at=datetime.now(UTC),
                    authorisations=[],
                )
            )
        return int(plan.id)


def stored_files(client: TestClient) -> tuple[list[str], list[str]]:
    """Every blob under the store (temporary ones included) and every files row."""
    root: Path = client.app.state.blobs.root  # type: ignore[attr-defined]
    blobs = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    with client.app.state.db.session() as session:  # type: ignore[attr-defined]
        rows = sorted(f.sha256 for f in session.query(File))
    return blobs, rows


def upload(
    client: TestClient,
    headers: dict[str, str],
    name: str,
    data: bytes,
    content_type: str = "application/octet-stream",
    **fields: Any,
) -> Any:
    return client.post(
        "/api/flights/upload",
        headers=headers,
        files={"file": (name, data, content_type)},
        data={k: str(v) for k, v in fields.items()},
    )


# --- flying -----------------------------------------------------------------------------------


def test_an_approved_plan_is_flown_stored_and_compared_with_its_plan(client, headers, deck):
    window_start = datetime(2026, 12, 8, 9, tzinfo=UTC)
    window = (window_start, window_start + timedelta(hours=3))
    plan_id = add_plan(client, deck, window=window)
    answer = client.post(
        "/api/flights",
        headers=headers["crew"],
        json={"plan_id": plan_id, "purpose": "  deck inspection  "},
    )
    assert answer.status_code == 202, answer.text
    started = answer.json()
    flight, job = started["flight"], started["job"]
    assert flight["state"] in ("queued", "flying") and flight["source"] == "builtin"
    assert flight["purpose"] == "deck inspection" and flight["plan_id"] == plan_id
    assert job["kind"] == "fly" and job["params"]["flight_id"] == flight["id"]
    done = wait_for_job(client, job["id"], headers["crew"])
    assert done["state"] == "succeeded", done
    assert done["result"]["state"] == "flown" and done["result"]["completed"] is True

    got = client.get(f"/api/flights/{flight['id']}", headers=headers["regulator"]).json()
    assert got["state"] == "flown" and got["job_id"] == job["id"]
    summary = got["summary"]
    assert summary["photos"] == 30 and summary["completed"] is True
    assert 200 < summary["distance_m"] < 2000 and 10 < summary["max_alt_rel_m"] < 120
    # the built-in vehicle's clock starts five minutes into the approved window
    began = datetime.fromisoformat(got["started_at"])
    assert window_start + timedelta(minutes=4) < began < window_start + timedelta(minutes=6)
    conformance = got["conformance"]
    assert conformance["schema"] == "skyledger.conformance" and conformance["rules"] == "eu-open"
    assert conformance["window"][0].startswith("2026-12-08T09:00")
    assert got["conforms"] is conformance["conforms"] is True
    assert (
        client.get(f"/api/flights/{flight['id']}/conformance", headers=headers["crew"]).json()
        == conformance
    )

    track = client.get(f"/api/flights/{flight['id']}/track", headers=headers["regulator"])
    assert track.status_code == 200 and track.headers["content-type"].startswith("text/csv")
    from mission.track import read_track

    assert len(read_track(track.content, "t.csv").photos) == 30
    log = client.get(f"/api/flights/{flight['id']}/log", headers=headers["admin"])
    assert log.status_code == 200 and len(log.content) > 1000

    public = client.get(f"/api/flights/{flight['id']}").json()
    assert set(public) == PUBLIC_KEYS and public["conforms"] is True
    assert "reason" not in public["summary"] and public["summary"]["photos"] == 30
    for what in ("track", "log", "conformance"):
        assert client.get(f"/api/flights/{flight['id']}/{what}").status_code == 401


def test_flying_needs_an_approved_plan_and_a_crew(client, headers, deck, monkeypatch):
    requested = add_plan(client, deck, approval="requested")
    refused = add_plan(client, deck, approval="rejected")
    for plan_id in (requested, refused):
        answer = client.post(
            "/api/flights", headers=headers["crew"], json={"plan_id": plan_id, "purpose": "x"}
        )
        assert answer.status_code == 409
        assert answer.json()["detail"] == (
            f"plan {plan_id} has no approval; ask an admin to approve it"
        )
    approved = add_plan(client, deck)
    body = {"plan_id": approved, "purpose": "deck"}
    assert client.post("/api/flights", json=body).status_code == 401
    assert client.post("/api/flights", headers=headers["regulator"], json=body).status_code == 403
    missing = client.post("/api/flights", headers=headers["crew"], json=body | {"plan_id": 999})
    assert missing.status_code == 404 and missing.json()["detail"] == "plan 999 does not exist"
    for bad, field in (
        ({"vehicle": "drone"}, "vehicle"),
        ({"purpose": "   "}, "purpose"),
        ({"plan_id": 0}, "plan_id"),
        ({"colour": "red"}, "colour"),
        ({"purpose": "deck\x00"}, "purpose"),
        ({"purpose": "two\nlines"}, "purpose"),
    ):
        answer = client.post("/api/flights", headers=headers["admin"], json=body | bad)
        assert answer.status_code == 422 and field in answer.json()["detail"], answer.text
    import sim.sitl

    monkeypatch.setattr(sim.sitl, "find_sitl_binary", lambda explicit=None: None)
    sitl = client.post("/api/flights", headers=headers["crew"], json=body | {"vehicle": "sitl"})
    assert sitl.status_code == 400 and "SKYLEDGER_SITL_BINARY" in sitl.json()["detail"]
    with client.app.state.db.session() as session:
        assert session.query(Flight).count() == 0


def test_the_whole_chain_through_the_service(client, headers):
    """Sample asset, plan, check, approval and decision through their routes, then the flight:
    conformance is held to the approved check's window and rules."""
    from api.demo import school_day

    crew = headers["crew"]
    assets = client.post("/api/assets/sample", headers=crew).json()["items"]
    deck_id = next(a["id"] for a in assets if a["name"] == "bridge-deck")
    plan = client.post("/api/plans", json={"asset_id": deck_id}, headers=crew).json()
    start = school_day(datetime.now(UTC))[0]
    body = {"start": start.isoformat(), "duration_min": 180, "fix": True}
    checked = client.post(f"/api/plans/{plan['id']}/checks", json=body, headers=crew).json()
    plan_id = (checked["fixed_plan"] or plan)["id"]
    check = checked["fixed_check"] or checked["check"]
    assert check["verdict"] == "APPROVED", check
    body = {"plan_id": plan_id, "purpose": "deck inspection"}
    early = client.post("/api/flights", headers=crew, json=body)
    assert early.status_code == 409
    asked = client.post(
        f"/api/plans/{plan_id}/approval-requests", json={"check_id": check["id"]}, headers=crew
    ).json()
    decided = client.post(
        f"/api/approvals/{asked['id']}/decision", json={"approve": True}, headers=headers["admin"]
    )
    assert decided.status_code == 200, decided.text
    answer = client.post("/api/flights", headers=crew, json=body)
    assert answer.status_code == 202, answer.text
    done = wait_for_job(client, answer.json()["job"]["id"], crew)
    assert done["state"] == "succeeded", done
    flight = client.get(f"/api/flights/{done['result']['flight_id']}", headers=crew).json()
    assert flight["asset_id"] == deck_id and flight["state"] == "flown"
    conformance = flight["conformance"]
    assert conformance["check_id"] == check["id"] and conformance["rules"] == check["rules"]
    assert datetime.fromisoformat(conformance["window"][0]) == datetime.fromisoformat(
        check["window_start"]
    )
    assert conformance["outside_window_s"] == 0 and flight["conforms"] is True


# --- uploads ----------------------------------------------------------------------------------


def test_an_uploaded_track_is_stored_and_compared_with_its_plan(client, headers, deck):
    plan_id = add_plan(client, deck)
    answer = upload(
        client, headers["crew"], "deck.csv", deck["csv"], "text/csv", plan_id=plan_id,
        purpose="deck, flown by hand",
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    flight = answer.json()["flight"]
    assert answer.json()["job"] is None
    assert flight["source"] == "upload" and flight["state"] == "flown"
    assert flight["track_sha256"] == hashlib.sha256(deck["csv"]).hexdigest()
    assert flight["tlog_sha256"] is None and flight["summary"]["photos"] == 30
    assert flight["conformance"]["conforms"] is True and flight["conformance"]["window"] is None
    track = client.get(f"/api/flights/{flight['id']}/track", headers=headers["crew"])
    assert track.content == deck["csv"]

    answer = upload(client, headers["admin"], "deck.tlog", deck["tlog"], purpose="log only")
    assert answer.status_code == 201, answer.text
    flight = answer.json()["flight"]
    assert flight["plan_id"] is None and flight["conformance"] is None
    assert flight["tlog_sha256"] == hashlib.sha256(deck["tlog"]).hexdigest()
    assert flight["track_sha256"] not in (None, flight["tlog_sha256"])
    log = client.get(f"/api/flights/{flight['id']}/log", headers=headers["regulator"])
    assert log.content == deck["tlog"]
    missing = client.get(f"/api/flights/{flight['id']}/conformance", headers=headers["crew"])
    assert missing.status_code == 404 and "has no plan" in missing.json()["detail"]


def test_a_long_uploaded_track_is_compared_with_its_plan_in_a_job(
    client, headers, deck, monkeypatch
):
    import api.routes.flights as flights_routes

    monkeypatch.setattr(flights_routes, "SYNC_CONFORMANCE_SAMPLES", 100)
    plan_id = add_plan(client, deck)
    answer = upload(client, headers["crew"], "deck.csv", deck["csv"], plan_id=plan_id)
    assert answer.status_code == 202, answer.text
    flight, job = answer.json()["flight"], answer.json()["job"]
    assert job["kind"] == "conformance" and flight["job_id"] == job["id"]
    done = wait_for_job(client, job["id"], headers["crew"])
    assert done["state"] == "succeeded" and done["result"]["conforms"] is True
    report = client.get(f"/api/flights/{flight['id']}/conformance", headers=headers["crew"])
    assert report.status_code == 200 and report.json()["conforms"] is True


@pytest.mark.parametrize(
    ("name", "data", "content_type", "fields", "status", "message"),
    [
        ("bad.csv", b"time,lon\nyesterday,east\n", "text/csv", {}, 400, "bad.csv"),
        ("bad.tlog", b"\x00" * 300, "application/octet-stream", {}, 400, "bad.tlog"),
        ("track.txt", b"x", "text/plain", {}, 415, ".csv, .tlog or .bin"),
        ("track.csv", b"x", "image/png", {}, 415, "image/png"),
        ("../../etc/track.csv", b"x", "text/csv", {}, 400, "names a path"),
        ("..\\logs\\track.csv", b"x", "text/csv", {}, 400, "names a path"),
        ("deck.csv", None, "text/csv", {"plan_id": "999"}, 404, "plan 999 does not exist"),
        ("deck.csv", None, "text/csv", {"plan_id": "seven"}, 422, "plan_id"),
        ("deck.csv", None, "text/csv", {"public": "maybe"}, 422, "public"),
        ("deck.csv", None, "text/csv", {"purpose": "x\x00y"}, 422, "purpose"),
        ("", None, "text/csv", {}, 422, "file"),
    ],
)
def test_a_bad_flight_log_is_refused_and_nothing_is_kept(
    client, headers, deck, name, data, content_type, fields, status, message
):
    before = stored_files(client)
    payload = deck["csv"] if data is None else data
    answer = upload(client, headers["crew"], name, payload, content_type, **fields)
    assert answer.status_code == status, answer.text
    detail = answer.json()["detail"]
    assert message in detail and "\n" not in detail
    assert stored_files(client) == before
    with client.app.state.db.session() as session:
        assert session.query(Flight).count() == 0


def test_an_upload_without_a_file_or_in_the_wrong_encoding_is_refused(client, headers):
    no_file = client.post("/api/flights/upload", headers=headers["crew"], data={"purpose": "x"})
    assert no_file.status_code in (415, 422), no_file.text
    form = client.post(
        "/api/flights/upload",
        headers=headers["crew"],
        files={"other": ("a.csv", b"x", "text/csv")},
    )
    assert form.status_code == 422 and "file" in form.json()["detail"]
    as_json = client.post("/api/flights/upload", headers=headers["crew"], json={"file": "x"})
    assert as_json.status_code == 415 and "multipart/form-data" in as_json.json()["detail"]


# --- who sees what ----------------------------------------------------------------------------


@pytest.fixture
def three_flights(client, headers, deck) -> Iterator[list[int]]:
    """Uploaded flights: public of a public asset, public of a private asset, private."""
    ids = []
    for purpose, asset_public, public in (
        ("bridge deck survey", True, True),
        ("secret asset survey", False, True),
        ("private test flight", True, False),
    ):
        plan_id = add_plan(client, deck, asset_public=asset_public)
        answer = upload(
            client, headers["crew"], "deck.csv", deck["csv"], plan_id=plan_id, purpose=purpose,
            public=str(public).lower(),
        )  # fmt: skip
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["flight"]["id"])
    yield ids


def test_the_public_sees_public_flights_and_public_fields_only(client, headers, three_flights):
    shown, hidden_asset, private = three_flights
    listed = client.get("/api/flights").json()
    assert [f["id"] for f in listed["items"]] == [hidden_asset, shown] and listed["total"] == 2
    assert all(set(f) == PUBLIC_KEYS for f in listed["items"])
    assert listed["items"][0]["asset_id"] is None and listed["items"][1]["asset_id"] is not None
    gone = client.get(f"/api/flights/{private}")
    assert gone.status_code == 404 and gone.json()["detail"] == f"flight {private} does not exist"
    staff = client.get("/api/flights", headers=headers["regulator"]).json()
    assert [f["id"] for f in staff["items"]] == [private, hidden_asset, shown]
    assert staff["items"][0]["public"] is False and staff["items"][0]["created_by"]
    assert staff["items"][1]["asset_id"] is not None
    one = client.get(f"/api/flights/{private}", headers=headers["regulator"]).json()
    assert one["conformance"]["conforms"] is True and one["plan_id"]


def test_flights_are_filtered_by_time_purpose_and_asset(client, headers, three_flights):
    shown, _hidden_asset, private = three_flights
    crew = headers["crew"]

    def ids(query: str, who: dict[str, str] = crew) -> list[int]:
        answer = client.get(f"/api/flights?{query}", headers=who)
        assert answer.status_code == 200, answer.text
        return [f["id"] for f in answer.json()["items"]]

    assert ids("purpose=SURVEY") == [three_flights[1], shown]
    assert ids("purpose=100%25") == []
    for bad in ("purpose=%00", "purpose=a%0Ab"):
        answer = client.get(f"/api/flights?{bad}")
        assert answer.status_code == 422 and "purpose" in answer.json()["detail"]
    assert client.get("/api/defects?class=%00").status_code == 422
    assert client.get("/api/jobs?kind=%00", headers=crew).status_code == 422
    started = client.get(f"/api/flights/{shown}", headers=crew).json()["started_at"]
    assert len(ids(f"since={started.replace('+00:00', 'Z')}")) == 3
    assert ids("until=2000-01-01T00:00Z") == []
    asset = client.get(f"/api/flights/{private}", headers=crew).json()["asset_id"]
    assert ids(f"asset_id={asset}") == [private]
    assert ids(f"asset_id={asset}", {}) == []
    assert ids("limit=1&offset=1") == [three_flights[1]]
    naive = client.get("/api/flights?since=2026-01-01T00:00:00")
    assert naive.status_code == 422 and "since" in naive.json()["detail"]
    assert client.get("/api/flights?limit=0").status_code == 422
    assert client.get("/api/flights/0").status_code == 422


def test_list_totals_follow_new_flights(client, headers, deck):
    """Totals are reused for a moment, but a flight made here shows at once; one made by
    another worker (a row written behind the app's back) once the reuse has expired."""
    import api.routes.flights as flights_routes

    assert client.get("/api/flights").json()["total"] == 0
    made = upload(client, headers["crew"], "deck.csv", deck["csv"], purpose="first")
    assert made.status_code == 201
    assert client.get("/api/flights").json()["total"] == 1
    with client.app.state.db.session() as session:
        crew = session.query(User).filter_by(name="crew-1").one()
        session.add(
            Flight(source="upload", state="flown", purpose="elsewhere", summary={},
                   created_by=crew.id)
        )  # fmt: skip
    assert client.get("/api/flights").json()["total"] == 1  # the public's page is kept
    listed = client.get("/api/flights", headers=headers["regulator"]).json()
    assert listed["total"] == 2 and len(listed["items"]) == 2  # counted afresh for staff
    for cache in flights_routes._recent(client.app):
        cache.expire_all()  # as RECENT_TTL_S passing does
    answer = client.get("/api/flights")
    assert answer.json()["total"] == 2 and len(answer.json()["items"]) == 2
    assert answer.headers["cache-control"] == "public, max-age=2"


@pytest.mark.sitl
@pytest.mark.slow
def test_an_approved_plan_is_flown_on_sitl_through_the_service(client, headers, deck, db_url):
    """The same flight job on real ArduPilot SITL (once, on SQLite): track, log, conformance."""
    from sim.sitl import find_sitl_binary

    if find_sitl_binary() is None:
        pytest.skip(
            "no ArduPilot SITL binary (set SKYLEDGER_SITL_BINARY or put arducopter on PATH)"
        )
    if db_url is not None:
        pytest.skip("SITL is flown once, on SQLite (the job's storage is what PostgreSQL tests)")
    plan_id = add_plan(client, deck)
    answer = client.post(
        "/api/flights",
        headers=headers["crew"],
        json={"plan_id": plan_id, "vehicle": "sitl", "purpose": "deck on SITL"},
    )
    assert answer.status_code == 202, answer.text
    flight, job = answer.json()["flight"], answer.json()["job"]
    assert flight["source"] == "sitl"
    done = wait_for_job(client, job["id"], headers["crew"], timeout_s=600)
    assert done["state"] == "succeeded", done
    got = client.get(f"/api/flights/{flight['id']}", headers=headers["regulator"]).json()
    assert got["state"] == "flown" and got["summary"]["completed"] is True
    assert got["summary"]["photos"] >= 28  # ArduPilot's distance trigger, not the paper flight
    assert got["conformance"]["schema"] == "skyledger.conformance"
    log = client.get(f"/api/flights/{flight['id']}/log", headers=headers["admin"])
    assert log.status_code == 200 and len(log.content) > 10_000
